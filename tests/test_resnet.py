"""``--arch resnet`` (residual G and D) and the minibatch standard deviation layer (``--mbstd``,
on resnet and dcgan): shapes, the layer's arithmetic against numpy, its group fallback,
per-replica groups under MirroredStrategy, and CLI dry runs."""

import json

import numpy as np
import pytest

from gantool.models import build_models
from tests.conftest import make_config
from tests.test_cli import bad, ok

TINY_RESNET = ["--g-channels", "4", "--d-channels", "4", "--latent-dim", "8", "--batch-size", "8",
               "--grid-size", "4", "--quiet"]


def tiny_config(size, channels=3, **values):
    return make_config(arch="resnet", data_shape=[size, size, channels], latent_dim=8,
                       g_channels=4, d_channels=4, **values)


def latents(n=5, scale=1.0):
    return (np.random.default_rng(0).standard_normal((n, 8)) * scale).astype("float32")


# --- the networks -----------------------------------------------------------------------------

@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (48, 3), (64, 1), (128, 3)])
def test_every_supported_size_builds(size, channels):
    generator, discriminator = build_models(tiny_config(size, channels, mbstd=2))
    for training in (False, True):
        fake = generator(latents(scale=50), training=training).numpy()
        assert fake.shape == (5, size, size, channels)
        assert fake.min() >= -1 and fake.max() <= 1
        logits = discriminator(fake, training=training).numpy()
        assert logits.shape == (5, 1) and np.isfinite(logits).all()


@pytest.mark.parametrize("shape", [(40, 40, 3), (96, 96, 3), (256, 256, 3), (32, 28, 3),
                                   (32, 32, 2), (2,)])
def test_unsupported_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="resnet") as error:
        build_models(make_config(arch="resnet", data_shape=list(shape)))
    if len(shape) == 3 and shape[0] == shape[1] and shape[2] == 3:
        assert f"{shape[0]}x{shape[0]}" in str(error.value)
        assert "28, 32, 48, 64, 128" in str(error.value)


def test_structure_norm_spectral_norm_and_conditioning():
    import keras

    def count(model, kind):
        return sum(isinstance(layer, kind) for layer in model.layers)

    generator, discriminator = build_models(tiny_config(32))
    assert count(generator, keras.layers.BatchNormalization) == 2 * 3 + 1  # 3 blocks + the end
    assert count(discriminator, keras.layers.BatchNormalization) == 0
    assert count(discriminator, keras.layers.AveragePooling2D) >= 3
    generator, discriminator = build_models(tiny_config(32, g_norm="none", spectral_norm=True))
    assert count(generator, keras.layers.BatchNormalization) == 0
    assert count(discriminator, keras.layers.SpectralNormalization) == 2 * 4 + 3 + 1
    generator, discriminator = build_models(tiny_config(28, 1, conditional=True, num_classes=3))
    labels = np.array([0, 1, 2, 0, 1], np.int32)
    fake = generator([latents(), labels], training=False).numpy()
    assert fake.shape == (5, 28, 28, 1)
    assert discriminator([fake, labels], training=False).shape == (5, 1)


def test_init_schemes_and_mixed_precision():
    import keras

    from gantool.training.build import set_precision

    dcgan_init = build_models(tiny_config(32))[0].get_layer("project").kernel.numpy()
    torch_init = build_models(tiny_config(32, init="torch"))[0].get_layer("project").kernel.numpy()
    assert dcgan_init.std() == pytest.approx(0.02, rel=0.1)
    assert torch_init.std() == pytest.approx(1 / np.sqrt(3 * 8), rel=0.1)  # U(+-1/sqrt(fan_in))
    try:
        set_precision("mixed_float16")
        generator, discriminator = build_models(tiny_config(32, mbstd=4, precision="mixed_float16"))
        fake = generator(latents(8), training=True)
        assert fake.dtype == "float32"
        assert discriminator(fake, training=True).dtype == "float32"
        assert generator.get_layer("project").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


# --- minibatch standard deviation -------------------------------------------------------------

