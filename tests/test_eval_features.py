"""``gantool eval --features PATH.keras[:LAYER]``: FD, KID and precision/recall in the feature
space of a Keras classifier (:mod:`gantool.evaluation.classifier`), and the scripts built on it
(experiments/time_to_quality.py, experiments/train_classifier.py).

The classifiers are tiny untrained Keras models built here; the run and the digits come from
test_evaluation's fixtures. Nothing here needs ../shared.
"""

import datetime
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gantool import evaluation
from gantool.evaluation import EvalOptions
from gantool.evaluation import classifier as classifier_features
from gantool.metrics import classifier as network
from tests.test_evaluation import count_extractions, digits, image_run  # noqa: F401 - fixtures
from tests.tiny_runs import cli

ROOT = Path(__file__).resolve().parents[1]
N = 16  # every image of test_evaluation's digits


def _classifier(path, shape=(28, 28, 1), seed=0):
    """Save a tiny untrained CNN (layers conv, flat, feat (8-d), out) to ``path``."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape), keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv"),
        keras.layers.Flatten(name="flat"), keras.layers.Dense(8, activation="relu", name="feat"),
        keras.layers.Dense(3, activation="softmax", name="out")])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def grey_classifier(tmp_path_factory):
    return _classifier(tmp_path_factory.mktemp("clf") / "grey.keras")


@pytest.fixture(scope="module")
def sample_files(digits, tmp_path_factory):  # noqa: F811 - the imported fixture
    """The reference digits themselves, and the same digits darkened (x / 2)."""
    folder = tmp_path_factory.mktemp("samples")
    images = np.load(digits)["x_train"]
    np.save(folder / "same.npy", images)
    np.save(folder / "shifted.npy", (images // 2).astype(np.uint8))
    return folder / "same.npy", folder / "shifted.npy"


def _options(features, cache, **extra):
    return EvalOptions(n=N, progress=False, cache_dir=cache, features=str(features), **extra)


def test_identical_samples_give_zero_fd_and_a_shift_a_larger_one(digits, sample_files,  # noqa: F811
                                                                  grey_classifier, tmp_path):
    same, shifted = sample_files
    options = _options(grey_classifier, tmp_path / "cache")
    equal = evaluation.evaluate_samples(same, f"npz:{digits}", options)
    moved = evaluation.evaluate_samples(shifted, f"npz:{digits}", options)
    assert equal["fd_classifier"] == pytest.approx(0.0, abs=1e-6)
    assert equal["precision_classifier"] == 1.0 and equal["recall_classifier"] == 1.0
    assert moved["fd_classifier"] > 1e-3 + equal["fd_classifier"]
    assert moved["kid_classifier_mean"] > equal["kid_classifier_mean"]
    # never confused with Inception FID: other names, a features field, a header line
    assert not {"fid", "kid_mean", "precision", "recall"} & set(moved)
    assert moved["features"]["layer"] == "feat" and moved["features"]["dim"] == 8
    assert moved["features"]["input_range"] == [0.0, 1.0]
    table = evaluation.format_table(moved)
    assert "features: classifier grey.keras, layer 'feat' (8-d)" in table
    assert "FD (classifier)" in table and "FID" not in table.replace("not Inception FID", "")


def test_a_run_with_a_named_layer_and_the_cli(image_run, grey_classifier, tmp_path, capsys,  # noqa: F811
                                              monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path))
    code = cli(["eval", image_run, "--features", f"{grey_classifier}:conv", "--n", N, "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "layer 'conv' (676-d)" in out and "FD (classifier)" in out
    saved = json.loads((image_run / "eval.json").read_text())
    assert saved["features"]["layer"] == "conv" and saved["features"]["dim"] == 13 * 13 * 4
    assert saved["fd_classifier"] >= 0 and "fid" not in saved and saved["n_fake"] == N


def test_bad_features_are_usage_errors(image_run, grey_classifier, tmp_path, capsys):  # noqa: F811
    code = cli(["eval", image_run, "--features", f"{grey_classifier}:nope", "--n", N])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "no layer 'nope'" in err and "conv, flat, feat, out" in err
    code = cli(["eval", image_run, "--features", tmp_path / "missing.keras", "--n", N])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "missing.keras: no such file" in err and len(err.splitlines()) == 1
    (tmp_path / "junk.keras").write_text("not a model")
    assert cli(["eval", image_run, "--features", tmp_path / "junk.keras", "--n", N]) == 2
    assert "cannot load it as a Keras model" in capsys.readouterr().err


def test_cache_is_reused_and_invalidated_by_a_changed_file(digits, sample_files, tmp_path,  # noqa: F811
                                                           count_extractions):  # noqa: F811
    path = _classifier(tmp_path / "model.keras", seed=1)
    cache = tmp_path / "cache"
    first = evaluation.evaluate_samples(sample_files[1], f"npz:{digits}", _options(path, cache))
    assert [d.split()[0] for d in count_extractions] == ["real", "sample"]
    count_extractions.clear()
    second = evaluation.evaluate_samples(sample_files[1], f"npz:{digits}", _options(path, cache))
    assert count_extractions == ["sample features"] and second["real_stats_cached"]
    assert second["fd_classifier"] == pytest.approx(first["fd_classifier"], rel=1e-6)
    count_extractions.clear()
    evaluation.evaluate_samples(sample_files[1], f"npz:{digits}",
                                _options(f"{path}:flat", cache))  # another layer: a miss
    assert len(count_extractions) == 2
    count_extractions.clear()
    _classifier(path, seed=2)  # new weights in the same file
    third = evaluation.evaluate_samples(sample_files[1], f"npz:{digits}", _options(path, cache))
    assert len(count_extractions) == 2 and not third["real_stats_cached"]
    assert third["features"]["sha256"] != first["features"]["sha256"]
    assert len(list(cache.glob("*.npz"))) == 3


def test_inputs_are_resized_and_converted_for_the_classifier(digits, sample_files, tmp_path):  # noqa: F811
    grey = np.load(digits)["x_train"][..., None]
    x = network.preprocess(grey, (32, 32, 3))
    assert x.shape == (N, 32, 32, 3) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    rgb = np.repeat(grey, 3, axis=-1)
    np.testing.assert_allclose(network.preprocess(rgb, (28, 28, 1)), grey / 255.0, atol=1e-5)
    rgb_model = _classifier(tmp_path / "rgb.keras", shape=(32, 32, 3))
    result = evaluation.evaluate_samples(sample_files[0], f"npz:{digits}",
                                         _options(rgb_model, tmp_path / "cache"))
    assert result["features"]["input"] == [32, 32, 3]
    assert result["fd_classifier"] == pytest.approx(0.0, abs=1e-6)


def test_spec_parsing():
    assert classifier_features.parse_spec("a/b.keras:dense_1") == (Path("a/b.keras"), "dense_1")
    assert classifier_features.parse_spec("a/b.keras") == (Path("a/b.keras"), None)
    assert classifier_features.parse_spec("dir:x/b.keras") == (Path("dir:x/b.keras"), None)


def test_time_to_quality_table_pools_seeds(experiment_script):
    """The aggregation path of the smoke test below, with several seeds, without training."""
    ttq = experiment_script("time_to_quality")
    scores = {"fd_classifier": 1.0, "kid_classifier_mean": 0.002, "precision_classifier": 0.5,
              "recall_classifier": None}
    records = [{"recipe": "r", "budget_min": "2", "seed": s, "epochs": 3 + s, "steps": 30,
                "train_seconds": 60.0, "samples": f"samples/r-{s}.png", "kind": "classifier",
                "scores": {**scores, "fd_classifier": 1.0 + s}} for s in (0, 1)]
    (row,) = ttq.table_rows(records)
    assert row[:3] == ["r", "2", 2] and row[3] == "3.50 ± 0.71" and row[5] == "60.0 ± 0"
    assert row[6].startswith("1.50 ±") and row[7] == "2.00 ± 0" and row[9] == "-"
    assert row[10] == "samples/r-0.png samples/r-1.png"
    assert ttq.recipe("fast=--arch mlp --lr 1e-3") == ("fast", ["--arch", "mlp", "--lr", "1e-3"])
    named = ttq.recipe("base=--config examples/mnist_dcgan.toml")  # a named recipe ending .toml
    assert named == ("base", ["--config", "examples/mnist_dcgan.toml"])
    with pytest.raises(SystemExit, match="no such file"):
        ttq.recipe("examples/no_such_recipe.toml")


def test_time_to_quality_dry_run_end_to_end(digits, grey_classifier, tmp_path):  # noqa: F811
    """One recipe, one budget, one seed: train (--dry-run), eval --features, the table."""
    out = tmp_path / "ttq"
    recipe = "mlp=--arch mlp --g-hidden 16 --d-hidden 16 --latent-dim 8 --batch-size 8"
    done = subprocess.run(
        [sys.executable, ROOT / "experiments" / "time_to_quality.py", recipe, "--dataset",
         f"npz:{digits}", "--budgets", "1", "--budget-flag", "epochs", "--features",
         grey_classifier, "--out", out, "--dry-run"], capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("- command:") for line in lines)
    (date,) = [line.split(": ", 1)[1] for line in lines if line.startswith("- date:")]
    (config,) = (out / "runs").glob("*/config.json")
    # the header (load average, date) is taken before training, not when the table is printed
    assert datetime.datetime.fromisoformat(date).timestamp() <= config.stat().st_mtime
    assert any("8 generated vs 8 real images" in line and "classifier grey.keras" in line
               for line in lines)
    (row,) = [line for line in lines if line.startswith("| mlp ")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "1" and int(cells[4]) >= 1 and float(cells[6]) >= 0  # epochs, steps, FD
    saved = json.loads((out / "time_to_quality.json").read_text())
    assert saved["runs"][0]["scores"]["fd_classifier"] >= 0
    assert (out / cells[-1]).is_file() and (out / "time_to_quality.md").is_file()
