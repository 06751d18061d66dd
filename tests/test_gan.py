"""The GAN train step: losses, logs, latent draws and label smoothing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool.gan import GAN, LOG_NAMES, has_batch_norm, sample_latents
from gantool.losses import LOSSES
from gantool.models import build_models
from tests.conftest import make_config


def make_gan(arch="mlp", shape=(2,), smoothing=0.0, lr=1e-3, seed=0, **kw):
    config = make_config(arch=arch, data_shape=list(shape), latent_dim=4, g_hidden=[8],
                         d_hidden=[8], dropout=0.0, g_filters=4, d_filters=4, **kw)
    keras.utils.set_random_seed(seed)
    generator, discriminator = build_models(config)
    gan = GAN(generator, discriminator, latent_dim=4, label_smoothing=smoothing, seed=seed)
    gan.compile(keras.optimizers.Adam(lr, beta_1=0.5), keras.optimizers.Adam(lr, beta_1=0.5))
    gan.build_optimizers()
    return gan


def _bce(logits, target):
    p = 1 / (1 + np.exp(-logits))
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_logged_values_match_a_hand_computation(smoothing):
    gan = make_gan(smoothing=smoothing)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 2)).astype("float32")
    z = rng.standard_normal((16, 4)).astype("float32")
    real_logits = gan.discriminator(x).numpy().ravel()
    fake_logits = gan.discriminator(gan.generator(z)).numpy().ravel()
    logs = gan.train_on_batch({"x": x, "z": z}, return_dict=True)
    expected_d = np.mean(_bce(real_logits, 1 - smoothing) + _bce(fake_logits, 0))
    expected_g = np.mean(_bce(fake_logits, 1))
    assert logs["d_loss"] == pytest.approx(expected_d, rel=1e-5)
    assert logs["g_loss"] == pytest.approx(expected_g, rel=1e-5)
    d_real, d_fake = 1 / (1 + np.exp(-real_logits)), 1 / (1 + np.exp(-fake_logits))
    assert logs["d_real"] == pytest.approx(d_real.mean(), rel=1e-5)
    assert logs["d_fake"] == pytest.approx(d_fake.mean(), rel=1e-5)
    assert logs["d_acc_real"] == pytest.approx((d_real > 0.5).mean())
    assert logs["d_acc_fake"] == pytest.approx((d_fake < 0.5).mean())
    assert set(LOG_NAMES) <= set(logs)


def test_one_step_updates_both_networks_by_about_the_learning_rate():
    gan = make_gan(lr=1e-3)
    before_g = [v.numpy().copy() for v in gan.generator.trainable_variables]
    before_d = [v.numpy().copy() for v in gan.discriminator.trainable_variables]
    x = np.random.default_rng(1).standard_normal((32, 2)).astype("float32")
    gan.train_on_batch(x)
    for before, variables in ((before_g, gan.generator), (before_d, gan.discriminator)):
        deltas = np.concatenate([np.abs(v.numpy() - b).ravel()
                                 for v, b in zip(variables.trainable_variables, before)])
        # Adam's first step moves each parameter with a non-zero gradient by ~lr.
        assert deltas.max() == pytest.approx(1e-3, rel=0.03)
    assert int(gan.d_optimizer.iterations.numpy()) == 1
    assert int(gan.g_optimizer.iterations.numpy()) == 1


def test_drawn_latents_change_each_step_and_repeat_with_the_seed():
    def draws(seed):
        gan = make_gan(seed=seed)
        out = []
        for _ in range(2):
            out.append(gan.draw_latents(8).numpy())
            gan.d_optimizer.iterations.assign_add(1)
        return out

    a, b = draws(0), draws(0)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], a[1])
    assert not np.allclose(a[0], draws(1)[0])


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_latent_distributions(dist):
    z = sample_latents((20000, 2), dist, tf.constant([1, 2])).numpy()
    if dist == "normal":
        assert abs(z.mean()) < 0.03 and z.std() == pytest.approx(1, abs=0.03)
    else:
        assert z.min() >= -1 and z.max() <= 1 and z.std() == pytest.approx(1 / 3**0.5, abs=0.02)


def test_fused_discriminator_pass_only_without_batch_norm():
    assert make_gan("mlp").fuse_discriminator
    dcgan = make_gan("dcgan", shape=(28, 28, 1))
    assert has_batch_norm(dcgan.discriminator) and not dcgan.fuse_discriminator


def test_fused_pass_gives_the_unfused_step():
    x = np.random.default_rng(2).standard_normal((8, 2)).astype("float32")
    z = np.random.default_rng(3).standard_normal((8, 4)).astype("float32")
    results = []
    for fuse in (True, False):
        gan = make_gan()
        gan.fuse_discriminator = fuse
        logs = gan.train_on_batch({"x": x, "z": z}, return_dict=True)
        results.append((logs, [v.numpy() for v in gan.discriminator.trainable_variables]))
    assert results[0][0]["d_loss"] == pytest.approx(results[1][0]["d_loss"], rel=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", LOSSES.names())
def test_losses_are_per_example_and_finite(name):
    loss = LOSSES.get(name)
    logits = tf.constant([[-30.0], [0.0], [30.0]])
    assert loss.d_loss(logits, logits, 0.0).shape == (3,)
    paired = (logits[::-1],) if loss.relativistic else ()  # G's loss pairs fakes with reals
    assert loss.g_loss(logits, *paired).shape == (3,)
    assert np.isfinite(loss.d_loss(logits, logits, 0.1).numpy()).all()
