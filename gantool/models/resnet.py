"""Residual generator and discriminator (SNGAN, Miyato et al. 2018; BigGAN, Brock et al. 2019)
for square images of 1 or 3 channels, sizes 28, 32, 48, 64 and 128.

Generator: latent (N, latent_dim) [+ class embedding] -> dense -> (N, s0, s0, F) -> n up blocks
-> norm, ReLU, 3x3 conv, tanh -> (N, S, S, C) in [-1, 1], S = s0 * 2**n (28: 7 * 4, 32: 4 * 8,
48: 6 * 8, 64: 4 * 16, 128: 4 * 32). An up block is
``norm -> ReLU -> nearest x2 -> conv3x3 -> norm -> ReLU -> conv3x3`` plus a shortcut
``conv1x1 -> nearest x2``.

Discriminator: (N, S, S, C * pack) -> n down blocks -> [minibatch std, ``--mbstd``] -> one
block at s0 x s0 without downsampling -> ReLU -> sum over positions -> logits (N, 1) (a
projection head when conditional). A down block is ``ReLU -> conv3x3 -> ReLU -> conv3x3 ->
avgpool /2`` plus a shortcut ``conv1x1 -> avgpool /2`` (the first block skips the leading ReLU
and pools before its shortcut's 1x1 conv, SNGAN's "optimized" block). D has no normalisation;
``--spectral-norm`` wraps every D convolution and the logit layer.

Widths double inwards from the image side, as in DCGAN and BigGAN: G's last block has
``--g-channels`` (F above is that times min(2**(n-1), 8)), D's first ``--d-channels``, each
block further from the image twice the one before, at most 8x. The norm in G is batch norm or
none (``--g-norm none``: normalisation-free, as R3GAN). Weights start as ``--init`` says.
"""

from gantool.models.architecture import Architecture, register_architecture
from gantool.models.dcgan import MBSTD
from gantool.settings import Setting

# image size -> side s0 of the first (generator) / last (discriminator) feature map
START_SIZES = {28: 7, 32: 4, 48: 6, 64: 4, 128: 4}
SUPPORTED = ", ".join(map(str, START_SIZES))
EXAMPLE_SHAPES = ((28, 28, 1), (32, 32, 3))  # the registry-wide tests build these
MAX_WIDEN = 8  # the widest block has at most 8x the base channels
SETTINGS = (
    Setting("g_channels", "int", 20, "channels of the generator's last block (doubling inwards, "
            f"at most {MAX_WIDEN}x)", low=1),
    Setting("d_channels", "int", 20, "channels of the discriminator's first block (doubling "
            f"inwards, at most {MAX_WIDEN}x)", low=1),
    Setting("g_norm", "str", "batch", "normalisation in the generator's blocks (none: "
            "normalisation-free, as R3GAN)", choices=("batch", "none")),
    MBSTD,
)


