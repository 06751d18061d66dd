"""Every stabilisation and conditioning flag trains, under one device and under 2 replicas,
and does what it says: EMA weights, packing, instance noise, spectral norm, conditioning."""

import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool.config import apply_loss_defaults, validate
from gantool.distribute import make_strategy
from gantool.errors import UsageError
from gantool.gan import pack_samples
from gantool.losses import LOSSES
from gantool.training import build_gan
from tests.conftest import make_config

FLAGS = {
    "plain": {},
    "spectral_norm": {"spectral_norm": True},
    "ema_r1": {"ema": 0.9, "r1": 1.0},
    "noise_pack": {"instance_noise": 0.5, "pack": 2},
    "conditional": {"conditional": True, "num_classes": 3},
    "steps": {"d_steps": 2, "g_steps": 2},
    "everything": {"spectral_norm": True, "ema": 0.9, "r1": 1.0, "instance_noise": 0.1,
                   "d_steps": 2, "g_steps": 2},
}


def config_for(arch, loss, **flags):
    shape = [2] if arch == "mlp" else [28, 28, 1]
    return make_config(arch=arch, loss=loss, data_shape=shape, latent_dim=4, g_hidden=[8],
                       d_hidden=[8], g_filters=4, d_filters=4, dropout=0.0, batch_size=8,
                       **flags)


def train_steps(config, strategy, steps=2):
    """Fit ``steps`` steps on random data; returns (gan, list of logs)."""
    gan = build_gan(config, strategy, total_steps=steps)
    batch = config.batch_size * config.d_steps
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch * steps, *config.data_shape)).astype("float32")
    data = (x, rng.integers(0, 3, len(x)).astype("int32")) if config.conditional else x
    logs = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs=None, out=logs: out.append(dict(logs)))
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(batch), epochs=1, verbose=0,
            callbacks=[callback], shuffle=False)
    return gan, logs


@pytest.fixture(scope="module")
def strategies():
    return {"default": make_strategy("default"), "mirrored": make_strategy("mirrored")}


# The default run covers every flag (with ns) and every loss (plain, and with all flags at
# once); the full product of architectures x losses x flags runs with `make test-all`.
# (all flags at once: ns and wgan-gp, whose penalty interacts with them; each other loss is
# covered plain on dcgan; the rest of the "everything" row runs with `make test-all`.)
QUICK = sorted({*((a, "ns", f) for a in ("mlp", "dcgan") for f in FLAGS),
                *(("dcgan", loss, "plain") for loss in LOSSES.names()),
                *(("mlp", loss, "everything") for loss in ("ns", "wgan-gp"))})
CASES = [case if case in QUICK else pytest.param(*case, marks=pytest.mark.slow)
         for case in itertools.product(["mlp", "dcgan"], LOSSES.names(), FLAGS)]


@pytest.mark.parametrize("arch,loss,flags", CASES)
def test_every_flag_and_loss_trains_a_step(arch, loss, flags, strategies):
    config = config_for(arch, loss, **FLAGS[flags])
    validate(config)
    # one all-flags row and the conditional one under 2 replicas (tests/test_distribute.py
    # checks the mathematics); the rest on one device, where a step builds in a fraction
    mirrored = {("mlp", "ns", "everything"), ("mlp", "ns", "conditional")}
    strategy = strategies["mirrored" if (arch, loss, flags) in mirrored else "default"]
    gan, logs = train_steps(config, strategy)
    assert len(logs) == 2
    for entry in logs:
        assert all(np.isfinite(float(v)) for v in entry.values()), entry
    assert int(gan.d_optimizer.iterations.numpy()) == 2 * config.d_steps
    assert int(gan.g_optimizer.iterations.numpy()) == 2 * config.g_steps


def test_wgan_gp_recipe_defaults_apply_unless_given():
    values = apply_loss_defaults({"loss": "wgan-gp"}, explicit={"loss"})
    assert values["beta1"] == 0.0 and values["beta2"] == 0.9 and values["d_steps"] == 5
    values = apply_loss_defaults({"loss": "wgan-gp", "d_steps": 2}, explicit={"loss", "d_steps"})
    assert values["d_steps"] == 2
    assert apply_loss_defaults({"loss": "ns"}, explicit={"loss"}) == {"loss": "ns"}


@pytest.mark.parametrize("changes,fragment", [
    ({"loss": "hinge", "label_smoothing": 0.1}, "label-smoothing"),
    ({"loss": "wgan-gp", "label_smoothing": 0.1}, "label-smoothing"),
    ({"conditional": True, "pack": 2}, "--pack"),
    ({"pack": 3, "batch_size": 8}, "multiple of --pack"),
    ({"ema": 1.5}, "ema"),
    ({"r1": -1.0}, "r1"),
    ({"d_steps": 0}, "d-steps"),
])
def test_nonsense_combinations_are_rejected(changes, fragment):
    with pytest.raises(UsageError, match=fragment):
        validate(make_config(arch="mlp", dataset="ring", **changes))


def test_pack_joins_samples_along_the_last_axis():
    x = tf.reshape(tf.range(4 * 2 * 2 * 3, dtype=tf.float32), (4, 2, 2, 3))
    packed = pack_samples(x, 2).numpy()
    assert packed.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(packed[0, ..., :3], x[0])
    np.testing.assert_array_equal(packed[0, ..., 3:], x[1])
    points = pack_samples(tf.constant([[1.0, 2.0], [3.0, 4.0]]), 2).numpy()
    np.testing.assert_array_equal(points, [[1, 2, 3, 4]])


