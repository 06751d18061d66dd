"""GAN losses (values, gradients, label smoothing, metadata) and gradient penalties."""

import copy
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool.losses import LOSSES
from gantool.penalties import gradient_penalty, interpolation_alpha, r1_penalty


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


# Reference formulas in numpy, per loss: d(r, f, s), g(f), and their analytic derivatives
# dd/dr, dd/df, dg/df. r, f are raw D outputs on real / fake samples; s the label smoothing.
# A relativistic loss's g and dg_df take (f, r): its G loss pairs the fakes with the reals.
# A newly registered loss fails test_every_loss_has_a_reference until it gets an entry here.
BCE = dict(
    d=lambda r, f, s: (1 - s) * softplus(-r) + s * softplus(r) + softplus(f),
    dd_dr=lambda r, f, s: sigmoid(r) - (1 - s),
    dd_df=lambda r, f, s: sigmoid(f),
)
REFERENCE = {
    "ns": dict(BCE, g=lambda f: -np.log(sigmoid(f)), dg_df=lambda f: sigmoid(f) - 1),
    "minimax": dict(BCE, g=lambda f: np.log(1 - sigmoid(f)), dg_df=lambda f: -sigmoid(f)),
    "hinge": dict(
        d=lambda r, f, s: relu(1 - r) + relu(1 + f),
        dd_dr=lambda r, f, s: -(r < 1).astype(float),
        dd_df=lambda r, f, s: (f > -1).astype(float),
        g=lambda f: -f, dg_df=lambda f: -np.ones_like(f)),
    "lsgan": dict(
        d=lambda r, f, s: 0.5 * (r - (1 - s)) ** 2 + 0.5 * f ** 2,
        dd_dr=lambda r, f, s: r - (1 - s),
        dd_df=lambda r, f, s: f,
        g=lambda f: 0.5 * (f - 1) ** 2, dg_df=lambda f: f - 1),
    "wgan-gp": dict(
        d=lambda r, f, s: f - r,
        dd_dr=lambda r, f, s: -np.ones_like(r),
        dd_df=lambda r, f, s: np.ones_like(f),
        g=lambda f: -f, dg_df=lambda f: -np.ones_like(f)),
    "rpgan": dict(
        d=lambda r, f, s: softplus(f - r),
        dd_dr=lambda r, f, s: -sigmoid(f - r),
        dd_df=lambda r, f, s: sigmoid(f - r),
        g=lambda f, r: softplus(r - f), dg_df=lambda f, r: -sigmoid(r - f)),
}

# Hand-picked outputs away from the hinge kinks (r = 1, f = -1).
REAL = np.array([-2.0, 0.0, 3.0, 0.5])
FAKE = np.array([3.0, 0.0, -2.0, -0.5])


