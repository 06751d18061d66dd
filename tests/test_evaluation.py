"""Tests of ``gantool.evaluation``: eval.json, the real-features cache, sample scoring, the
toy mode metrics, metric-name errors, the printed table and the training-time
:class:`~gantool.training.evaluator.Evaluator` (which scores the EMA weights with ``--ema``).

Tests that run the FID Inception network use ../shared/data/fid_inception/weights.npz and
skip where it is absent; they use n = 8 tiny images (the network does ~10 images/s here).
The toy tests and the cache tests with a stand-in feature extractor always run.
"""

import csv
import dataclasses
import json
import math

import numpy as np
import pytest

from gantool import evaluation, rundir
from gantool.config import TrainConfig
from gantool.errors import UsageError
from gantool.evaluation import EvalOptions, Reference, extraction
from gantool.metrics import WeightsUnavailable
from gantool.rundir import Run
from gantool.sampling import SamplingGenerator, load_generator
from gantool.training import evaluator as evaluator_module
from gantool.training import train
from gantool.training.evaluator import Evaluator
from gantool.training.state import TrainingState

N = 8


def _train(config):
    return train(config, progress=False).run_dir


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """npz of 16 random 28x28 grey digits (like conftest's mnist_npz, module-scoped)."""
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    rng = np.random.default_rng(1)
    np.savez(path, x_train=rng.integers(0, 256, (16, 28, 28), dtype=np.uint8))
    return path


