"""Extending gantool: a new architecture (with a setting of its own), a new loss and a new
dataset, each defined here and registered with one call, then trained through the CLI.

These are the steps the README's "How to add an architecture, loss or dataset" describes; no
file of gantool is changed.
"""

import json
import math

import numpy as np
import pytest

from gantool.data import DATASETS
from gantool.data.source import from_arrays
from gantool.losses import LOSSES, GANLoss
from gantool.models import ARCHITECTURES, Architecture, register_architecture
from gantool.settings import Setting
from tests.test_cli import bad, ok

# --- a new architecture: one hidden layer of --width units in G and D -------------------------


def tiny_generator(config, data_shape):
    import keras

    z = keras.Input((config.latent_dim,), name="z")
    x = keras.layers.Dense(config.width, activation="relu")(z)
    x = keras.layers.Dense(math.prod(data_shape), dtype="float32")(x)
    return keras.Model(z, keras.layers.Reshape(data_shape)(x), name="generator")


def tiny_discriminator(config, data_shape):
    import keras

    x_in = keras.Input(data_shape, name="x")
    x = keras.layers.Dense(config.width)(keras.layers.Flatten()(x_in))
    x = keras.layers.LeakyReLU(0.2)(x)
    return keras.Model(x_in, keras.layers.Dense(1, dtype="float32")(x), name="discriminator")


def points_only(data_shape):
    if tuple(data_shape) != (2,):
        raise ValueError(f"plugin-tiny builds 2-D points only, got {data_shape}")


TINY_ARCH = Architecture(
    name="plugin-tiny", build_generator=tiny_generator, build_discriminator=tiny_discriminator,
    check_data_shape=points_only, example_shapes=((2,),),
    settings=(Setting("width", "int", 8, "hidden units of G and D", low=1),))


# --- a new loss: the non-saturating loss written out (no label smoothing) ---------------------

def softplus_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    import tensorflow as tf

    return tf.reshape(tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits), [-1])


def softplus_g_loss(fake_logits):
    import tensorflow as tf

    return tf.reshape(tf.nn.softplus(-fake_logits), [-1])


SOFTPLUS_LOSS = GANLoss(d_loss=softplus_d_loss, g_loss=softplus_g_loss,
                        supports_label_smoothing=False, description="ns, written out")


# --- a new dataset: three 2-D Gaussian blobs --------------------------------------------------

def load_blobs(name, *, split, data_dir, image_size, channels, max_examples, seed):
    rng = np.random.default_rng(seed + (split != "train"))
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    points = centres[rng.integers(0, 3, 600)] + 0.1 * rng.standard_normal((600, 2))
    return from_arrays(name, points.astype(np.float32), max_examples=max_examples)


@pytest.fixture(scope="module", autouse=True)
def plugins():
    register_architecture(TINY_ARCH)
    LOSSES.register("plugin-softplus", SOFTPLUS_LOSS)
    DATASETS.register("plugin-blobs", load_blobs)
    yield
    for registry, name in ((ARCHITECTURES, "plugin-tiny"), (LOSSES, "plugin-softplus"),
                           (DATASETS, "plugin-blobs")):
        registry.unregister(name)


def test_train_a_new_architecture_loss_and_dataset_from_the_cli(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(["train", "--arch", "plugin-tiny", "--width", 5, "--loss", "plugin-softplus",
        "--dataset", "plugin-blobs", "--dry-run", "--quiet", "--out", run_dir], capsys)
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["arch"], config["loss"], config["dataset"]) == (
        "plugin-tiny", "plugin-softplus", "plugin-blobs")
    assert config["width"] == 5 and config["data_shape"] == [2]
    assert "g_hidden" not in config and "g_filters" not in config
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and all("nan" not in r for r in rows)
    ok(["sample", "--ckpt", run_dir, "--n", 10, "--out", tmp_path / "p.npy"], capsys)
    assert np.load(tmp_path / "p.npy").shape == (10, 2)


def test_the_new_setting_is_in_help_and_belongs_to_its_architecture(tmp_path, capsys):
    out = ok(["train", "--help"], capsys)
    assert "--width" in out and "plugin-tiny: hidden units" in out
    bad(["train", "--arch", "mlp", "--width", 5, "--out", tmp_path / "r"], capsys, 2,
        "--width", "--arch mlp", "--g-hidden")
    bad(["train", "--arch", "plugin-tiny", "--dropout", 0.1, "--out", tmp_path / "r"], capsys,
        2, "--dropout", "plugin-tiny takes: --width")
    bad(["train", "--arch", "plugin-tiny", "--width", 0, "--out", tmp_path / "r"], capsys, 2,
        "--width", ">= 1")
