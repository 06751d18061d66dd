"""Generator/discriminator architectures, registered by name in :data:`ARCHITECTURES`.

Each architecture is one module that declares its settings and registers itself (see
:mod:`gantool.models.architecture`); importing this package registers the built-in ones.
"""

from gantool.models import dcgan, layered, mlp, resnet  # noqa: F401  (they register themselves)
from gantool.models.architecture import ARCHITECTURES, Architecture, register_architecture

__all__ = ["ARCHITECTURES", "Architecture", "build_models", "register_architecture"]


def build_models(config):
    """Build ``(generator, discriminator)`` for a :class:`~gantool.config.TrainConfig`.

    ``config.data_shape`` must be set: (H, W, C) for images, (2,) for 2-D points. The generator
    maps (N, latent_dim) latents to (N, *data_shape) samples (tanh, in [-1, 1], for images).
    """
    arch = ARCHITECTURES.get(config.arch)
    shape = tuple(config.data_shape)
    arch.check_data_shape(shape)
    return arch.build_generator(config, shape), arch.build_discriminator(config, shape)