def _blocks(size):
    """Number of x2 stages from s0 to ``size`` (28 -> 2, 32 -> 3, 48 -> 3, 64 -> 4, 128 -> 5)."""
    return (size // START_SIZES[size]).bit_length() - 1


def _widths(base, blocks):
    """Channels of ``blocks`` blocks from the image side inwards: base, 2 base, ... (capped)."""
    return [base * min(2**i, MAX_WIDEN) for i in range(blocks)]


def check_data_shape(data_shape):
    """Raise ValueError unless ``data_shape`` is (S, S, 1 or 3) with S a supported size."""
    if len(data_shape) != 3 or data_shape[0] != data_shape[1] or data_shape[2] not in (1, 3):
        raise ValueError(f"resnet needs square images (S, S, 1 or 3), got shape {data_shape}")
    if data_shape[0] not in START_SIZES:
        raise ValueError(f"resnet cannot build {data_shape[0]}x{data_shape[0]} images; "
                         f"supported sizes: {SUPPORTED}")


def _conv(channels, kernel, config=None, name=None, dtype=None):
    """A same-padded stride-1 convolution; spectral-normalised when ``config`` asks for it
    (the discriminator passes its config, the generator None)."""
    import keras

    from gantool.models.layers import discriminator_layer, weight_init

    conv = keras.layers.Conv2D(channels, kernel, padding="same", kernel_initializer=weight_init(),
                               name=name, dtype=dtype)
    return conv if config is None else discriminator_layer(conv, config)


def _upsample(x):
    """Nearest-neighbour x2, (N, s, s, F) -> (N, 2s, 2s, F), from concatenations and reshapes:
    the same values as UpSampling2D, whose gradient op is several times slower on CPU."""
    import keras

    _, size, _, channels = x.shape
    x = keras.layers.Reshape((size, 2 * size, channels))(keras.layers.Concatenate()([x, x]))
    x = keras.layers.Concatenate(axis=2)([x, x])  # (N, s, 4s, F): row h twice, side by side
    return keras.layers.Reshape((2 * size, 2 * size, channels))(x)


def _g_norm(config):
    import keras

    from gantool.models.layers import batch_norm

    if config.g_norm == "batch":
        return batch_norm(config.sync_bn)
    return keras.layers.Identity()


def _up_block(x, channels, config):
    """(N, s, s, F) -> (N, 2s, 2s, channels)."""
    import keras

    shortcut = _upsample(_conv(channels, 1)(x))  # = 1x1 conv after upsampling, 4x cheaper
    h = keras.layers.ReLU()(_g_norm(config)(x))
    h = _conv(channels, 3)(_upsample(h))
    h = keras.layers.ReLU()(_g_norm(config)(h))
    h = _conv(channels, 3)(h)
    return keras.layers.Add()([h, shortcut])


def build_generator(config, data_shape):
    """Latents (N, latent_dim) [and labels (N,)] -> images (N, S, S, C) in [-1, 1]."""
    import keras

    from gantool.models.layers import initialised, label_input, weight_init, with_label_embedding

    size, _, channels = data_shape
    start, widths = START_SIZES[size], _widths(config.g_channels, _blocks(size))[::-1]
    z = keras.Input((config.latent_dim,), name="z")
    label = label_input() if config.conditional else None
    x = with_label_embedding(z, label, config) if config.conditional else z
    x = keras.layers.Dense(start * start * widths[0], kernel_initializer=weight_init(),
                           name="project")(x)
    x = keras.layers.Reshape((start, start, widths[0]))(x)
    for width in widths:
        x = _up_block(x, width, config)
    x = keras.layers.ReLU()(_g_norm(config)(x))
    x = _conv(channels, 3, name="to_image")(x)
    x = keras.layers.Activation("tanh", dtype="float32", name="output")(x)
    model = keras.Model([z, label] if config.conditional else z, x, name="generator")
    return initialised(model, config, 0, drawn_as_dcgan=True)


def _down_block(x, channels, config, first=False, downsample=True):
    """(N, s, s, F) -> (N, s/2, s/2, channels) (``downsample``) or (N, s, s, channels)."""
    import keras

    def pool(t):
        return keras.layers.AveragePooling2D(2)(t) if downsample else t

    h = x if first else keras.layers.ReLU()(x)
    h = _conv(channels, 3, config)(h)
    h = _conv(channels, 3, config)(keras.layers.ReLU()(h))
    h = pool(h)
    if first:  # pool, then 1x1: the same function, at a quarter of the cost
        shortcut = _conv(channels, 1, config)(pool(x))
    elif downsample or x.shape[-1] != channels:
        shortcut = pool(_conv(channels, 1, config)(x))
    else:
        shortcut = x
    return keras.layers.Add()([h, shortcut])


def build_discriminator(config, data_shape):
    """Images (N, S, S, C * pack) [and labels (N,)] -> raw logits (N, 1), float32."""
    import keras

    from gantool.models.layers import (
        MinibatchStdDev,
        discriminator_input_shape,
        discriminator_model,
        label_input,
    )

    samples = keras.Input(discriminator_input_shape(config, data_shape), name="x")
    label = label_input() if config.conditional else None
    x = samples
    widths = _widths(config.d_channels, _blocks(data_shape[0]))
    for i, width in enumerate(widths):
        x = _down_block(x, width, config, first=i == 0)
    if config.mbstd:
        x = MinibatchStdDev(config.mbstd)(x)
    x = _down_block(x, widths[-1], config, downsample=False)
    x = keras.layers.ReLU()(x)
    features = keras.layers.GlobalAveragePooling2D()(x)
    area = START_SIZES[data_shape[0]] ** 2  # global sum pooling, as SNGAN
    features = keras.layers.Rescaling(float(area))(features)
    return discriminator_model(samples, label, features, config)


register_architecture(Architecture("resnet", build_generator, build_discriminator,
                                   check_data_shape, SETTINGS, EXAMPLE_SHAPES))
