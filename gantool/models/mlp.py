"""The vanilla fully connected GAN of Goodfellow et al. (2014), for images and 2-D points.

Images are flattened for the discriminator and the generator ends in tanh; 2-D points get a
linear output. An empty ``g_hidden`` makes a linear generator. Conditional models concatenate
a class embedding to the latents (G) and project it onto D's last hidden features.
"""

import math

from gantool.models.architecture import Architecture, register_architecture
from gantool.settings import Setting

ACTIVATIONS = ("leaky_relu", "relu", "tanh")
SETTINGS = (
    Setting("g_hidden", "ints", [256, 512, 1024], "generator hidden widths ('' = a linear "
            "generator)", low=1),
    Setting("d_hidden", "ints", [1024, 512, 256], "discriminator hidden widths", low=1),
    Setting("g_activation", "str", "leaky_relu", "generator activation", choices=ACTIVATIONS),
    Setting("d_activation", "str", "leaky_relu", "discriminator activation",
            choices=ACTIVATIONS),
    Setting("leaky_slope", "float", 0.2, "LeakyReLU negative slope", low=0),
    Setting("dropout", "float", 0.3, "discriminator dropout rate", low=0, high=1,
            high_open=True),
)
EXAMPLE_SHAPES = ((2,), (28, 28, 1), (32, 32, 3), (64, 64, 3))


def check_data_shape(data_shape):
    if len(data_shape) not in (1, 3):
        raise ValueError(f"mlp needs data of shape (D,) or (H, W, C), got {data_shape}")


def _is_image(data_shape):
    return len(data_shape) == 3


def build_generator(config, data_shape):
    import keras

    from gantool.models.layers import (
        activation,
        initialised,
        label_input,
        weight_init,
        with_label_embedding,
    )

    z = keras.Input((config.latent_dim,), name="z")
    inputs, x = [z], z
    if config.conditional:
        label = label_input()
        inputs.append(label)
        x = with_label_embedding(z, label, config)
    for i, units in enumerate(config.g_hidden):
        x = keras.layers.Dense(units, kernel_initializer=weight_init(), name=f"dense_{i}")(x)
        x = activation(config.g_activation, config.leaky_slope)(x)
    x = keras.layers.Dense(
        math.prod(data_shape),
        activation="tanh" if _is_image(data_shape) else None,
        kernel_initializer=weight_init(),
        name="output",
        dtype="float32",  # float32 outputs under mixed precision
    )(x)
    x = keras.layers.Reshape(data_shape, dtype="float32")(x)
    model = keras.Model(inputs if config.conditional else z, x, name="generator")
    return initialised(model, config, 0, drawn_as_dcgan=True)


def build_discriminator(config, data_shape):
    import keras

    from gantool.models.layers import (
        activation,
        discriminator_input_shape,
        discriminator_layer,
        discriminator_model,
        label_input,
        weight_init,
    )

    samples = keras.Input(discriminator_input_shape(config, data_shape), name="x")
    label = label_input() if config.conditional else None
    x = keras.layers.Flatten()(samples)
    for i, units in enumerate(config.d_hidden):
        dense = keras.layers.Dense(units, kernel_initializer=weight_init(), name=f"dense_{i}")
        x = discriminator_layer(dense, config)(x)
        x = activation(config.d_activation, config.leaky_slope)(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout)(x)
    return discriminator_model(samples, label, x, config)


register_architecture(Architecture("mlp", build_generator, build_discriminator,
                                   check_data_shape, SETTINGS, EXAMPLE_SHAPES))
