"""A real 2-worker ``--strategy multi-worker`` training: two processes on 127.0.0.1, each told
its place by ``TF_CONFIG``. Both finish with identical weights, equal (bitwise) to ``mirrored``
on 2 devices in one process, and only the chief writes a run directory.

Each worker runs on one CPU device: the workers' environment leaves out
``GANTOOL_CPU_DEVICES`` (set to 2 by conftest.py for the in-process tests), so 2 workers x 1
device = 2 replicas, the same as the in-process ``mirrored`` run on the 2 logical devices.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gantool.config import TrainConfig
from gantool.distribute import CPU_DEVICES_ENV
from gantool.training import train

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 90
SETTINGS = dict(arch="mlp", dataset="ring", g_hidden=[16], d_hidden=[16], latent_dim=4,
                batch_size=8, steps_per_epoch=5, epochs=2, sample_every=1000, tensorboard=False,
                seed=11)

# A worker: trains with gantool.training.train and prints a digest of its final in-memory
# weights (the non-chief's outputs go to a temporary directory that train() deletes).
WORKER = """
import hashlib, json, sys
import numpy as np
import tensorflow as tf
from gantool.config import TrainConfig
from gantool.training import loop

built = []
build_gan = loop.build_gan

def capture(*args, **kwargs):
    built.append(build_gan(*args, **kwargs))
    return built[-1]

loop.build_gan = capture
result = loop.train(TrainConfig.create(**json.loads(sys.argv[1])), progress=False)
gan = built[0]
digest = hashlib.sha256()
for variable in gan.generator.weights + gan.discriminator.weights:
    digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
print("RESULT " + json.dumps({
    "digest": digest.hexdigest(), "steps": result.steps_done,
    "replicas": gan.distribute_strategy.num_replicas_in_sync,
    "local_devices": list(gan.distribute_strategy.extended.worker_devices),
    "cpu_split": tf.config.get_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0]) is not None}))
"""


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def checkpoint_variables(run_dir):
    prefix = tf.train.latest_checkpoint(str(Path(run_dir) / "checkpoints"))
    reader = tf.train.load_checkpoint(prefix)
    return prefix, {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
                    if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


def test_two_workers_train_identically_and_only_the_chief_writes(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    outs = [tmp_path / "chief", tmp_path / "worker1"]
    processes = []
    for index, out in enumerate(outs):
        env = {k: v for k, v in os.environ.items() if k != CPU_DEVICES_ENV}
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                    "index": index}})
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        env["TMPDIR"] = str(tmp_path / f"tmp{index}")  # to see the non-chief clean up
        Path(env["TMPDIR"]).mkdir()
        settings = {**SETTINGS, "strategy": "multi-worker", "out": str(out)}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(settings)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, err[-3000:]
            [line] = [x for x in out.splitlines() if x.startswith("RESULT ")]
            results.append(json.loads(line[len("RESULT "):]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    chief, worker = results
    assert chief["replicas"] == worker["replicas"] == 2
    assert len(chief["local_devices"]) == len(worker["local_devices"]) == 1
    assert not chief["cpu_split"] and not worker["cpu_split"]
    assert chief["steps"] == worker["steps"] == SETTINGS["epochs"] * SETTINGS["steps_per_epoch"]
    assert chief["digest"] == worker["digest"]
    # Only the chief wrote a run directory; the other worker left nothing behind.
    assert (outs[0] / "config.json").is_file() and (outs[0] / "generator.keras").is_file()
    assert len((outs[0] / "metrics.csv").read_text().splitlines()) == SETTINGS["epochs"] + 1
    assert not outs[1].exists()
    assert not list((tmp_path / "tmp1").glob("gantool-worker-*"))

    # The same training on 2 devices of one process gives bitwise the same final state: the
    # workers shard each global batch as mirrored splits it, and fold in the same replica ids.
    mirrored = tmp_path / "mirrored"
    train(TrainConfig.create(**SETTINGS, strategy="mirrored", out=str(mirrored)), progress=False)
    chief_prefix, chief_values = checkpoint_variables(outs[0])
    mirrored_prefix, mirrored_values = checkpoint_variables(mirrored)
    assert Path(chief_prefix).name == Path(mirrored_prefix).name
    assert sorted(chief_values) == sorted(mirrored_values)
    for name, value in chief_values.items():
        assert np.asarray(value).tobytes() == np.asarray(mirrored_values[name]).tobytes(), name
    assert (outs[0] / "steps.csv").read_text() == (mirrored / "steps.csv").read_text()


@pytest.fixture(autouse=True)
def _no_tf_config(monkeypatch):
    """The in-process mirrored run must not see a TF_CONFIG (it would think it is a worker)."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