def mbstd_reference(x, group_size):
    """Sample i's statistic: the mean over features of the std over the samples j of its group
    (j // G == i // G), with the whole batch as one group when G does not divide N."""
    n = len(x)
    size = group_size if n >= group_size and n % group_size == 0 else n
    stat = np.empty(n)
    for i in range(n):
        members = x[np.arange(n) // size == i // size].astype(np.float64)
        stat[i] = np.sqrt(members.var(axis=0) + 1e-8).mean()
    return stat


def mbstd(x, group_size):
    from gantool.models.layers import MinibatchStdDev

    return MinibatchStdDev(group_size)(x).numpy()


@pytest.mark.parametrize("n,group_size", [(8, 4), (8, 2), (6, 4), (3, 4), (5, 5), (8, 1)])
def test_mbstd_matches_numpy(n, group_size):
    x = np.random.default_rng(n).standard_normal((n, 3, 2, 5)).astype("float32") * 2 + 1
    out = mbstd(x, group_size)
    assert out.shape == (n, 3, 2, 6)
    np.testing.assert_array_equal(out[..., :5], x)
    expected = mbstd_reference(x, group_size)
    np.testing.assert_allclose(out[..., 5], np.broadcast_to(expected[:, None, None], (n, 3, 2)),
                               rtol=1e-5)


def test_mbstd_on_a_known_array_and_fallbacks():
    x = np.array([0, 1, 2, 3, 10, 11, 12, 13], np.float32).reshape(8, 1, 1, 1)
    # group 4: {0, 1, 2, 3} and {10, 11, 12, 13}, each of std sqrt(1.25)
    np.testing.assert_allclose(mbstd(x, 4)[:, 0, 0, 1], np.sqrt(1.25), rtol=1e-6)
    # group 2: {0, 1}, {2, 3}, {10, 11}, {12, 13}: std 0.5 each
    np.testing.assert_allclose(mbstd(x, 2)[:, 0, 0, 1], 0.5, rtol=1e-6)
    # a group of 8: all of them, std sqrt(26.25)
    np.testing.assert_allclose(mbstd(x, 8)[:, 0, 0, 1], np.sqrt(26.25), rtol=1e-6)
    # 6 samples, group 4 (does not divide): the whole batch is the group
    np.testing.assert_allclose(mbstd(x[:6], 4)[:, 0, 0, 1], np.std(x[:6]), rtol=1e-6)
    # fewer samples than the group: the whole batch; one sample: sqrt(epsilon)
    np.testing.assert_allclose(mbstd(x[:3], 4)[:, 0, 0, 1], np.std(x[:3]), rtol=1e-6)
    np.testing.assert_allclose(mbstd(x[:1], 4)[:, 0, 0, 1], 1e-4, rtol=1e-3)


def test_mbstd_takes_any_batch_size_in_one_trace_and_serialises():
    import keras
    import tensorflow as tf

    from gantool.models.layers import MinibatchStdDev

    layer = MinibatchStdDev(4)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, 2, 2, 3), tf.float32)])
    for n in (8, 6, 12, 2):
        x = np.random.default_rng(n).standard_normal((n, 2, 2, 3)).astype("float32")
        np.testing.assert_allclose(traced(x).numpy()[:, 0, 0, 3], mbstd_reference(x, 4),
                                   rtol=1e-5)
    assert traced.experimental_get_tracing_count() == 1
    inputs = keras.Input((2, 2, 3))
    model = keras.Model(inputs, MinibatchStdDev(2)(inputs))
    clone = keras.Model.from_config(model.get_config())
    assert clone.layers[-1].group_size == 2 and clone.output_shape == (None, 2, 2, 4)


def test_mbstd_groups_each_replicas_own_batch():
    import tensorflow as tf

    from gantool.distribute import make_strategy
    from gantool.models.layers import MinibatchStdDev

    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    x = np.random.default_rng(0).standard_normal((8, 2, 2, 3)).astype("float32")
    x[4:] *= 10  # the second replica's half is far more spread out
    with strategy.scope():
        layer = MinibatchStdDev(4)
    shards = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(x[4 * context.replica_id_in_sync_group:][:4]))
    out = strategy.run(tf.function(layer), args=(shards,))
    for replica, result in enumerate(strategy.experimental_local_results(out)):
        shard = x[4 * replica:][:4]
        np.testing.assert_allclose(result.numpy()[:, 0, 0, 3], mbstd_reference(shard, 4),
                                   rtol=1e-5)


