"""The vanilla fully connected GAN of Goodfellow et al. (2014), for images and 2-D points.

Images are flattened for the discriminator and the generator ends in tanh; 2-D points get a
linear output. An empty ``g_hidden`` makes a linear generator. Conditional models concatenate
a class embedding to the latents (G) and project it onto D's last hidden features.
"""

import math

import keras

from gantool.models.init import (
    activation,
    discriminator_input_shape,
    discriminator_layer,
    label_input,
    projection_logits,
    weight_init,
    with_label_embedding,
)

EXAMPLE_SHAPES = [(2,), (28, 28, 1), (32, 32, 3), (64, 64, 3)]


def check_data_shape(data_shape):
    if len(data_shape) not in (1, 3):
        raise ValueError(f"mlp needs data of shape (D,) or (H, W, C), got {data_shape}")


def _is_image(data_shape):
    return len(data_shape) == 3


def build_generator(config, data_shape):
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
    return keras.Model(inputs if config.conditional else z, x, name="generator")


def build_discriminator(config, data_shape):
    samples = keras.Input(discriminator_input_shape(config, data_shape), name="x")
    label = label_input() if config.conditional else None
    x = keras.layers.Flatten()(samples)
    for i, units in enumerate(config.d_hidden):
        dense = keras.layers.Dense(units, kernel_initializer=weight_init(), name=f"dense_{i}")
        x = discriminator_layer(dense, config)(x)
        x = activation(config.d_activation, config.leaky_slope)(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout)(x)
    logits = projection_logits(x, label, config)
    inputs = [samples, label] if config.conditional else samples
    return keras.Model(inputs, logits, name="discriminator")