@pytest.fixture(scope="module")
def image_run(digits, tmp_path_factory):
    """A tiny DCGAN run (1 epoch, 2 steps) on ``digits``."""
    out = tmp_path_factory.mktemp("runs") / "dcgan"
    return _train(TrainConfig.create(arch="dcgan", dataset=f"npz:{digits}", epochs=1, batch_size=8,
                              max_examples=16, latent_dim=16, g_filters=8, d_filters=8,
                              grid_size=4, tensorboard=False, out=str(out)))


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """A tiny MLP run (1 epoch of 8 steps) on the ring."""
    out = tmp_path_factory.mktemp("runs") / "ring"
    return _train(TrainConfig.create(arch="mlp", dataset="ring", epochs=1, batch_size=64,
                              max_examples=512, latent_dim=8, g_hidden=[32], d_hidden=[32],
                              tensorboard=False, out=str(out)))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """A real-features cache shared by the tests that do not check cache misses."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def weights(shared_data):
    path = shared_data / "fid_inception" / "weights.npz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture
def count_extractions(monkeypatch):
    """Wraps the feature extractor; returns the list of progress labels of its calls."""
    calls = []
    real = extraction.extract_features

    def counting(images, weights, options, desc):
        calls.append(desc)
        return real(images, weights, options, desc)

    monkeypatch.setattr(extraction, "extract_features", counting)
    return calls


def _finite(result, keys):
    return all(isinstance(result[k], float) and math.isfinite(result[k]) for k in keys)


# --------------------------------------------------------------------------- image runs


def test_evaluate_run_writes_eval_json_and_caches_real_features(image_run, weights, tmp_path,
                                                                count_extractions):
    cache = tmp_path / "cache"
    result = evaluation.evaluate_run(image_run, EvalOptions(
        metrics="auto", n=N, inception_weights=weights, progress=False, cache_dir=cache))
    assert len(count_extractions) == 2 and count_extractions[0].startswith("real")
    assert _finite(result, ("fid", "kid_mean", "kid_std", "precision", "recall", "seconds"))
    assert result["fid"] >= 0 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    assert result["n_fake"] == N and result["n_real"] == N
    assert result["real_dataset"].startswith("npz:") and result["metrics"] == ["fid", "kid", "pr"]
    # npz: sources only have "train": the fallback is recorded and stated
    assert result["real_split"] == "train" and result["requested_split"] == "test"
    assert result["split_fallback"] is True
    assert any("no 'test' split" in note for note in result["notes"])
    assert result["weights"] == str(weights) and not result["real_stats_cached"]
    assert len(list(cache.glob("*.npz"))) == 1

    saved = json.loads((image_run / "eval.json").read_text())
    assert {k: saved[k] for k in result} == result and len(saved["history"]) == 1

    count_extractions.clear()
    # (FID costs ~15 s here: scipy's sqrtm of a 2048 x 2048 matrix; KID is instant)
    second = evaluation.evaluate_run(image_run, EvalOptions(
        metrics="kid", n=N, inception_weights=weights, progress=False, cache_dir=cache, seed=1))
    assert count_extractions == ["generated features"]  # real features came from the cache
    assert second["real_stats_cached"] and second["split_fallback"]
    assert "kid_mean" in second and "fid" not in second and "precision" not in second
    saved = json.loads((image_run / "eval.json").read_text())
    assert saved["seed"] == 1 and "fid" not in saved
    assert [h["seed"] for h in saved["history"]] == [0, 1]
    assert "fid" in saved["history"][0]


def test_evaluate_samples_folder_and_npy(image_run, digits, weights, tmp_path, shared_cache):
    from PIL import Image

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (N, 28, 28), dtype=np.uint8)
    npy = tmp_path / "samples.npy"
    np.save(npy, images)
    folder = tmp_path / "samples"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i}.png")

    options = EvalOptions(metrics="kid,pr", n=N, inception_weights=weights, progress=False,
                          cache_dir=shared_cache)
    from_npy = evaluation.evaluate_samples(npy, f"npz:{digits}", options,
                                           out=tmp_path / "score.json")
    from_folder = evaluation.evaluate_samples(folder, f"npz:{digits}", options)
    for result in (from_npy, from_folder):
        assert result["n_fake"] == N and result["n_real"] == N
        assert result["real_split"] == "train" and result["split_fallback"]
        assert _finite(result, ("kid_mean", "kid_std", "precision", "recall"))
    # the same pixels, read by two loaders, give the same scores
    assert from_folder["kid_mean"] == pytest.approx(from_npy["kid_mean"], rel=1e-4, abs=1e-6)
    assert from_folder["recall"] == from_npy["recall"]
    assert from_folder["real_stats_cached"]
    assert json.loads((tmp_path / "score.json").read_text())["kid_mean"] == from_npy["kid_mean"]

    with pytest.raises(UsageError, match="does not exist"):
        evaluation.evaluate_samples(tmp_path / "nothing", "mnist",
                                    EvalOptions(n=N, inception_weights=weights))


def test_evaluator_fid_of_sampled_generator(image_run, weights, shared_cache, monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(shared_cache))
    run = Run.open(image_run)
    config = run.config.replace(eval_every=2, eval_n=N, inception_weights=str(weights))
    state = TrainingState(steps_per_epoch=2, epochs=3)
    sampler = SamplingGenerator(load_generator(run), None, config)
    callback = Evaluator(state, config, sampler, progress=False)
    callback.on_train_begin()
    assert callback.real.shape == (N, 2048)
    callback.on_epoch_end(0, {})  # epoch 1: not an evaluation epoch
    assert state.epoch_extras == {}
    logs = {}
    callback.on_epoch_end(1, logs)  # epoch 2
    assert set(state.epoch_extras) == {2} and state.epoch_extras[2]["eval_n"] == N
    assert math.isfinite(logs["eval_fid"]) and logs["eval_fid"] >= 0


def test_evaluator_fails_fast_without_weights(image_run, tmp_path):
    config = rundir.read_config(image_run).replace(
        eval_every=1, eval_n=N, inception_weights=str(tmp_path / "missing.npz"))
    callback = Evaluator(TrainingState(steps_per_epoch=2, epochs=1), config, sampler=None)
    with pytest.raises(WeightsUnavailable, match="missing.npz"):
        callback.on_train_begin()


# --------------------------------------------------------------------------- cache (no network)


def test_real_features_cache_keys_and_damage(digits, tmp_path, monkeypatch):
    """With a stand-in extractor: hits, misses on other settings, damaged files recomputed."""
    calls = []

    def fake_extract(images, weights, options, desc):
        calls.append(len(images))
        return np.asarray(images, np.float32).reshape(len(images), -1)[:, :1].repeat(2048, 1)

    monkeypatch.setattr(extraction, "extract_features", fake_extract)
    dummy = tmp_path / "weights.npz"
    dummy.write_bytes(b"not checked here")
    digits_ref = Reference(f"npz:{digits}")
    four = EvalOptions(n=4, inception_weights=dummy, progress=False, cache_dir=tmp_path / "c")
    first, info = evaluation.real_features(digits_ref, four)
    again, info2 = evaluation.real_features(digits_ref, four)
    assert calls == [4] and not info["cache_hit"] and info2["cache_hit"]
    # the npz has no x_test: the default "test" split falls back to train, and says so
    assert info2["real_split"] == "train" and info2["requested_split"] == "test"
    np.testing.assert_array_equal(first, again)
    evaluation.real_features(digits_ref, dataclasses.replace(four, n=5))  # a miss
    evaluation.real_features(Reference(f"npz:{digits}", image_size=32), four)
    assert calls == [4, 5, 4]
    for path in (tmp_path / "c").glob("*.npz"):
        path.write_bytes(b"damaged")
    _, info = evaluation.real_features(digits_ref, four)
    assert calls == [4, 5, 4, 4] and not info["cache_hit"]
    _, info = evaluation.real_features(digits_ref, four)
    assert info["cache_hit"] and calls[-1] == 4 and len(calls) == 4


def test_low_rank_fid_matches_the_sqrtm_formula():
    from gantool.metrics import fid_from_features, frechet_distance
    from gantool.metrics.fid import feature_statistics

    rng = np.random.default_rng(0)
    real = rng.standard_normal((30, 12)) @ rng.standard_normal((12, 12))
    fake = rng.standard_normal((25, 12)) * 1.5 + 0.3
    reference = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    # N >= D: the sqrtm formula; N < D (features padded with zeros): the exact low-rank path
    assert fid_from_features(real, fake) == pytest.approx(reference, rel=1e-9)
    padded = [np.pad(x, ((0, 0), (0, 40))) for x in (real, fake)]
    assert fid_from_features(*padded) == pytest.approx(reference, rel=1e-9)
    assert fid_from_features(padded[0], padded[0]) == pytest.approx(0.0, abs=1e-9)
    singular = [rng.standard_normal((8, 2048)) for _ in range(2)]
    assert math.isfinite(fid_from_features(*singular))


def test_default_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path))
    assert evaluation.default_cache_dir() == tmp_path / "real_stats"


# --------------------------------------------------------------------------- toy runs


def test_mode_metrics_on_ring_run(ring_run):
    result = evaluation.evaluate_run(ring_run, EvalOptions(metrics="auto", n=500, progress=False))
    assert result["metrics"] == ["modes"] and result["num_modes"] == 8
    assert 0 <= result["modes_covered"] <= 8 and isinstance(result["modes_covered"], int)
    assert 0 <= result["high_quality_pct"] <= 100
    assert result["reverse_kl"] is None or 0 <= result["reverse_kl"] <= math.log(8) + 1e-9
    assert result["n_fake"] == 500 and result["weights"] is None
    saved = json.loads((ring_run / "eval.json").read_text())
    assert saved["modes_covered"] == result["modes_covered"] and len(saved["history"]) >= 1
    table = evaluation.format_table(result)
    assert "modes covered" in table and "(500 generated points, ring: 8 modes)" in table

    with pytest.raises(UsageError, match="'fid' needs images.*modes"):
        evaluation.evaluate_run(ring_run, EvalOptions(metrics="fid", n=500))


def test_mode_metrics_of_points_file(tmp_path):
    from gantool.metrics.toy import ring_modes

    points = np.repeat(ring_modes(), 50, axis=0)  # every mode, exactly on its centre
    np.save(tmp_path / "points.npy", points.astype(np.float32))
    result = evaluation.evaluate_samples(tmp_path / "points.npy", "ring",
                                         EvalOptions(metrics="modes", n=400))
    assert result["modes_covered"] == 8 and result["high_quality_pct"] == 100.0
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert "(400 sample points, ring: 8 modes)" in evaluation.format_table(result)


def test_evaluator_mode_metrics(ring_run):
    run = Run.open(ring_run)
    config = run.config.replace(eval_every=5, eval_n=200)
    state = TrainingState(steps_per_epoch=8, epochs=1)
    callback = Evaluator(state, config, SamplingGenerator(load_generator(run), None, config))
    callback.on_train_begin()
    callback.on_epoch_end(0, None)  # the last epoch is always evaluated
    scores = state.epoch_extras[1]
    assert set(scores) == {"eval_modes", "eval_hq_pct", "eval_reverse_kl", "eval_n"}
    assert 0 <= scores["eval_modes"] <= 8 and 0 <= scores["eval_hq_pct"] <= 100


def test_eval_every_scores_the_ema_generator(tmp_path, monkeypatch):
    """With --ema, --eval-every scores the moving-average weights (it used to score the live
    ones). The ring's mode metrics are coarse (often 0 modes for both generators after a few
    steps), so the points scored are recorded too and compared with each generator's."""
    scored = []
    score_points = evaluator_module.score_points

    def recording(points, dataset):
        scored.append(np.array(points))
        return score_points(points, dataset)

    monkeypatch.setattr(evaluator_module, "score_points", recording)
    # lr 1e-2 and momentum 0.9: after 4 steps the averages lag the live weights visibly
    config = TrainConfig.create(arch="mlp", dataset="ring", epochs=1, batch_size=64,
                                max_examples=256, latent_dim=8, g_hidden=[16], d_hidden=[16],
                                lr=1e-2, ema=0.9, eval_every=1, eval_n=200, tensorboard=False,
                                out=str(tmp_path / "run"))
    run = Run.open(_train(config))
    assert run.config.ema == 0.9 and len(scored) == 1  # one evaluation: after epoch 1

    def points_of(ema):  # the evaluator's latents: eval_n points from seed + 2
        return evaluation.generate_points(load_generator(run, ema=ema), 200,
                                          config.latent_dim, config.latent_dist, config.seed + 2)

    ema_points, live_points = points_of(True), points_of(False)
    np.testing.assert_allclose(scored[0], ema_points, rtol=0, atol=1e-5)
    assert np.abs(scored[0] - live_points).max() > 1e-3  # not the live generator's points
    with run.file(rundir.METRICS).open(newline="") as handle:
        row = list(csv.DictReader(handle))[-1]
    expected = evaluation.score_points(ema_points, "ring")
    kl = math.inf if expected["reverse_kl"] is None else expected["reverse_kl"]
    assert {k: v for k, v in row.items() if k.startswith("eval_")} == {
        "eval_modes": f"{expected['modes_covered']:.6g}",
        "eval_hq_pct": f"{expected['high_quality_pct']:.6g}",
        "eval_reverse_kl": f"{kl:.6g}", "eval_n": "200"}


