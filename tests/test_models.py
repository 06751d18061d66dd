"""Every registered architecture at every shape it claims, and the DCGAN paper's initialisation."""

import numpy as np
import pytest

from gantool.models import ARCHITECTURES, build_models
from tests.conftest import make_config

CASES = [(arch, shape) for arch in ARCHITECTURES.names()
         for shape in ARCHITECTURES.get(arch).example_shapes]


@pytest.mark.parametrize("arch,shape", CASES,
                         ids=[f"{a}-{'x'.join(map(str, s))}" for a, s in CASES])
def test_output_shapes_and_ranges(arch, shape):
    config = make_config(arch=arch, data_shape=list(shape), latent_dim=8, g_hidden=[16],
                         d_hidden=[16], g_filters=8, d_filters=8)
    generator, discriminator = build_models(config)
    z = np.random.default_rng(0).standard_normal((3, 8)).astype("float32") * 50
    fake = generator(z, training=False).numpy()
    assert fake.shape == (3, *shape)
    if len(shape) == 3:  # images end in tanh
        assert fake.min() >= -1 and fake.max() <= 1
    logits = discriminator(fake, training=False).numpy()
    assert logits.shape == (3, 1)
    assert np.isfinite(logits).all()


@pytest.mark.parametrize("shape", [(30, 30, 1), (32, 32, 2), (32, 28, 3), (2,)])
def test_dcgan_rejects_unsupported_shapes(shape):
    config = make_config(arch="dcgan", data_shape=list(shape))
    with pytest.raises(ValueError, match="dcgan"):
        build_models(config)


def _kernels_and_gammas(model):
    import keras

    kernels, gammas = [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gammas.append(layer.gamma.numpy().ravel())
        elif hasattr(layer, "kernel"):
            kernels.append(layer.kernel.numpy().ravel())
    return np.concatenate(kernels), np.concatenate(gammas) if gammas else np.array([])


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_paper_initialisation(arch):
    config = make_config(arch=arch, data_shape=[32, 32, 3])
    for model in build_models(config):
        kernels, gammas = _kernels_and_gammas(model)
        assert abs(kernels.mean()) < 1e-3
        assert kernels.std() == pytest.approx(0.02, rel=0.03)
        if arch == "dcgan":
            assert gammas.size > 100
            assert gammas.mean() == pytest.approx(1.0, abs=0.005)
            assert gammas.std() == pytest.approx(0.02, rel=0.15)
        for layer in model.layers:  # biases and BN betas start at zero
            for name in ("bias", "beta"):
                if getattr(layer, name, None) is not None:
                    assert not np.any(getattr(layer, name).numpy())


def test_dcgan_structure_follows_the_paper():
    import keras

    config = make_config(arch="dcgan", data_shape=[64, 64, 3])
    generator, discriminator = build_models(config)
    d_layers = discriminator.layers
    first_conv = next(i for i, layer in enumerate(d_layers)
                      if isinstance(layer, keras.layers.Conv2D))
    assert not isinstance(d_layers[first_conv + 1], keras.layers.BatchNormalization)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in d_layers)
    assert all(layer.negative_slope == pytest.approx(0.2) for layer in d_layers
               if isinstance(layer, keras.layers.LeakyReLU))
    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    assert not any(isinstance(layer, pooling) for layer in d_layers + generator.layers)
    assert generator.layers[-1].activation.__name__ == "tanh"
    transposed = [layer for layer in generator.layers
                  if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(transposed) == 4 and all(layer.strides == (2, 2) for layer in transposed)


@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_generate_traces_once_and_matches_the_eager_model(conditional):
    """sampling.generate runs batches through one traced function per generator: any batch
    size reuses the trace, outputs equal the eager model's, and new weights are seen."""
    from gantool.sampling import generate, inference_function

    config = make_config(arch="dcgan", data_shape=[28, 28, 1], latent_dim=8, g_filters=8,
                         d_filters=8, conditional=conditional, num_classes=3 if conditional
                         else None)
    generator, _ = build_models(config)
    z = np.random.default_rng(0).standard_normal((7, 8)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2, 0], np.int32)
    inputs = [z, labels] if conditional else z
    out = generate(generator, z, labels if conditional else None, batch_size=4)  # 4 + 3
    np.testing.assert_allclose(out, generator(inputs, training=False).numpy(), atol=1e-6)
    assert inference_function(generator).experimental_get_tracing_count() == 1
    generator.set_weights([w * 0.5 for w in generator.get_weights()])
    changed = generate(generator, z, labels if conditional else None)
    np.testing.assert_allclose(changed, generator(inputs, training=False).numpy(), atol=1e-6)
    assert np.abs(changed - out).max() > 1e-3