def test_packed_discriminator_sees_pack_times_the_channels(strategies):
    config = config_for("dcgan", "ns", pack=4)
    gan = build_gan(config, strategies["default"])
    assert gan.discriminator.input_shape == (None, 28, 28, 4)


def test_instance_noise_decays_linearly_to_zero(strategies):
    config = config_for("mlp", "ns", instance_noise=0.4)
    gan = build_gan(config, strategies["default"], total_steps=10)
    assert float(gan._noise_stddev()) == pytest.approx(0.4)
    gan.d_optimizer.iterations.assign(5)
    assert float(gan._noise_stddev()) == pytest.approx(0.2)
    gan.d_optimizer.iterations.assign(12)
    assert float(gan._noise_stddev()) == 0.0


def test_spectral_norm_wraps_every_discriminator_layer(strategies):
    gan, _ = train_steps(config_for("dcgan", "hinge", spectral_norm=True), strategies["default"],
                         steps=4)
    wrapped = [layer for layer in gan.discriminator.layers
               if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # 2 convolutions + the output layer
    for layer in wrapped:  # the normalised kernel has spectral norm ~1
        kernel = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1])
        assert np.linalg.norm(kernel, 2) == pytest.approx(1.0, rel=0.2)


def test_ema_weights_trail_the_live_weights(strategies):
    from gantool.sampling import copy_ema_weights

    config = config_for("mlp", "ns", ema=0.5)
    gan, _ = train_steps(config, strategies["default"], steps=3)
    ema = copy_ema_weights(gan.generator, gan.g_optimizer,
                           keras.models.clone_model(gan.generator))
    live = gan.generator.trainable_variables
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in
               zip(live, ema.trainable_variables))


@pytest.mark.parametrize("strategy", [[], ["--strategy", "mirrored", "--cpu-devices", "2"]],
                         ids=["one-device", "mirrored"])
def test_ema_end_to_end_sample_uses_average_unless_no_ema(tmp_path, capsys, strategy):
    from gantool.rundir import Run
    from gantool.sampling import load_generator
    from tests.test_cli import ok, tiny

    run_dir = tmp_path / "ema"
    ok(["train", "--arch", "mlp", "--dataset", "ring", "--ema", "0.5", "--out", run_dir,
        *tiny("mlp"), *strategy], capsys)
    averaged = load_generator(Run.open(run_dir))
    live = load_generator(Run.open(run_dir), ema=False)
    z = np.random.default_rng(0).standard_normal((5, 8)).astype("float32")
    assert not np.allclose(averaged(z).numpy(), live(z).numpy())
    # the training grid of the last epoch was drawn with the average weights
    from gantool.sampling import generate

    latents = np.load(run_dir / "samples" / "fixed_latents.npy")
    np.testing.assert_allclose(generate(averaged, latents),
                               np.load(run_dir / "samples" / "epoch_0002.npy"), atol=1e-5)
    ok(["sample", "--ckpt", run_dir, "--no-ema", "--n", 10, "--out", tmp_path / "x.npy"], capsys)


def test_conditional_end_to_end(image_folder, tmp_path, capsys):
    import imageio.v3 as iio

    from tests.test_cli import ok, tiny

    run_dir = tmp_path / "cond"
    ok(["train", "--arch", "dcgan", "--dataset", f"folder:{image_folder}", "--image-size", 28,
        "--conditional", "--out", run_dir, *tiny("dcgan")], capsys)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["conditional"] and config["num_classes"] == 2
    grid = iio.imread(run_dir / "samples" / "epoch_0002.png")
    assert grid.shape[0] == 2 * 30 + 2  # one row per class (16 images -> 2 rows of 8)
    ok(["sample", "--ckpt", run_dir, "--class", 1, "--n", 4, "--out", tmp_path / "c.npy"],
       capsys)
    assert np.load(tmp_path / "c.npy").shape == (4, 28, 28, 3)
    from tests.test_cli import bad, tiny

    bad(["sample", "--ckpt", run_dir, "--class", 7], capsys, 2, "--class 7", "0..1")
    bad(["train", "--arch", "mlp", "--dataset", "ring", "--conditional",
         "--out", tmp_path / "r", *tiny("mlp")], capsys, 2, "labels")


def test_conditional_generator_follows_its_labels(strategies):
    """Different labels with the same latents give different samples."""
    config = config_for("mlp", "ns", conditional=True, num_classes=3)
    gan, _ = train_steps(config, strategies["default"])
    z = np.zeros((3, 4), "float32")
    out = gan.generator([z, np.arange(3, dtype="int32")]).numpy()
    assert not np.allclose(out[0], out[1])


@pytest.fixture
def restore_float32():
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_mixed_precision_runs_with_finite_losses(precision, arch, strategies, restore_float32):
    """A GPU/TPU feature; on CPU it must at least run and stay finite."""
    config = config_for(arch, "ns", precision=precision)
    gan, logs = train_steps(config, strategies["default"], steps=3)
    assert gan.generator.layers[1].compute_dtype in ("float16", "bfloat16")
    assert gan.generator.output.dtype == "float32"  # outputs and losses stay float32
    for entry in logs:
        assert all(np.isfinite(float(v)) for v in entry.values()), entry
    if precision == "mixed_float16":
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)


def test_a_decay_longer_than_the_run_is_warned_about():
    from gantool.training.ema import short_run_warning

    warning = short_run_warning(0.999, 585)
    assert "--ema 0.999" in warning and "1000" in warning and "56%" in warning
    assert short_run_warning(0.99, 585) is None  # 0.99 ** 585: 0.3% left
    assert short_run_warning(None, 585) is None and short_run_warning(0.999, 0) is None