# --------------------------------------------------------------------------- names and table


def test_metric_names_are_checked():
    assert evaluation.parse_metrics("pr,fid", "image", "mnist") == ("fid", "pr")
    assert evaluation.parse_metrics("auto", "image", "mnist") == ("fid", "kid", "pr")
    assert evaluation.parse_metrics(["AUTO"], "points", "grid") == ("modes",)
    with pytest.raises(UsageError, match=r"unknown metric 'foo'; accepted: fid, kid, pr, modes"):
        evaluation.parse_metrics("fid,foo", "image", "mnist")
    with pytest.raises(UsageError, match="'modes' applies to 2-D ring/grid runs.*fid, kid, pr"):
        evaluation.parse_metrics("modes", "image", "mnist")
    with pytest.raises(UsageError, match="2-D dataset 'sine'.*ring or grid"):
        evaluation.parse_metrics("auto", "points", "sine")
    with pytest.raises(UsageError, match="--n 3 is too small for pr"):
        evaluation.check_n(3, ("fid", "pr"))


def test_unknown_metric_on_a_run(ring_run):
    with pytest.raises(UsageError, match="unknown metric 'bogus'"):
        evaluation.evaluate_run(ring_run, EvalOptions(metrics="bogus"))


def test_format_table_states_counts_and_split():
    result = {"run": "runs/mnist", "checkpoint": "ckpt-100", "fid": 23.4071, "kid_mean": 0.01234,
              "kid_std": 0.0004, "precision": 0.7, "recall": 0.45, "n_fake": 10000,
              "n_real": 10000, "real_dataset": "mnist", "real_split": "test", "seconds": 12.0,
              "notes": ["something to know"]}
    table = evaluation.format_table(result)
    ref = "(10000 generated vs 10000 real, mnist test)"
    lines = table.splitlines()
    assert lines[0] == "runs/mnist (ckpt-100)"
    for name, value in (("FID", "23.41"), ("KID", "0.01234 ± 0.00040"), ("precision", "0.700"),
                        ("recall", "0.450")):
        assert any(line.split()[0] == name and value in line and line.endswith(ref)
                   for line in lines), (name, table)
    assert "note: something to know" in table
    local = evaluation.format_table({**result, "real_dataset": "npz:/a/b/digits.npz",
                                     "real_split": "train", "n_real": 16})
    assert "(10000 generated vs 16 real, npz:digits.npz train)" in local
    samples = {**result, "run": None, "checkpoint": None, "samples": "fakes.npy", "n_fake": 500}
    assert "(500 samples vs 10000 real, mnist test)" in evaluation.format_table(samples)
