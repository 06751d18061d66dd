"""experiments/ema_bn_check.py: four sample arrays of one run, from the same latents, that
differ exactly where their weights or batch-norm statistics do."""

import numpy as np
import pytest

from gantool import rundir, sampling
from tests.tiny_runs import cli


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    """A dcgan run (batch norm in G) with --ema 0.9 on 64 random 8x8 grey images."""
    root = tmp_path_factory.mktemp("ema_bn")
    data = root / "images.npz"
    np.savez(data, x_train=np.random.default_rng(5).integers(0, 256, (64, 8, 8), np.uint8))
    run_dir = root / "run"
    code = cli(["train", "--arch", "dcgan", "--dataset", f"npz:{data}", "--out", run_dir,
                "--epochs", 1, "--steps-per-epoch", 6, "--batch-size", 16, "--latent-dim", 8,
                "--g-filters", 4, "--d-filters", 4, "--ema", 0.9, "--grid-size", 4,
                "--quiet"])
    assert not code
    return run_dir


def test_four_variants_from_the_same_latents(experiment_script, ema_run, tmp_path):
    script = experiment_script("ema_bn_check")
    script.main([str(ema_run), "--out", str(tmp_path / "s"), "--n", "40"])
    arrays = {name: np.load(tmp_path / f"s-{name}.npy")
              for name in ("live", "live-batch", "ema", "ema-batch")}
    for images in arrays.values():
        assert images.shape == (40, 8, 8, 1) and images.dtype == np.uint8

    run = rundir.Run.open(ema_run)
    latents = sampling.draw_latents(40, run.config.latent_dim, run.config.latent_dist, seed=0)
    for name, ema in (("live", False), ("ema", True)):
        expected = sampling.to_uint8(sampling.generate(
            sampling.load_generator(run, ema=ema), latents))
        np.testing.assert_array_equal(arrays[name], expected)
    assert not np.array_equal(arrays["live"], arrays["ema"])  # the averages differ
    assert not np.array_equal(arrays["live"], arrays["live-batch"])  # G has batch norm


def test_runs_without_an_average_get_the_live_pair_only(experiment_script):
    script = experiment_script("ema_bn_check")
    config = type("Config", (), {"ema": None, "ema_kimg": None})()
    assert [name for name, _, _ in script.variants(config)] == ["live", "live-batch"]
