"""Choosing a ``tf.distribute`` strategy, and which worker may write outputs."""

import json
import os

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


def is_chief():
    """True unless $TF_CONFIG names this process as a non-chief worker.

    With a ``chief`` task in the cluster only it is chief; otherwise worker 0 is.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    config = json.loads(raw)
    task = config.get("task", {})
    task_type, index = task.get("type"), int(task.get("index", 0))
    if task_type in (None, "chief"):
        return True
    if "chief" in config.get("cluster", {}):
        return False
    return task_type == "worker" and index == 0
