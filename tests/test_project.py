"""``gantool project``: latents found by Adam reproduce images better than random latents."""

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from gantool import rundir, sampling
from tests.tiny_runs import cli, image_run

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny image run whose generator's kernels are scaled up x15 (a few training steps
    leave an mlp generator's outputs within a grey level of each other; these span [-1, 1])."""
    import tensorflow as tf

    from gantool.models import ARCHITECTURES

    run_dir = image_run(tmp_path_factory.mktemp("project"), ema=False, steps=8)
    run = rundir.Run.open(run_dir)
    arch, shape = ARCHITECTURES.get(run.config.arch), tuple(run.config.data_shape)
    parts = {"generator": arch.build_generator(run.config, shape),
             "discriminator": arch.build_discriminator(run.config, shape)}
    tf.train.Checkpoint(**parts).restore(run.checkpoint).expect_partial()
    for variable in parts["generator"].trainable_variables:
        if "kernel" in variable.path:
            variable.assign(variable * 15.0)
    checkpoint = tf.train.Checkpoint(**parts)
    checkpoint.save_counter  # noqa: B018  (created, so that the written checkpoint holds it)
    checkpoint.write(run.checkpoint)
    return run_dir


def mse(a, b):
    """Mean squared error per image of uint8 images, in [-1, 1] units."""
    a, b = (np.asarray(x, np.float32) / 127.5 - 1 for x in (a, b))
    return ((a - b) ** 2).mean(axis=(1, 2, 3))


def test_projection_beats_the_best_of_16_random_latents(run_dir, tmp_path):
    """Four images the generator can make (held-out seeds, written as PNGs) and two training
    images (uniform noise): each projection is closer than the best of 16 random latents."""
    assert cli(["sample", "--ckpt", run_dir, "--seeds", "100-103", "--out", tmp_path / "in"]) == 0
    paths = sorted((tmp_path / "in").glob("*.png"))
    for i, image in enumerate(np.load(run_dir.parent / "digits.npz")["x_train"][:2]):
        paths.append(tmp_path / "in" / f"train{i}.png")
        iio.imwrite(paths[-1], image)
    out = tmp_path / "proj" / "deep"
    assert cli(["project", "--ckpt", run_dir, *paths, "--out", out, "--steps", 150]) == 0
    images = np.stack([iio.imread(p) for p in paths])[..., None]
    generator = sampling.load_generator(rundir.Run.open(run_dir))
    randoms = sampling.to_uint8(sampling.generate(generator, sampling.draw_latents(16, 8, seed=9)))
    best_random = np.array([mse(np.repeat(image[None], 16, 0), randoms).min() for image in images])
    latents = np.load(out / "latents.npy")
    assert latents.shape == (6, 8) and latents.dtype == np.float32
    projected = mse(images, np.stack([iio.imread(out / f"{i}.png")[..., None] for i in range(6)]))
    # images the generator can make: 100x closer; noise it cannot make: still clearly closer
    assert (projected[:4] < 0.01 * best_random[:4]).all(), (projected, best_random)
    assert (projected[4:] < 0.85 * best_random[4:]).all(), (projected, best_random)
    assert json.loads((out / "projection.json").read_text())["mse"][0] < best_random[0]
    assert iio.imread(out / "interpolation.gif", index=None).shape[0] == 32  # 2 points x 16
    assert iio.imread(out / "comparison.png").shape[1] >= 512


def test_unreadable_images_and_point_runs_are_refused(run_dir, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert cli(["project", "--ckpt", run_dir, bad, "--out", tmp_path / "o"]) == 2
    err = capsys.readouterr().err
    assert err.count("Error:") == 1 and "bad.png" in err


@pytest.mark.skipif(not MNIST.exists(), reason="needs ../shared/data/mnist.npz (real MNIST)")
def test_projection_of_held_out_mnist_digits_beats_random_latents(tmp_path):
    """A tiny mlp GAN trained briefly on real MNIST; 16 digits of the test split (never seen in
    training) project to a clearly lower pixel error than the best of 16 random latents."""
    with np.load(MNIST) as mnist:
        train_digits, test_digits = mnist["x_train"][:12000], mnist["x_test"][:16]
    np.savez(tmp_path / "mnist.npz", x_train=train_digits)
    run_dir = tmp_path / "run"
    assert cli(["train", "--arch", "mlp", "--dataset", f"npz:{tmp_path / 'mnist.npz'}",
                "--out", run_dir, "--epochs", 3, "--batch-size", 64, "--latent-dim", 16,
                "--g-hidden", 256, "--d-hidden", 256, "--quiet",
                "--no-tensorboard"]) == 0
    paths = []
    for i, digit in enumerate(test_digits):
        paths.append(tmp_path / "digits" / f"{i}.png")
        paths[-1].parent.mkdir(exist_ok=True)
        iio.imwrite(paths[-1], digit)
    out = tmp_path / "proj"
    assert cli(["project", "--ckpt", run_dir, *paths, "--out", out, "--steps", 200,
                "--restarts", 8, "--feature-weight", 0]) == 0
    generator = sampling.load_generator(rundir.Run.open(run_dir))
    randoms = sampling.to_uint8(sampling.generate(generator,
                                                  sampling.draw_latents(16, 16, seed=5)))
    images = test_digits[..., None]
    best_random = np.array([mse(np.repeat(image[None], 16, 0), randoms).min() for image in images])
    projected = mse(images, np.stack([iio.imread(out / f"{i:02d}.png")[..., None]
                                      for i in range(16)]))
    assert projected.mean() < 0.7 * best_random.mean(), (projected, best_random)
    assert (projected < best_random).mean() >= 0.9, (projected, best_random)
