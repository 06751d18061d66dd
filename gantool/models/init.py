"""The DCGAN paper's initialisation: weights N(0, 0.02), batch-norm gamma N(1, 0.02), beta 0."""

import keras

WEIGHT_STDDEV = 0.02


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
