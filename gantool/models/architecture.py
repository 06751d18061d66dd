"""What an architecture is, and the registry that lists them.

An architecture is one module that defines its builders and its own settings and registers
them with one call at the bottom::

    register_architecture(Architecture(
        name="mlp", settings=SETTINGS, build_generator=build_generator,
        build_discriminator=build_discriminator, check_data_shape=check_data_shape,
        example_shapes=EXAMPLE_SHAPES))

``build_generator(config, data_shape)`` maps (N, latent_dim) latents to (N, *data_shape)
samples (tanh, in [-1, 1], for images); ``build_discriminator(config, data_shape)`` maps samples
to logits (N, 1); both return functional ``keras.Model``s and read their own settings as
attributes of ``config``. ``check_data_shape(shape)`` raises ValueError for shapes it cannot
build. Architecture modules import Keras inside their builders, so that listing architectures
and their settings (``--help``) never imports TensorFlow.
"""

from collections.abc import Callable
from dataclasses import dataclass

from gantool.registry import Registry
from gantool.settings import Setting

ARCHITECTURES = Registry("architecture")


@dataclass(frozen=True)
class Architecture:
    name: str
    build_generator: Callable
    build_discriminator: Callable
    check_data_shape: Callable
    settings: tuple[Setting, ...] = ()
    example_shapes: tuple = ()  # data shapes the tests build

    def setting(self, name):
        return next((s for s in self.settings if s.name == name), None)

    def setting_names(self):
        return [s.name for s in self.settings]

    def describe_settings(self):
        """``--g-filters, --d-filters`` (or "none")."""
        return ", ".join(s.flag for s in self.settings) or "none"


def register_architecture(architecture):
    """Add ``architecture`` to :data:`ARCHITECTURES` under its name; returns it."""
    return ARCHITECTURES.register(architecture.name, architecture)


def all_settings():
    """Every architecture's settings by name: ``{name: (Setting, [architecture names])}``."""
    found = {}
    for name in ARCHITECTURES:
        for setting in ARCHITECTURES.get(name).settings:
            found.setdefault(setting.name, (setting, []))[1].append(name)
    return found
