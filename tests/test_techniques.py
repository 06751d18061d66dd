"""Techniques of the train step (issue 13): the rpgan loss, the R2 penalty, DiffAugment and ADA
in the step; the same training on 2 replicas as on 1; ADA's p resumed exactly; their settings."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool import adaptive, augment, objectives, penalties
from gantool.adaptive import Augmenter
from gantool.config import TrainConfig
from gantool.config import checks as config_checks
from gantool.config.train_config import RESUMABLE_SETTINGS
from gantool.gan import AUGMENT_LOG_NAMES, GAN, LOG_NAMES
from gantool.losses import LOSSES
from gantool.models import build_models
from tests.conftest import make_config
from tests.test_bad_inputs import assert_fails
from tests.test_distribute import max_difference, strategies  # noqa: F401 (a fixture)
from tests.test_fault_tolerance import assert_bitwise_equal, latest, ok, variables

GLOBAL_BATCH = 8
IMAGE = [8, 8, 1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "run_v0_1_0"


def softplus(x):
    return np.logaddexp(0.0, x)


def make_gan(shape=(2,), seed=0, optimizer=lambda: keras.optimizers.SGD(0.1), real_bias=None,
             **gan_kwargs):
    """A tiny mlp GAN (no dropout) for data of ``shape``; ``real_bias``: D's output bias."""
    config = make_config(arch="mlp", data_shape=list(shape), latent_dim=4, g_hidden=[16],
                         d_hidden=[16], dropout=0.0)
    keras.utils.set_random_seed(seed)
    generator, discriminator = build_models(config)
    if real_bias is not None:
        discriminator.layers[-1].bias.assign(tf.fill(discriminator.layers[-1].bias.shape,
                                                     float(real_bias)))
    gan = GAN(generator, discriminator, latent_dim=4, seed=seed, **gan_kwargs)
    gan.compile(optimizer(), optimizer())
    gan.build_optimizers()
    return gan


