"""DCGAN (Radford et al. 2016) for square images of 1 or 3 channels.

Generator: latent -> dense projection -> (s0, s0, F) -> n stride-2 transposed convolutions
(batch norm + ReLU between, tanh at the end) -> (S, S, C), with S = s0 * 2**n and s0 in 4..7
(28 -> 7*2*2, 32 -> 4*2**3, 64 -> 4*2**4). Discriminator mirrors it with stride-2 convolutions,
LeakyReLU(0.2), batch norm on all but the first layer (layer norm for WGAN-GP), no pooling,
one logit out; ``--mbstd G`` (off by default) adds a minibatch standard deviation feature map
before D's last convolution.
"""

from gantool.models.architecture import Architecture, register_architecture
from gantool.settings import Setting

KERNEL_SIZE = 4
# Shapes the tests build (any s * 2**n with s in 4..7 works).
EXAMPLE_SHAPES = tuple((s, s, c) for s in (28, 32, 64) for c in (1, 3))
# shared with resnet (one declaration, so --help and checks agree)
MBSTD = Setting("mbstd", "int", 0, "minibatch standard deviation (ProGAN): group size of the "
                "extra feature map before D's last block (groups of the per-replica batch; the "
                "whole batch when it is smaller or not divisible); 0: off", low=0)
SETTINGS = (
    Setting("g_filters", "int", 64, "filters of the generator's last hidden layer (doubling "
            "inwards)", low=1),
    Setting("d_filters", "int", 64, "filters of the discriminator's first layer (doubling "
            "inwards)", low=1),
    MBSTD,
)
D_LEAKY_SLOPE = 0.2


def _upsamplings(size):
    """Number of stride-2 stages n with size = s0 * 2**n, s0 in [4, 7] (28 -> 2, 32 -> 3)."""
    n = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        n += 1
    if not 4 <= size <= 7 or n == 0:
        return None
    return n


def check_data_shape(data_shape):
    if len(data_shape) != 3 or data_shape[0] != data_shape[1] or data_shape[2] not in (1, 3):
        raise ValueError(f"dcgan needs square images (S, S, 1 or 3), got shape {data_shape}")
    if _upsamplings(data_shape[0]) is None:
        raise ValueError(
            f"dcgan cannot build {data_shape[0]}x{data_shape[0]} images; sizes of the form "
            "s * 2**n with s in 4..7 work (e.g. 28, 32, 64, 128)"
        )


def build_generator(config, data_shape):
    import keras

    from gantool.models.layers import (
        batch_norm,
        initialised,
        label_input,
        weight_init,
        with_label_embedding,
    )

    size, _, channels = data_shape
    n = _upsamplings(size)
    start = size // 2**n
    filters = config.g_filters * 2 ** (n - 1)

    z = keras.Input((config.latent_dim,), name="z")
    x = z
    if config.conditional:
        label = label_input()
        x = with_label_embedding(z, label, config)
    x = keras.layers.Dense(start * start * filters, use_bias=False,
                           kernel_initializer=weight_init(), name="project")(x)
    x = batch_norm(config.sync_bn)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Reshape((start, start, filters))(x)
    for _ in range(n - 1):
        filters //= 2
        x = keras.layers.Conv2DTranspose(filters, KERNEL_SIZE, strides=2, padding="same",
                                         use_bias=False, kernel_initializer=weight_init())(x)
        x = batch_norm(config.sync_bn)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(channels, KERNEL_SIZE, strides=2, padding="same",
                                     activation="tanh", kernel_initializer=weight_init(),
                                     name="output", dtype="float32")(x)
    model = keras.Model([z, label] if config.conditional else z, x, name="generator")
    return initialised(model, config, 0, drawn_as_dcgan=True)


def _discriminator_norm(config):
    """Batch norm, except for losses with a gradient penalty (WGAN-GP): the penalty is defined
    per example, which batch statistics break, so those get layer norm (Gulrajani et al.)."""
    import keras

    from gantool.losses import LOSSES
    from gantool.models.layers import batch_norm

    if LOSSES.get(config.loss).needs_gradient_penalty:
        return keras.layers.LayerNormalization(axis=[1, 2, 3])
    return batch_norm(config.sync_bn)


def build_discriminator(config, data_shape):
    import keras

    from gantool.models.layers import (
        MinibatchStdDev,
        discriminator_input_shape,
        discriminator_layer,
        discriminator_model,
        label_input,
        weight_init,
    )

    n = _upsamplings(data_shape[0])
    samples = keras.Input(discriminator_input_shape(config, data_shape), name="x")
    label = label_input() if config.conditional else None
    x = samples
    for i in range(n):
        if i == n - 1 and config.mbstd:
            x = MinibatchStdDev(config.mbstd)(x)
        conv = keras.layers.Conv2D(config.d_filters * 2**i, KERNEL_SIZE, strides=2,
                                   padding="same", use_bias=i == 0,
                                   kernel_initializer=weight_init())
        x = discriminator_layer(conv, config)(x)
        if i > 0:  # the paper leaves batch norm off the discriminator's input layer
            x = _discriminator_norm(config)(x)
        x = keras.layers.LeakyReLU(negative_slope=D_LEAKY_SLOPE)(x)
    x = keras.layers.Flatten()(x)
    return discriminator_model(samples, label, x, config)


register_architecture(Architecture("dcgan", build_generator, build_discriminator,
                                   check_data_shape, SETTINGS, EXAMPLE_SHAPES))
