"""Building blocks shared by the architectures: the DCGAN paper's initialisation (weights
N(0, 0.02), batch-norm gamma N(1, 0.02), beta 0), activations, spectral normalisation, label
inputs and PacGAN input shapes."""

import keras

WEIGHT_STDDEV = 0.02
LABEL_EMBEDDING = 50  # width of the generator's class embedding


def weight_init(seed=None):
    return keras.initializers.RandomNormal(mean=0.0, stddev=WEIGHT_STDDEV, seed=seed)


def gamma_init(seed=None):
    return keras.initializers.RandomNormal(mean=1.0, stddev=WEIGHT_STDDEV, seed=seed)


def batch_norm(synchronized=False, name=None):
    """Batch norm with the paper's init; ``synchronized`` uses global-batch statistics across
    replicas (otherwise each replica normalises with its own share of the batch)."""
    return keras.layers.BatchNormalization(
        gamma_initializer=gamma_init(), beta_initializer="zeros", synchronized=synchronized,
        name=name,
    )


def activation(name, leaky_slope):
    """A Keras activation layer for ``leaky_relu`` (with ``leaky_slope``), ``relu`` or ``tanh``."""
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=leaky_slope)
    if name in ("relu", "tanh"):
        return keras.layers.Activation(name)
    raise ValueError(f"unknown activation {name!r}; choose one of: leaky_relu, relu, tanh")


def discriminator_layer(layer, config):
    """``layer`` wrapped in spectral normalisation when ``config.spectral_norm``."""
    return keras.layers.SpectralNormalization(layer) if config.spectral_norm else layer


def discriminator_input_shape(config, data_shape):
    """D's input: ``pack`` samples joined along the last axis (PacGAN), else ``data_shape``."""
    return (*data_shape[:-1], data_shape[-1] * config.pack)


def label_input():
    """An int32 class-id input of shape (N,)."""
    return keras.Input((), dtype="int32", name="label")


def with_label_embedding(z, label, config):
    """Concatenate latents (N, latent_dim) with a learned class embedding (N, LABEL_EMBEDDING)."""
    embedded = keras.layers.Embedding(config.num_classes, LABEL_EMBEDDING,
                                      embeddings_initializer=weight_init(),
                                      name="label_embedding")(label)
    return keras.layers.Concatenate()([z, embedded])


def projection_logits(features, label, config):
    """Projection discriminator (Miyato & Koyama 2018): psi(h) + <embed(y), h>, shape (N, 1)."""
    # explicitly named: auto-named Dense layers would clash with the mlp's "dense_{i}" names
    # when a second model is built in the same process
    name = "logits" if label is None else "unconditional_logit"
    unconditional = discriminator_layer(
        keras.layers.Dense(1, kernel_initializer=weight_init(), dtype="float32", name=name),
        config,
    )(features)
    if label is None:
        return unconditional
    embedded = keras.layers.Embedding(config.num_classes, features.shape[-1],
                                      embeddings_initializer=weight_init(),
                                      name="class_projection")(label)
    projection = keras.layers.Dot(axes=1, dtype="float32")([embedded, features])
    return keras.layers.Add(name="logits", dtype="float32")([unconditional, projection])