def train(strategy, shape, steps, fuse=True, real_bias=None, **gan_kwargs):
    """``steps`` SGD steps under ``strategy`` from fixed weights and latents; returns
    (G weights, D weights, logs per step, ADA variables or [])."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (GLOBAL_BATCH * steps, *shape)).astype("float32")
    z = rng.standard_normal((GLOBAL_BATCH * steps, 4)).astype("float32")
    with strategy.scope():
        gan = make_gan(shape, real_bias=real_bias, **gan_kwargs)
    gan.fuse_discriminator = fuse
    dataset = tf.data.Dataset.from_tensor_slices({"x": x, "z": z}).batch(GLOBAL_BATCH)
    logs = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs=None, out=logs: out.append(
            {k: float(v) for k, v in logs.items()}))
    gan.fit(dataset, epochs=1, verbose=0, callbacks=[callback], shuffle=False)
    state = [v.numpy() for v in gan.augmenter.variables] if gan.augmenter else []
    return ([v.numpy() for v in gan.generator.weights],
            [v.numpy() for v in gan.discriminator.weights], logs, state)


# --- rpgan and R2 -----------------------------------------------------------------------------


def test_rpgan_matches_the_numpy_formula():
    loss = LOSSES.get("rpgan")
    assert loss.relativistic and not loss.probabilistic and not loss.supports_label_smoothing
    r, f = np.array([2.0, -1.0, 0.0, 0.3]), np.array([-1.0, 2.0, 0.0, 0.3])
    d = loss.d_loss(tf.constant(r[:, None]), tf.constant(f[:, None])).numpy()
    g = loss.g_loss(tf.constant(f[:, None]), tf.constant(r[:, None])).numpy()
    np.testing.assert_allclose(d, softplus(f - r), rtol=1e-6)
    np.testing.assert_allclose(g, softplus(r - f), rtol=1e-6)
    assert "rpgan" in LOSSES.names()


def linear_discriminator(w, b):
    d = keras.Sequential([keras.Input((len(w),)), keras.layers.Dense(1)])
    d.layers[0].set_weights([np.array(w, "float32")[:, None], np.array([b], "float32")])
    return d


def test_r2_penalty_on_a_linear_discriminator():
    """D(x) = w.x + b: the input gradient is w for every example, so R2 = |w|^2 per example,
    the D objective gains gamma/2 |w|^2, whose gradient in w is gamma w; no gradient to G."""
    w, gamma = [0.5, -2.0, 1.0], 3.0
    d = linear_discriminator(w, 0.25)
    fake = tf.constant(np.random.default_rng(0).normal(size=(5, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(fake)
        r2 = penalties.r2_penalty(d, fake)
    np.testing.assert_allclose(r2.numpy(), [np.dot(w, w)] * 5, rtol=1e-6)
    assert tape.gradient(r2, fake) is None  # stop_gradient: a D-only term
    gan = make_gan((3,), r2_gamma=gamma)
    gan.discriminator = d
    real = tf.zeros((5, 3))
    kernel = d.layers[0].kernel
    with tf.GradientTape(persistent=True) as tape:
        per_example, total = objectives.d_objective(gan, real, fake, None, d(real), d(fake))
        plain = tf.reduce_mean(per_example)
    assert float(total - plain) == pytest.approx(0.5 * gamma * np.dot(w, w), rel=1e-5)
    extra = tape.gradient(total, kernel) - tape.gradient(plain, kernel)
    np.testing.assert_allclose(extra.numpy()[:, 0], gamma * np.array(w), rtol=1e-5)


# --- augmentation in the step -----------------------------------------------------------------


def test_diffaugment_changes_d_inputs_and_g_still_learns():
    gan = make_gan(IMAGE, augment="diffaugment")
    rng = np.random.default_rng(1)
    real = tf.constant(rng.uniform(-1, 1, (GLOBAL_BATCH, *IMAGE)), tf.float32)
    z = tf.constant(rng.standard_normal((GLOBAL_BATCH, 4)), tf.float32)
    with tf.GradientTape() as tape:
        fake = gan.generate(z, None, training=True)
        real_logits, fake_logits, real_in, fake_in = gan.discriminate(real, fake, None)
        _, g_loss = objectives.g_objective(gan, fake_logits, real_logits)
    assert not np.allclose(real_in.numpy(), real.numpy())
    assert not np.allclose(fake_in.numpy(), fake.numpy())
    grads = tape.gradient(g_loss, gan.generator.trainable_variables)
    assert all(g is not None for g in grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0
    logs = gan.train_on_batch({"x": real, "z": z}, return_dict=True)
    assert set(LOG_NAMES) | set(AUGMENT_LOG_NAMES) <= set(logs)
    assert float(logs["aug_p"]) == 1.0 and -1 <= float(logs["d_sign_real"]) <= 1


def test_augmentation_draws_do_not_depend_on_the_number_of_replicas():
    """Rows [start, start + n) of a global batch get the transforms the whole batch gives them."""
    x = tf.constant(np.random.default_rng(2).uniform(-1, 1, (8, 8, 8, 3)), tf.float32)
    seed = tf.constant([5, 6])
    whole = augment.diff_augment(x, seed, p=tf.constant(0.5))
    halves = [augment.diff_augment(x[i:i + 4], seed, p=tf.constant(0.5), rows=(i, 8))
              for i in (0, 4)]
    np.testing.assert_array_equal(np.concatenate([h.numpy() for h in halves]), whole.numpy())


# --- 1 replica == 2 replicas ------------------------------------------------------------------

TWO_REPLICA_CASES = {
    "rpgan-r1-r2": dict(shape=[2], loss="rpgan", r1_gamma=1.0, r2_gamma=2.0),
    "rpgan-alternating": dict(shape=[2], loss="rpgan", r2_gamma=2.0, update="alternating"),
    "diffaugment-r1": dict(shape=IMAGE, augment="diffaugment", r1_gamma=1.0, loss="rpgan",
                           r2_gamma=1.0),
    "diffaugment-unfused": dict(shape=IMAGE, augment="diffaugment", fuse=False),
    "ada": dict(shape=IMAGE, augment="ada", ada_kimg=0.05, ada_interval=2, real_bias=3.0),
}


@pytest.mark.parametrize("case", TWO_REPLICA_CASES)
def test_two_replicas_match_one(strategies, case):  # noqa: F811
    one, two = strategies
    kwargs = dict(TWO_REPLICA_CASES[case])
    shape = kwargs.pop("shape")
    g1, d1, logs1, state1 = train(one, shape, 4, **kwargs)
    g2, d2, logs2, state2 = train(two, shape, 4, **kwargs)
    assert max_difference(g1, g2) < 1e-5 and max_difference(d1, d2) < 1e-5
    for a, b in zip(logs1, logs2, strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    np.testing.assert_array_equal(state1, state2)  # ADA's p and accumulators: exactly
    if case == "ada":
        assert state1[0] > 0  # D scores reals positive: p rose
        assert [log["aug_p"] for log in logs1] == pytest.approx([0, 0.32, 0.32, 0.64], abs=1e-6)


# --- ADA's heuristic --------------------------------------------------------------------------


def test_ada_p_rises_when_d_is_overconfident_and_stays_in_0_1():
    ada = Augmenter("ada", target=0.6, kimg=0.01, interval=2)  # a step of 2*4/10 = 0.8 per update
    positive, negative = tf.fill([4, 1], 3.0), tf.fill([4, 1], -3.0)
    p = []
    for step in range(1, 9):
        ada.observe(positive if step <= 4 else negative, tf.constant(step, tf.int64))
        p.append(float(ada.p.numpy()))
    assert p == pytest.approx([0, 0.8, 0.8, 1.0, 1.0, 0.2, 0.2, 0.0])
    assert float(ada.count.numpy()) == 0 and float(ada.sign_sum.numpy()) == 0


def test_ada_in_the_step_moves_p_from_d_outputs():
    gan = make_gan(IMAGE, augment="ada", ada_kimg=0.01, ada_interval=1, real_bias=5.0)
    x = np.random.default_rng(3).uniform(-1, 1, (GLOBAL_BATCH, *IMAGE)).astype("float32")
    for _ in range(3):
        logs = gan.train_on_batch(x, return_dict=True)
    assert float(logs["d_sign_real"]) == 1.0
    assert float(logs["aug_p"]) == float(gan.augmenter.p.numpy()) == 1.0


# --- the command line: resume, settings -------------------------------------------------------


def image_data(tmp_path):
    path = tmp_path / "images.npz"
    rng = np.random.default_rng(4)
    np.savez(path, x_train=rng.integers(0, 256, (64, 8, 8), dtype=np.uint8))
    return path


def ada_args(data, run_dir, epochs):
    return ["train", "--arch", "mlp", "--dataset", f"npz:{data}", "--g-hidden", 16,
            "--d-hidden", 16, "--latent-dim", 4, "--batch-size", 8, "--steps-per-epoch", 6,
            "--augment", "ada", "--ada-kimg", 0.02, "--ada-interval", 2, "--ada-target", 0.05,
            "--seed", 3, "--sample-every", 1000, "--no-tensorboard", "--quiet",
            "--epochs", epochs, "--out", run_dir]


def test_ada_resume_is_exact_in_weights_and_p(tmp_path):
    data = image_data(tmp_path)
    ok(ada_args(data, tmp_path / "whole", 2))
    ok(ada_args(data, tmp_path / "halves", 1))
    ok([*ada_args(data, tmp_path / "halves", 2), "--resume"])
    assert_bitwise_equal(latest(tmp_path / "halves"), latest(tmp_path / "whole"))
    saved = {k: v for k, v in variables(latest(tmp_path / "whole")).items() if "augment" in k}
    assert len(saved) == 3  # p and its two accumulators
    header = (tmp_path / "whole" / "steps.csv").read_text().splitlines()[0]
    assert header.endswith("aug_p,d_sign_real")
    assert "aug_p" in (tmp_path / "whole" / "metrics.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("flags,fragment", [
    (["--augment", "blur"], "--augment"),
    (["--augment", "ada", "--augment-policy", "color,blur"], "color,blur"),
    (["--augment", "ada", "--ada-target", "1.5"], "--ada-target"),
    (["--augment", "ada", "--ada-kimg", "0"], "--ada-kimg"),
    (["--augment", "ada", "--ada-interval", "0"], "--ada-interval"),
    (["--r2", "-1"], "--r2"),
])
def test_bad_values_are_usage_errors(tmp_path, flags, fragment):
    assert_fails(["train", "--arch", "mlp", "--dataset", "ring", *flags, "--out",
                  tmp_path / "run"], 2, fragment)


def test_bad_recipe_values_are_named(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('augment = "ada"\nada_interval = 0\n')
    assert_fails(["train", "--config", recipe, "--arch", "mlp", "--dataset", "ring", "--out",
                  tmp_path / "run"], 2, "ada-interval", "0")


def test_augment_on_points_is_a_usage_error(tmp_path):
    assert_fails(["train", "--arch", "mlp", "--dataset", "ring", "--augment", "diffaugment",
                  "--g-hidden", 8, "--d-hidden", 8, "--steps-per-epoch", 1, "--epochs", 1,
                  "--quiet", "--out", tmp_path / "run"], 2, "--augment diffaugment", "images")


def test_settings_defaults_and_old_runs():
    config = TrainConfig.from_saved(json.loads((FIXTURE / "config.json").read_text()))
    assert (config.augment, config.r2, config.augment_policy) == \
        ("none", 0.0, "color,translation,cutout")
    assert (config.ada_target, config.ada_kimg, config.ada_interval) == (0.6, 500.0, 4)
    names = ("augment", "augment_policy", "ada_target", "ada_kimg", "ada_interval", "r2")
    assert not set(names) & set(RESUMABLE_SETTINGS)
    assert config_checks.AUGMENTS == adaptive.AUGMENTS
    assert config_checks.AUGMENT_OPERATIONS == augment.POLICIES
