"""--update alternating: D's update, then G's through the updated D (--g-latents fresh or same);
it differs from the simultaneous update, is the same mathematics on 1 and 2 replicas, and
resumes bitwise."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool.distribute import make_strategy
from gantool.errors import UsageError
from gantool.gan import GAN
from gantool.losses import LOSSES
from gantool.models import build_models
from gantool.training.build import validate_step
from tests.conftest import make_config
from tests.test_fault_tolerance import TINY, assert_bitwise_equal, latest, ok

BATCH, LATENT, LR = 8, 4, 0.1


def _models(seed=0, data_shape=(2,), **values):
    config = make_config(arch="mlp", data_shape=list(data_shape), latent_dim=LATENT,
                         g_hidden=[16], d_hidden=[16], dropout=0.0, **values)
    keras.utils.set_random_seed(seed)
    return build_models(config)


def _batches(steps, seed=0, g_steps=1):
    """``steps`` global batches of real points x (N, 2), D's latents z (N, 4), G's fresh
    latents g_z (N, g_steps, 4) and GP weights alpha (N, 1)."""
    rng = np.random.default_rng(seed)
    n = BATCH * steps
    return {"x": rng.standard_normal((n, 2)).astype("float32"),
            "z": rng.standard_normal((n, LATENT)).astype("float32"),
            "g_z": rng.standard_normal((n, g_steps, LATENT)).astype("float32"),
            "alpha": rng.uniform(size=(n, 1)).astype("float32")}


def train(strategy, update="alternating", same=False, steps=1, loss="ns", **gan_options):
    """(G weights, D weights) after ``steps`` SGD steps on :func:`_batches` under ``strategy``."""
    with strategy.scope():
        generator, discriminator = _models(pack=gan_options.get("pack", 1))
        gan = GAN(generator, discriminator, latent_dim=LATENT, loss=loss, update=update,
                  same_latents=same, **gan_options)
        gan.compile(keras.optimizers.SGD(LR), keras.optimizers.SGD(LR))
        gan.build_optimizers()
    batches = _batches(steps, g_steps=gan_options.get("g_steps", 1))
    data = tf.data.Dataset.from_tensor_slices(batches).batch(BATCH)
    gan.fit(data, epochs=1, verbose=0, shuffle=False)
    return ([w.numpy() for w in generator.weights], [w.numpy() for w in discriminator.weights])


@pytest.fixture(scope="module")
def strategies():
    two = make_strategy("mirrored")
    assert two.num_replicas_in_sync == 2
    return make_strategy("one-device"), two


def _max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def test_alternating_and_simultaneous_differ(strategies):
    one, _ = strategies
    g_sim, d_sim = train(one, "simultaneous")
    g_alt, d_alt = train(one, "alternating", same=True)
    # D's update is the same (same latents, same D before it); G's goes through another D
    assert _max_difference(d_sim, d_alt) == 0
    assert _max_difference(g_sim, g_alt) > 1e-6  # G moves ~1e-4 here; rounding ~1e-9


@pytest.mark.parametrize("same", [True, False], ids=["same-latents", "fresh-latents"])
def test_alternating_g_step_goes_through_the_updated_d(strategies, same):
    """The GAN's alternating step equals, by hand: one SGD step on D's loss, then one SGD step
    on G's loss through that updated D (on D's latents, or the given fresh ones)."""
    one, _ = strategies
    g_alt, d_alt = train(one, "alternating", same=same)
    generator, discriminator = _models()
    batch = {k: v[:BATCH] for k, v in _batches(1).items()}
    loss = LOSSES.get("ns")
    with tf.GradientTape() as tape:
        d_loss = tf.reduce_mean(loss.d_loss(discriminator(batch["x"], training=True),
                                            discriminator(generator(batch["z"], training=True),
                                                          training=True), 0.0))
    for v, g in zip(discriminator.trainable_variables,
                    tape.gradient(d_loss, discriminator.trainable_variables)):
        v.assign_sub(LR * g)
    z = batch["z"] if same else batch["g_z"][:, 0]
    with tf.GradientTape() as tape:
        g_loss = tf.reduce_mean(loss.g_loss(discriminator(generator(z, training=True),
                                                          training=True)))
    for v, g in zip(generator.trainable_variables,
                    tape.gradient(g_loss, generator.trainable_variables)):
        v.assign_sub(LR * g)
    assert _max_difference(d_alt, [w.numpy() for w in discriminator.weights]) < 1e-6
    assert _max_difference(g_alt, [w.numpy() for w in generator.weights]) < 1e-6


# ns and wgan-gp (the gradient penalty, on the given alpha) cover the step's paths; the other
# losses only change the per-example loss functions (test_distribute.py checks those on 2
# replicas). --d-steps > 1 splits each replica's share of the batch into chunks, so its chunks
# hold other examples on 2 replicas than on 1 (as before this option): not compared here.
@pytest.mark.parametrize("loss,options", [
    ("ns", {}), ("wgan-gp", {"r1_gamma": 1.0, "pack": 2, "g_steps": 2}),
    *[pytest.param(name, {}, marks=pytest.mark.slow)
      for name in LOSSES.names() if name not in ("ns", "wgan-gp")]])
def test_alternating_is_the_same_on_one_and_two_replicas(strategies, loss, options):
    one, two = strategies
    g1, d1 = train(one, steps=2, loss=loss, **options)
    g2, d2 = train(two, steps=2, loss=loss, **options)
    assert _max_difference(g1, g2) < 1e-5
    assert _max_difference(d1, d2) < 1e-5


def test_alternating_with_drawn_latents_noise_and_labels_trains(strategies):
    """Conditional, instance noise and drawn latents through the alternating step: finite."""
    one, _ = strategies
    config = make_config(arch="mlp", data_shape=[2], latent_dim=LATENT, g_hidden=[8],
                         d_hidden=[8], conditional=True, num_classes=3)
    with one.scope():
        generator, discriminator = build_models(config)
        gan = GAN(generator, discriminator, latent_dim=LATENT, conditional=True,
                  instance_noise=0.1, total_steps=2, update="alternating", same_latents=True)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        gan.build_optimizers()
    x = np.random.default_rng(0).standard_normal((16, 2)).astype("float32")
    y = np.arange(16, dtype=np.int32) % 3
    history = gan.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH), verbose=0)
    assert all(np.isfinite(history.history[k][-1]) for k in ("d_loss", "g_loss"))


def test_g_latents_same_needs_an_alternating_update():
    with pytest.raises(UsageError, match="--g-latents same needs --update alternating"):
        validate_step(make_config(g_latents="same"))
    with pytest.raises(UsageError, match="^unknown update 'both'"):
        validate_step(make_config(update="both"))
    validate_step(make_config(g_latents="same", d_steps=2))


def _resumable_gan(strategy):
    with strategy.scope():
        generator, discriminator = _models()
        gan = GAN(generator, discriminator, latent_dim=LATENT, update="alternating", seed=3)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        gan.build_optimizers()
    state = tf.train.Checkpoint(generator=generator, discriminator=discriminator,
                                d_optimizer=gan.d_optimizer, g_optimizer=gan.g_optimizer)
    return gan, state


def test_alternating_restored_from_a_checkpoint_continues_bitwise(strategies, tmp_path):
    """4 steps = 2 steps, checkpoint, a fresh GAN restored from it, 2 steps (latents drawn
    from the restored step count)."""
    one, _ = strategies
    x = _batches(4)["x"]
    first_half = tf.data.Dataset.from_tensor_slices(x[:2 * BATCH]).batch(BATCH)
    second_half = tf.data.Dataset.from_tensor_slices(x[2 * BATCH:]).batch(BATCH)
    whole, whole_state = _resumable_gan(one)
    whole.fit(first_half, verbose=0)
    path = whole_state.write(str(tmp_path / "ckpt"))
    whole.fit(second_half, verbose=0)  # the same fit() function: 4 steps in one go
    again, again_state = _resumable_gan(one)
    again_state.read(path).assert_consumed()
    again.fit(second_half, verbose=0)
    for a, b in zip(whole.generator.weights + whole.discriminator.weights,
                    again.generator.weights + again.discriminator.weights):
        assert a.numpy().tobytes() == b.numpy().tobytes()


@pytest.mark.slow  # the in-process checkpoint test above covers the step; this the CLI's resume
def test_alternating_resumes_bitwise(tmp_path, capsys):
    """4 steps in one go = 2 steps, then --resume for 2 more (through the CLI)."""
    args = ["train", *TINY, "--steps-per-epoch", 2, "--update", "alternating",
            "--adam-epsilon", 1e-8]
    ok([*args, "--epochs", 2, "--out", tmp_path / "whole"], capsys)
    ok([*args, "--epochs", 1, "--out", tmp_path / "part"], capsys)
    ok(["train", "--out", tmp_path / "part", "--resume", "--epochs", 2, "--quiet"], capsys)
    assert_bitwise_equal(latest(tmp_path / "part"), latest(tmp_path / "whole"))
