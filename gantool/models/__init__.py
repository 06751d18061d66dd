"""Generator/discriminator architectures, registered by name.

Each architecture is one module with ``build_generator(config, data_shape)``,
``build_discriminator(config, data_shape)`` (both returning functional ``keras.Model``s; the
discriminator outputs logits of shape (N, 1)), ``check_data_shape(data_shape)`` (raising
ValueError) and ``EXAMPLE_SHAPES`` for the tests. Register a
new one here with a lazy ``"module"`` entry so that listing the names stays cheap.
"""

from gantool.registry import Registry

ARCHITECTURES = Registry("architecture")
ARCHITECTURES.register("mlp", "gantool.models.mlp")
ARCHITECTURES.register("dcgan", "gantool.models.dcgan")


def build_models(config):
    """Build ``(generator, discriminator)`` for a :class:`~gantool.config.TrainConfig`.

    ``config.data_shape`` must be set: (H, W, C) for images, (2,) for 2-D points. The generator
    maps (N, latent_dim) latents to (N, *data_shape) samples (tanh, in [-1, 1], for images).
    """
    arch = ARCHITECTURES.get(config.arch)
    shape = tuple(config.data_shape)
    arch.check_data_shape(shape)
    return arch.build_generator(config, shape), arch.build_discriminator(config, shape)
