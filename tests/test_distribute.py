"""Training on 2 replicas is the same mathematics as on 1 (the CPU is split in conftest.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool.distribute import is_chief, make_strategy
from gantool.gan import GAN
from gantool.losses import LOSSES
from gantool.models import build_models
from tests.conftest import make_config

GLOBAL_BATCH = 8


def run_steps(strategy, arch, loss, steps, sync_bn=False, draw_latents=False, seed=0,
              optimizer="sgd", steps_per_execution=1):
    """Train ``steps`` steps under ``strategy`` from fixed initial weights; returns
    (generator weights, discriminator weights, list of logs)."""
    shape = [2] if arch == "mlp" else [28, 28, 1]
    config = make_config(arch=arch, data_shape=shape, latent_dim=4, g_hidden=[16], d_hidden=[16],
                         dropout=0.0, g_filters=4, d_filters=4, sync_bn=sync_bn, loss=loss)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((GLOBAL_BATCH * steps, *shape)).astype("float32")
    z = rng.standard_normal((GLOBAL_BATCH * steps, 4)).astype("float32")
    alpha = rng.uniform(size=(len(x), *[1] * len(shape))).astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(seed)
        generator, discriminator = build_models(config)
        gan = GAN(generator, discriminator, latent_dim=4, loss=loss, seed=seed)
        make = {"sgd": lambda: keras.optimizers.SGD(0.1),
                "adam": lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)}[optimizer]
        gan.compile(make(), make(), steps_per_execution=steps_per_execution)
        gan.build_optimizers()
    data = x if draw_latents else {"x": x, "z": z, "alpha": alpha}
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(GLOBAL_BATCH)
    logs = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs=None, out=logs: out.append(
            {k: float(v) for k, v in logs.items()}))
    gan.fit(dataset, epochs=1, verbose=0, callbacks=[callback], shuffle=False)
    return ([v.numpy() for v in generator.weights], [v.numpy() for v in discriminator.weights],
            logs)


@pytest.fixture(scope="module")
def strategies():
    one = make_strategy("one-device")
    two = make_strategy("mirrored")
    assert two.num_replicas_in_sync == 2
    return one, two


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


# SGD makes the update linear in the gradients. Adam's first step is ~lr * sign(gradient), so
# a parameter whose true gradient is ~0 moves by +-lr on rounding noise alone; one Adam case
# (ns, which has no such parameters here) checks that path too.
# Every loss on the mlp; the dcgan with synchronised batch norm on ns and wgan-gp (its
# penalty), its other losses with `make test-all`.
REPLICA_SHAPES = [("mlp", 1, False, "sgd"), ("mlp", 5, False, "sgd"), ("dcgan", 1, True, "sgd")]
REPLICA_CASES = [
    pytest.param(loss, *shape, marks=[pytest.mark.slow] if shape[0] == "dcgan"
                 and loss not in ("ns", "wgan-gp") else [], id=f"{shape[0]}-{shape[1]}-{loss}")
    for shape in REPLICA_SHAPES for loss in LOSSES.names()]


@pytest.mark.parametrize("loss,arch,steps,sync_bn,optimizer", REPLICA_CASES)
def test_two_replicas_match_one(strategies, loss, arch, steps, sync_bn, optimizer):
    one, two = strategies
    g1, d1, logs1 = run_steps(one, arch, loss, steps, sync_bn, optimizer=optimizer)
    g2, d2, logs2 = run_steps(two, arch, loss, steps, sync_bn, optimizer=optimizer)
    assert max_difference(g1, g2) < 1e-5
    assert max_difference(d1, d2) < 1e-5
    # logged values are the true global means, whatever the number of replicas
    for a, b in zip(logs1, logs2):
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6)


def test_two_replicas_match_one_with_adam(strategies):
    one, two = strategies
    for arch, steps, sync_bn in (("mlp", 5, False), ("dcgan", 1, True)):
        g1, d1, _ = run_steps(one, arch, "ns", steps, sync_bn, optimizer="adam")
        g2, d2, _ = run_steps(two, arch, "ns", steps, sync_bn, optimizer="adam")
        assert max_difference(g1, g2) < 1e-5 and max_difference(d1, d2) < 1e-5


def test_several_steps_per_execution_on_two_replicas(strategies):
    """Keras's own multi-step loop fails under a multi-replica strategy (gantool.replica_steps):
    4 steps per call on 2 replicas give the weights of 4 calls of one step, and of 1 replica."""
    one, two = strategies
    g1, d1, logs1 = run_steps(two, "mlp", "ns", 8, optimizer="adam")
    g4, d4, logs4 = run_steps(two, "mlp", "ns", 8, optimizer="adam", steps_per_execution=4)
    g_one, d_one, _ = run_steps(one, "mlp", "ns", 8, optimizer="adam", steps_per_execution=4)
    assert max_difference(g1, g4) < 1e-6 and max_difference(d1, d4) < 1e-6
    assert max_difference(g_one, g4) < 1e-5 and max_difference(d_one, d4) < 1e-5
    assert len(logs1) == 8 and len(logs4) == 2  # one log per call: steps 4 and 8
    for every_step, per_call in zip(logs1[3::4], logs4):
        assert every_step["d_loss"] == pytest.approx(per_call["d_loss"], rel=1e-6)


def test_per_replica_batch_norm_differs_without_sync(strategies):
    """Documented behaviour: without --sync-bn each replica normalises its own half batch."""
    one, two = strategies
    g1, _, _ = run_steps(one, "dcgan", "ns", 1, sync_bn=False)
    g2, _, _ = run_steps(two, "dcgan", "ns", 1, sync_bn=False)
    assert max_difference(g1, g2) > 1e-5


def test_replicas_draw_different_latents(strategies):
    _, two = strategies
    config = make_config(arch="mlp", data_shape=[2], latent_dim=4, g_hidden=[4], d_hidden=[4])
    with two.scope():
        generator, discriminator = build_models(config)
        gan = GAN(generator, discriminator, latent_dim=4, seed=3)
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
        gan.build_optimizers()
    per_replica = two.run(tf.function(lambda: gan.draw_latents(4)))
    first, second = (t.numpy() for t in two.experimental_local_results(per_replica))
    assert not np.allclose(first, second)


def test_seeded_runs_are_reproducible(strategies):
    _, two = strategies
    a = run_steps(two, "mlp", "ns", 3, draw_latents=True, seed=5)
    b = run_steps(two, "mlp", "ns", 3, draw_latents=True, seed=5)
    assert max_difference(a[0], b[0]) == 0 and max_difference(a[1], b[1]) == 0


@pytest.mark.parametrize("tf_config,chief", [
    (None, True),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}', True),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}', False),
    ('{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}',
     False),
    ('{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     True),
])
def test_chief_detection(monkeypatch, tf_config, chief):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert is_chief() is chief
