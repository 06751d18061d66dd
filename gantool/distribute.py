"""Choosing a ``tf.distribute`` strategy, and which worker may write outputs."""

import json
import os
import sys

from gantool.errors import UsageError

STRATEGIES = ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")
CPU_DEVICES_ENV = "GANTOOL_CPU_DEVICES"
_MIRRORED = {}  # device names -> the process's MirroredStrategy over them


def split_cpu(n):
    """Expose the CPU as ``n`` logical devices so ``mirrored`` runs ``n`` replicas on one machine.

    Must run before TensorFlow initialises its devices; later calls with the same ``n`` are no-ops.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:
        raise RuntimeError(
            f"cannot split the CPU into {n} devices after TensorFlow has started ({e}); "
            f"set {CPU_DEVICES_ENV}={n} before starting"
        ) from None


def make_strategy(name="auto", cpu_devices=None, tpu=None):
    """Return the ``tf.distribute.Strategy`` called ``name`` (one of :data:`STRATEGIES`).

    ``auto`` picks ``mirrored`` on several GPUs, ``one-device`` on one GPU and the default
    strategy otherwise. ``cpu_devices`` (or $GANTOOL_CPU_DEVICES) splits the CPU into that
    many logical devices first, so ``mirrored`` has that many replicas without a GPU.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    cpu_devices = cpu_devices or int(os.environ.get(CPU_DEVICES_ENV, "0") or 0)
    if name == "multi-worker":
        # The collective ops must be configured before any device is used.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_devices and cpu_devices > 1:
        split_cpu(cpu_devices)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "one-device" if gpus else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        # One strategy per device set and process: several MirroredStrategy objects alive at
        # once (repeated train() calls, notebooks, tests) reuse collective instance keys and
        # their all-reduces can collide ("Shape mismatch in the collective instance").
        key = tuple(devices)
        if key not in _MIRRORED:
            _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
        return _MIRRORED[key]
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


SINGLE_WORKER = ("auto", "default", "one-device", "mirrored")
TASK_TYPES = ("chief", "worker", "ps", "evaluator")


def tf_config():
    """$TF_CONFIG checked: None when unset, else ``(cluster, task_type, index)``. Anything
    malformed (not JSON, not an object, no task, an unknown task type, an index that is not a
    whole number or not in the cluster) is a :class:`UsageError` naming what is wrong."""
    raw = os.environ.get("TF_CONFIG")
    if not raw or not raw.strip():
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise UsageError(f"TF_CONFIG is not JSON ({e})") from None
    if not isinstance(config, dict):
        raise UsageError(f"TF_CONFIG must be a JSON object with cluster and task, got "
                         f"{type(config).__name__}")
    cluster, task = config.get("cluster", {}), config.get("task")
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise UsageError(f"TF_CONFIG cluster must map task types to address lists, got "
                         f"{cluster!r}")
    if not isinstance(task, dict) or "type" not in task:
        raise UsageError(f"TF_CONFIG has no task (e.g. \"task\": {{\"type\": \"worker\", "
                         f"\"index\": 0}}), got {task!r}")
    task_type, index = task["type"], task.get("index", 0)
    if task_type not in TASK_TYPES:
        raise UsageError(f"TF_CONFIG task type {task_type!r} is not one of "
                         f"{', '.join(TASK_TYPES)}")
    if isinstance(index, bool) or not isinstance(index, int):
        raise UsageError(f"TF_CONFIG task index {index!r} is not a whole number")
    if cluster and not 0 <= index < len(cluster.get(task_type, [])):
        raise UsageError(f"TF_CONFIG task index {index} is out of range: the cluster has "
                         f"{len(cluster.get(task_type, []))} {task_type} task(s)")
    return cluster, task_type, index


def is_chief(strategy="multi-worker"):
    """True unless $TF_CONFIG names this process as a non-chief worker of a multi-worker run.

    With a ``chief`` task in the cluster only it is chief; otherwise worker 0 is. Under a
    single-worker ``strategy`` TF_CONFIG is ignored with a warning: this process writes the run.
    """
    if strategy in SINGLE_WORKER:
        if os.environ.get("TF_CONFIG", "").strip():
            print(f"warning: TF_CONFIG is set but ignored with --strategy {strategy} (one "
                  "worker); use --strategy multi-worker to train on its cluster", file=sys.stderr)
        return True
    parsed = tf_config()
    if parsed is None:
        return True
    cluster, task_type, index = parsed
    if task_type == "chief":
        return True
    if "chief" in cluster:
        return False
    return task_type == "worker" and index == 0