def d_loss_and_grads(loss, real, fake, smoothing, shape):
    r = tf.constant(real.reshape(shape), tf.float32)
    f = tf.constant(fake.reshape(shape), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch([r, f])
        value = loss.d_loss(r, f, smoothing)
        total = tf.reduce_sum(value)
    dr, df = tape.gradient(total, [r, f])
    return value.numpy(), dr.numpy().reshape(-1), df.numpy().reshape(-1)


def g_loss_and_grad(loss, fake, shape=(-1,), real=None):
    """G's loss and its gradient w.r.t. the fake outputs; ``real``: the paired real outputs of
    a relativistic loss."""
    f = tf.constant(fake.reshape(shape), tf.float32)
    paired = (tf.constant(real.reshape(shape), tf.float32),) if loss.relativistic else ()
    with tf.GradientTape() as tape:
        tape.watch(f)
        value = loss.g_loss(f, *paired)
        total = tf.reduce_sum(value)
    return value.numpy(), tape.gradient(total, f).numpy().reshape(-1)


def test_registered_losses():
    assert LOSSES.names()[0] == "ns"
    assert set(LOSSES.names()) >= {"ns", "minimax", "hinge", "lsgan", "wgan-gp"}


def test_importing_losses_does_not_import_tensorflow():
    code = ("import sys, gantool.losses, gantool.penalties; from gantool.losses import LOSSES; "
            "LOSSES.names(); assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_has_a_reference(name):
    assert name in REFERENCE, f"add numpy reference formulas for loss {name!r} to this test"


@pytest.mark.parametrize("shape", [(-1, 1), (-1,)])
@pytest.mark.parametrize("name", LOSSES.names())
def test_values_and_gradients_match_reference(name, shape):
    loss, ref = LOSSES.get(name), REFERENCE[name]
    smoothing = 0.1 if loss.supports_label_smoothing else 0.0
    for s in {0.0, smoothing}:
        value, dr, df = d_loss_and_grads(loss, REAL, FAKE, s, shape)
        assert value.shape == (len(REAL),)
        np.testing.assert_allclose(value, ref["d"](REAL, FAKE, s), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dr, ref["dd_dr"](REAL, FAKE, s), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(df, ref["dd_df"](REAL, FAKE, s), rtol=1e-5, atol=1e-6)
    value, grad = g_loss_and_grad(loss, FAKE, shape, REAL)
    paired = (REAL,) if loss.relativistic else ()
    assert value.shape == (len(FAKE),)
    np.testing.assert_allclose(value, ref["g"](FAKE, *paired), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, ref["dg_df"](FAKE, *paired), rtol=1e-5, atol=1e-6)


def test_hand_computed_values():
    def d(name, r, f, s=0.0):
        return LOSSES.get(name).d_loss(tf.constant([r]), tf.constant([f]), s).numpy()[0]

    def g(name, f):
        return LOSSES.get(name).g_loss(tf.constant([f])).numpy()[0]

    log2 = np.log(2.0)
    assert d("ns", 0.0, 0.0) == pytest.approx(2 * log2)
    assert g("ns", 0.0) == pytest.approx(log2)
    assert g("minimax", 0.0) == pytest.approx(-log2)
    assert d("hinge", 0.0, 0.0) == pytest.approx(2.0)
    assert d("hinge", 2.0, -3.0) == pytest.approx(0.0)
    assert g("hinge", 1.5) == pytest.approx(-1.5)
    assert d("lsgan", 1.0, 0.0) == pytest.approx(0.0)
    assert d("lsgan", 0.0, 1.0) == pytest.approx(1.0)
    assert d("lsgan", 1.0, 0.0, 0.2) == pytest.approx(0.5 * 0.2 ** 2)
    assert g("lsgan", 3.0) == pytest.approx(2.0)
    assert d("wgan-gp", 3.0, -2.0) == pytest.approx(-5.0)
    assert g("wgan-gp", 3.0) == pytest.approx(-3.0)


@pytest.mark.parametrize("name", LOSSES.names())
def test_label_smoothing(name):
    loss = LOSSES.get(name)
    real, fake = tf.constant([[4.0], [0.3]]), tf.constant([[-1.0], [0.2]])
    plain = loss.d_loss(real, fake, 0.0).numpy()
    smoothed = loss.d_loss(real, fake, 0.2).numpy()
    if not loss.supports_label_smoothing:
        np.testing.assert_allclose(smoothed, plain)  # no target: the argument is ignored
        return
    assert not np.allclose(smoothed, plain)
    # One-sided: the fake term is untouched.
    fake_only = loss.d_loss(real, fake, 0.2) - loss.d_loss(real, tf.zeros_like(fake), 0.2)
    np.testing.assert_allclose(fake_only.numpy(),
                               (loss.d_loss(real, fake, 0.0) -
                                loss.d_loss(real, tf.zeros_like(fake), 0.0)).numpy(), atol=1e-6)
    # The real term is minimised where D's output (probability or raw) equals 1 - s.
    s = 0.2
    optimum = np.log((1 - s) / s) if loss.probabilistic else 1 - s
    for r, sign in ((optimum, 0), (optimum + 0.5, 1), (optimum - 0.5, -1)):
        _, dr, _ = d_loss_and_grads(loss, np.array([r]), np.array([0.0]), s, (-1,))
        if sign == 0:
            assert dr[0] == pytest.approx(0.0, abs=1e-6)
        else:
            assert np.sign(dr[0]) == sign
    np.testing.assert_allclose(loss.output_values(tf.constant([optimum])).numpy(), [1 - s],
                               rtol=1e-6)


def test_ns_and_minimax_share_d_loss_but_not_g_gradient():
    ns, minimax = LOSSES.get("ns"), LOSSES.get("minimax")
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 3, 16), rng.normal(0, 3, 16)
    for s in (0.0, 0.1):
        np.testing.assert_allclose(d_loss_and_grads(ns, real, fake, s, (-1, 1))[0],
                                   d_loss_and_grads(minimax, real, fake, s, (-1, 1))[0])
    # D confidently rejects the fakes: minimax's G gradient vanishes (saturates), ns's does not.
    _, minimax_grad = g_loss_and_grad(minimax, np.array([-10.0]))
    _, ns_grad = g_loss_and_grad(ns, np.array([-10.0]))
    assert abs(minimax_grad[0]) < 1e-4
    assert ns_grad[0] == pytest.approx(-1.0, abs=1e-4)
    # Both push fake outputs up, and agree at D(G(z)) = 1/2.
    _, a = g_loss_and_grad(ns, np.array([0.0]))
    _, b = g_loss_and_grad(minimax, np.array([0.0]))
    assert a[0] == pytest.approx(b[0]) == pytest.approx(-0.5)


@pytest.mark.parametrize("name", LOSSES.names())
def test_threshold_orients_outputs(name):
    """A D that puts reals above ``output_threshold`` and fakes below has the lower D loss and
    counts as accurate; G's loss falls as its samples' outputs rise past the threshold."""
    loss = LOSSES.get(name)
    t, delta = loss.output_threshold, 0.5
    good = loss.d_loss(tf.constant([t + delta]), tf.constant([t - delta]), 0.0).numpy()[0]
    bad = loss.d_loss(tf.constant([t - delta]), tf.constant([t + delta]), 0.0).numpy()[0]
    assert good < bad
    paired = (tf.constant([t]),) if loss.relativistic else ()  # the real it is paired with
    assert loss.g_loss(tf.constant([t + delta]), *paired).numpy()[0] < \
        loss.g_loss(tf.constant([t - delta]), *paired).numpy()[0]
    np.testing.assert_array_equal(
        loss.classified_real(tf.constant([[t + delta], [t - delta]])).numpy(), [True, False])
    values = loss.output_values(tf.constant([[t]])).numpy()
    assert values.shape == (1,)
    assert values[0] == pytest.approx(0.5 if loss.probabilistic else t)


def test_metadata():
    assert [n for n in LOSSES.names() if LOSSES.get(n).needs_gradient_penalty] == ["wgan-gp"]
    assert {n for n in LOSSES.names() if LOSSES.get(n).supports_label_smoothing} == \
        {"ns", "minimax", "lsgan"}
    assert {n for n in LOSSES.names() if LOSSES.get(n).probabilistic} == {"ns", "minimax"}
    assert LOSSES.get("lsgan").output_threshold == 0.5
    wgan = LOSSES.get("wgan-gp").recommended
    assert wgan["beta1"] == 0.0 and wgan["beta2"] == 0.9
    assert wgan["n_critic"] == 5 and wgan["gp_weight"] == 10.0
    with pytest.raises(TypeError):
        wgan["n_critic"] = 1  # read-only
    assert dict(LOSSES.get("ns").recommended) == {}
    for name in LOSSES.names():  # copies and pickles (e.g. if a model holding it is copied)
        loss = LOSSES.get(name)
        assert copy.deepcopy(loss).recommended == pickle.loads(pickle.dumps(loss)).recommended \
            == loss.recommended
    assert all(LOSSES.get(n).description for n in LOSSES.names())


# -- penalties ------------------------------------------------------------------------------

IMAGE = (2, 3, 1)


def linear_discriminator(w, bias=0.7):
    """D(x) = <w, flatten(x)> + bias on (N, 2, 3, 1) inputs: its input gradient is w."""
    model = keras.Sequential([keras.Input(IMAGE), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.layers[-1].set_weights([np.asarray(w, "float32").reshape(-1, 1),
                                  np.array([bias], "float32")])
    return model


class HalfSquaredNorm(keras.Model):
    """D(x) = ||x||^2 / 2 per example: its input gradient is x itself."""

    def call(self, x, training=False):
        return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]


def images(n, seed):
    return np.random.default_rng(seed).normal(size=(n, *IMAGE)).astype("float32")


def test_gradient_penalty_linear_discriminator():
    real, fake = images(5, 0), images(5, 1)
    alpha = np.random.default_rng(2).uniform(size=(5, 1, 1, 1)).astype("float32")
    unit = np.array([0.6, 0.0, 0.8, 0.0, 0.0, 0.0])  # ||w|| = 1
    gp = gradient_penalty(linear_discriminator(unit), real, fake, alpha).numpy()
    assert gp.shape == (5,)
    np.testing.assert_allclose(gp, 0.0, atol=1e-10)
    w = np.array([3.0, 0.0, -4.0, 0.0, 12.0, 0.0])  # ||w|| = 13
    gp = gradient_penalty(linear_discriminator(w), real, fake, alpha).numpy()
    np.testing.assert_allclose(gp, (13.0 - 1.0) ** 2, rtol=1e-6)


def test_gradient_penalty_interpolates_per_example():
    real, fake = images(4, 3), images(4, 4)
    alpha = np.array([0.0, 0.25, 0.5, 1.0], "float32").reshape(4, 1, 1, 1)
    gp = gradient_penalty(HalfSquaredNorm(), real, fake, alpha).numpy()
    x_hat = alpha * real + (1 - alpha) * fake
    expected = (np.sqrt((x_hat ** 2).sum(axis=(1, 2, 3))) - 1) ** 2
    np.testing.assert_allclose(gp, expected, rtol=1e-5)


def test_interpolation_alpha():
    real = tf.zeros((6, *IMAGE))
    alpha = interpolation_alpha(real, tf.constant([1, 2])).numpy()
    assert alpha.shape == (6, 1, 1, 1)
    assert ((alpha >= 0) & (alpha < 1)).all() and len(np.unique(alpha)) == 6
    np.testing.assert_array_equal(alpha, interpolation_alpha(real, tf.constant([1, 2])).numpy())


def test_r1_penalty():
    w = np.array([3.0, 0.0, -4.0, 0.0, 12.0, 0.0])
    real = images(3, 5)
    r1 = r1_penalty(linear_discriminator(w), real).numpy()
    assert r1.shape == (3,)
    np.testing.assert_allclose(r1, 169.0, rtol=1e-6)
    np.testing.assert_allclose(r1_penalty(HalfSquaredNorm(), real).numpy(),
                               (real ** 2).sum(axis=(1, 2, 3)), rtol=1e-5)


def penalty_weight_gradients(discriminator, real, fake, alpha):
    """Gradient of the mean gradient penalty w.r.t. D's weights, through an outer tape."""
    with tf.GradientTape() as tape:
        gp = tf.reduce_mean(gradient_penalty(discriminator, real, fake, alpha))
    variables = discriminator.trainable_variables
    # The last layer's bias does not enter the input gradient: its gradient is None.
    grads = [tf.zeros(v.shape) if g is None else g
             for g, v in zip(tape.gradient(gp, variables), variables, strict=True)]
    return gp, grads


def test_gradient_penalty_second_order_linear():
    w = np.array([3.0, 0.0, -4.0, 0.0, 12.0, 0.0])
    real, fake = images(4, 6), images(4, 7)
    alpha = np.full((4, 1, 1, 1), 0.3, "float32")
    _, (kernel_grad, bias_grad) = penalty_weight_gradients(linear_discriminator(w), real, fake,
                                                           alpha)
    norm = np.linalg.norm(w)
    np.testing.assert_allclose(kernel_grad.numpy().reshape(-1), 2 * (norm - 1) * w / norm,
                               rtol=1e-5)
    np.testing.assert_allclose(bias_grad.numpy(), 0.0)


def test_gradient_penalty_second_order_matches_finite_differences():
    keras.utils.set_random_seed(0)
    discriminator = keras.Sequential([keras.Input(IMAGE), keras.layers.Flatten(),
                                      keras.layers.Dense(4, activation="tanh"),
                                      keras.layers.Dense(1)])
    real, fake = images(4, 8), images(4, 9)
    alpha = np.random.default_rng(10).uniform(size=(4, 1, 1, 1)).astype("float32")
    step = tf.function(penalty_weight_gradients)
    _, grads = step(discriminator, real, fake, alpha)
    kernel = discriminator.layers[1].kernel  # first Dense: enters the gradient non-linearly
    analytic = grads[0].numpy()
    assert np.abs(analytic).max() > 1e-3
    h = 1e-2
    original = kernel.numpy()
    for index in [(0, 0), (2, 1), (5, 3), (3, 2)]:
        values = []
        for sign in (1, -1):
            shifted = original.copy()
            shifted[index] += sign * h
            kernel.assign(shifted)
            values.append(float(np.mean(gradient_penalty(discriminator, real, fake, alpha))))
        kernel.assign(original)
        numeric = (values[0] - values[1]) / (2 * h)
        assert analytic[index] == pytest.approx(numeric, rel=2e-2, abs=2e-4)


def test_penalties_under_mirrored_strategy():
    """Each replica penalises its own half batch; summed replica gradients of the globally
    averaged penalty equal the single-device gradient."""
    from gantool.distribute import make_strategy

    strategy = make_strategy("mirrored", cpu_devices=2)
    assert strategy.num_replicas_in_sync == 2
    def make_discriminator():
        return keras.Sequential([keras.Input(IMAGE), keras.layers.Flatten(),
                                 keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])

    keras.utils.set_random_seed(1)
    single = make_discriminator()
    with strategy.scope():
        mirrored = make_discriminator()
    mirrored.set_weights(single.get_weights())
    real, fake = images(8, 11), images(8, 12)
    alpha = np.random.default_rng(13).uniform(size=(8, 1, 1, 1)).astype("float32")

    def losses(model, r, f, a, global_batch):
        with tf.GradientTape() as tape:
            total = tf.nn.compute_average_loss(
                gradient_penalty(model, r, f, a) + r1_penalty(model, r),
                global_batch_size=global_batch)
        variables = model.trainable_variables
        return [tf.zeros(v.shape) if g is None else g
                for g, v in zip(tape.gradient(total, variables), variables, strict=True)]

    expected = [g.numpy() for g in losses(single, real, fake, alpha, 8)]
    assert max(np.abs(g).max() for g in expected) > 1e-3  # second-order terms are present
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((real, fake, alpha)).batch(8))
    batch = next(iter(dataset))

    @tf.function
    def distributed(r, f, a):
        per_replica = strategy.run(lambda r, f, a: losses(mirrored, r, f, a, 8), args=(r, f, a))
        return [strategy.reduce("SUM", g, axis=None) for g in per_replica]

    got = [g.numpy() for g in distributed(*batch)]
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