def test_a_fused_real_and_fake_pass_keeps_their_groups_apart():
    """D without batch norm judges real and fake in one call (GAN.discriminate); with the batch
    a multiple of the group size, each group is all real or all fake, as in two calls."""
    from gantool.gan import GAN

    generator, discriminator = build_models(tiny_config(32, mbstd=4))
    gan = GAN(generator, discriminator, latent_dim=8, loss="ns")
    assert gan.fuse_discriminator and gan._fuses(8) and gan._fuses(12)
    assert not gan._fuses(6) and not gan._fuses(None)  # fused, groups would mix: two passes
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    fake = (real[:1] + 0 * real).astype("float32")  # no variety at all
    real_logits, fake_logits, _, _ = gan.discriminate(real, fake, None)
    np.testing.assert_allclose(real_logits, discriminator(real, training=True), atol=1e-5)
    np.testing.assert_allclose(fake_logits, discriminator(fake, training=True), atol=1e-5)


def test_dcgan_mbstd_is_off_by_default_and_goes_before_the_last_conv():
    import keras

    from gantool.models.layers import MinibatchStdDev

    plain = make_config(arch="dcgan", data_shape=[32, 32, 3], g_filters=4, d_filters=4)
    assert plain.mbstd == 0
    _, discriminator = build_models(plain)
    assert not any(isinstance(layer, MinibatchStdDev) for layer in discriminator.layers)
    _, with_mbstd = build_models(plain.replace(mbstd=4))
    layers = with_mbstd.layers
    position = next(i for i, layer in enumerate(layers) if isinstance(layer, MinibatchStdDev))
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Conv2D)]
    assert convs[-2] < position < convs[-1]
    assert layers[convs[-1]].kernel.shape[2] == 4 * 2 + 1  # the map of the std, one more input
    assert with_mbstd.count_params() == discriminator.count_params() + 4 * 4 * 16
    fake = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    assert with_mbstd(fake, training=True).shape == (8, 1)


# --- the command line -------------------------------------------------------------------------

def test_resnet_dry_run_from_the_cli_then_sample(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(["train", "--arch", "resnet", "--dataset", "shapes", "--dry-run", "--max-examples", 64,
        "--mbstd", 4, "--g-norm", "none", "--out", run_dir, *TINY_RESNET], capsys)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["arch"] == "resnet" and config["data_shape"] == [32, 32, 3]
    assert (config["g_channels"], config["d_channels"], config["g_norm"], config["mbstd"]) == (
        4, 4, "none", 4)
    assert "g_filters" not in config
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) >= 2 and all("nan" not in row for row in rows)
    ok(["sample", "--ckpt", run_dir, "--n", 4, "--out", tmp_path / "s.npy"], capsys)
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape[0] == 4 and samples.shape[-3:] == (32, 32, 3)


@pytest.mark.parametrize("arch,extra", [
    ("dcgan", ["--mbstd", 2, "--pack", 2, "--g-filters", 4, "--d-filters", 4]),
    ("resnet", ["--conditional", "--spectral-norm", "--mbstd", 2, "--g-channels", 4,
                "--d-channels", 4]),
], ids=["dcgan-mbstd-pack", "resnet-conditional-sn"])
def test_more_dry_runs(arch, extra, tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(["train", "--arch", arch, "--dataset", "shapes", "--dry-run", "--max-examples", 64,
        "--latent-dim", 8, "--batch-size", 8, "--grid-size", 4, "--quiet", "--out", run_dir,
        *extra], capsys)
    assert json.loads((run_dir / "config.json").read_text())["mbstd"] == 2


def test_cli_refuses_bad_resnet_settings_and_sizes(tmp_path, capsys):
    bad(["train", "--arch", "resnet", "--g-norm", "layer", "--out", tmp_path / "r"], capsys, 2,
        "--g-norm", "batch, none")
    bad(["train", "--arch", "resnet", "--mbstd", -1, "--out", tmp_path / "r"], capsys, 2,
        "--mbstd", ">= 0")
    bad(["train", "--arch", "resnet", "--g-filters", 8, "--out", tmp_path / "r"], capsys, 2,
        "--g-filters", "--g-channels")
    data = tmp_path / "big.npz"
    np.savez(data, x_train=np.zeros((16, 40, 40), np.uint8))
    bad(["train", "--arch", "resnet", "--dataset", f"npz:{data}", "--dry-run",
         "--out", tmp_path / "r", *TINY_RESNET], capsys, 2, "40x40", "28, 32, 48, 64, 128")
