"""``gantool export``: each format loads in a fresh process with plain TensorFlow (no gantool)
and reproduces gantool's samples for the same latents, with the EMA weights."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gantool import rundir, sampling
from tests.tiny_runs import cli, image_run

LOADER = r"""
import json, sys
import numpy as np
import tensorflow as tf
import keras

assert "gantool" not in sys.modules
root = sys.argv[1]
z = np.load(root + "/z.npy")
results = {}
model = keras.models.load_model(root + "/g.keras")
results["keras"] = np.asarray(model(z, training=False))
loaded = tf.saved_model.load(root + "/sm")
results["savedmodel"] = loaded.signatures["generate"](z=tf.constant(z))["images"].numpy()
runner = tf.lite.Interpreter(model_path=root + "/g.tflite").get_signature_runner("generate")
results["tflite"] = runner(z=z)["images"]
np.savez(root + "/results.npz", **results)
print("gantool" in sys.modules)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    run_dir = image_run(root)
    for fmt, name in (("keras", "g.keras"), ("savedmodel", "sm"), ("tflite", "g.tflite")):
        assert cli(["export", run_dir, "--format", fmt, "--out", root / name]) == 0
    return run_dir, root


def test_every_format_reproduces_gantools_samples_in_a_fresh_process(exported):
    run_dir, root = exported
    z = sampling.seed_latents(range(5), 8)
    np.save(root / "z.npy", z)
    result = subprocess.run([sys.executable, "-c", LOADER, str(root)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("False")  # plain TensorFlow: gantool never imported
    expected = sampling.generate(sampling.load_generator(rundir.Run.open(run_dir)), z)
    live = sampling.generate(sampling.load_generator(rundir.Run.open(run_dir), ema=False), z)
    assert not np.allclose(expected, live, atol=1e-5)  # the EMA weights are the exported ones
    results = np.load(root / "results.npz")
    for fmt, tolerance in (("keras", 1e-5), ("savedmodel", 1e-5), ("tflite", 1e-3)):
        assert results[fmt].shape == expected.shape == (5, 8, 8, 1), fmt
        np.testing.assert_allclose(results[fmt], expected, atol=tolerance, err_msg=fmt)


def test_the_metadata_names_latents_range_and_shape(exported):
    _, root = exported
    for name, fmt in (("g.keras", "keras"), ("sm", "savedmodel"), ("g.tflite", "tflite")):
        meta = json.loads((root / f"{name}.json").read_text())
        assert meta["format"] == fmt and meta["signature"] == "generate"
        assert meta["latent_dim"] == 8 and meta["latent_dist"] == "normal"
        assert meta["value_range"] == [-1.0, 1.0] and meta["data_shape"] == [8, 8, 1]
        assert meta["inputs"]["z"]["shape"] == [None, 8] and meta["ema_weights"] is True
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]  # no temporary files


def test_default_location_and_bad_outputs(exported, tmp_path, capsys):
    run_dir, _ = exported
    assert cli(["export", run_dir, "--format", "keras"]) == 0
    assert (run_dir / "export" / "generator.keras").is_file()
    assert (run_dir / "export" / "generator.keras.json").is_file()
    assert cli(["export", run_dir, "--format", "keras", "--out", tmp_path / "g.h5"]) == 2
    assert cli(["export", run_dir, "--format", "savedmodel", "--out", tmp_path]) == 2
    assert cli(["export", run_dir, "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert err.count("Error:") == 3 and "Traceback" not in err
