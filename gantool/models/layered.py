"""Networks written layer by layer in the recipe (``--arch layers``), to rebuild a tutorial's
generator and discriminator exactly.

The recipe lists the layers as ``[[generator]]`` and ``[[discriminator]]`` tables, applied in
order; each has a ``type`` and that type's fields (:data:`LAYER_TYPES`), e.g. seed 002's
projection::

    [[generator]]
    type = "dense"
    units = 12544          # 7 * 7 * 256
    [[generator]]
    type = "reshape"
    shape = [7, 7, 256]
    [[generator]]
    type = "batch_norm"

The generator maps latents (N, latent_dim) to samples (N, *data_shape): its last layer must give
the data's shape, with tanh for images (in [-1, 1]) and a linear output for 2-D points
(``to_data`` does both). The discriminator maps samples (N, *data_shape) to one logit (N, 1).
Fields are checked when the config is made (a :class:`~gantool.errors.UsageError` naming the
layer, counted from 1, its type and the field); shapes when the models are built.
``--spectral-norm`` wraps D's dense and convolution layers, ``--pack`` widens D's input, and
``--conditional`` concatenates a label embedding to G's latents and turns D's last layer (which
must be ``dense`` with ``units = 1``) into a projection head. The common ``--init`` picks the
initialisation of kernels, biases and batch-norm gamma (:func:`gantool.models.layers.initializers`).
"""

import math

from gantool.errors import UsageError
from gantool.models.architecture import Architecture, register_architecture
from gantool.settings import REQUIRED, Setting, check_tables

_BIAS = Setting("bias", "bool", True, "add a bias")
_CONV = (
    Setting("filters", "int", REQUIRED, "output channels", low=1),
    Setting("kernel", "int", REQUIRED, "side of the square kernel", low=1),
    Setting("stride", "int", 1, "stride (2: half the size, or twice for conv_transpose)", low=1),
    Setting("padding", "str", "same", "padding", choices=("same", "valid")),
    _BIAS,
)
_EPSILON = Setting("epsilon", "float", 1e-3, "added to the variance (PyTorch: 1e-5)", low=1e-12)
LAYER_TYPES = {
    "dense": (Setting("units", "int", REQUIRED, "output features", low=1), _BIAS),
    "to_data": (_BIAS,),  # dense to prod(data_shape), reshape, tanh for images
    "reshape": (Setting("shape", "ints", REQUIRED, "shape after the batch axis", low=1),),
    "flatten": (),
    "conv": _CONV,
    "conv_transpose": _CONV,
    "batch_norm": (Setting("momentum", "float", 0.99, "moving-average decay (PyTorch: 0.9)",
                           low=0, high=1, high_open=True), _EPSILON),
    "layer_norm": (_EPSILON,),  # over all features of each sample
    "relu": (),
    "leaky_relu": (Setting("slope", "float", 0.2, "negative slope", low=0),),
    "tanh": (),
    "sigmoid": (),
    "linear": (),  # no activation: marks a linear output
    "dropout": (Setting("rate", "float", REQUIRED, "fraction dropped", low=0, high=1,
                        high_open=True),),
    "two_class_logit": (),  # (N, 2) softmax scores (fake, real) -> logit real - fake (N, 1)
}


def _tables(name, tables):
    return check_tables(name, LAYER_TYPES, tables, source="default")


SETTINGS = (
    Setting("generator", "layers", _tables("generator", [
        {"type": "dense", "units": 256}, {"type": "leaky_relu"},
        {"type": "dense", "units": 512}, {"type": "leaky_relu"}, {"type": "to_data"}]),
        "generator layers, latents in, data out ([[generator]] tables)", tables=LAYER_TYPES),
    Setting("discriminator", "layers", _tables("discriminator", [
        {"type": "flatten"}, {"type": "dense", "units": 512}, {"type": "leaky_relu"},
        {"type": "dense", "units": 256}, {"type": "leaky_relu"}, {"type": "dense", "units": 1}]),
        "discriminator layers, data in, one logit out ([[discriminator]] tables)",
        tables=LAYER_TYPES),
)
EXAMPLE_SHAPES = ((2,), (28, 28, 1), (32, 32, 3))


def check_data_shape(data_shape):
    if len(data_shape) not in (1, 3):
        raise ValueError(f"layers needs data of shape (D,) or (H, W, C), got {data_shape}")


def _dense(keras, table, name, context):
    return [keras.layers.Dense(table["units"], use_bias=table["bias"], name=name)]


def _to_data(keras, table, name, context):
    shape = context["data_shape"]
    tanh = [keras.layers.Activation("tanh", name=f"{name}_tanh")] if len(shape) == 3 else []
    return [keras.layers.Dense(math.prod(shape), use_bias=table["bias"], name=name),
            keras.layers.Reshape(shape, name=f"{name}_reshape"), *tanh]


def _conv(keras, table, name, context):
    kind = keras.layers.Conv2D if table["type"] == "conv" else keras.layers.Conv2DTranspose
    return [kind(table["filters"], table["kernel"], strides=table["stride"],
                 padding=table["padding"], use_bias=table["bias"], name=name)]


def _batch_norm(keras, table, name, context):
    from gantool.models.layers import batch_norm

    return [batch_norm(context["config"].sync_bn, name=name, momentum=table["momentum"],
                       epsilon=table["epsilon"])]


def _layer_norm(keras, table, name, context):
    axes = list(range(1, len(context["input"].shape)))
    return [keras.layers.LayerNormalization(axis=axes, epsilon=table["epsilon"], name=name)]


def _activation(keras, table, name, context):
    if table["type"] == "leaky_relu":
        return [keras.layers.LeakyReLU(negative_slope=table["slope"], name=name)]
    return [keras.layers.Activation(table["type"], name=name)]


def _two_class_logit(keras, table, name, context):
    from gantool.models.layers import LogitDifference

    return [LogitDifference(name=name)]


_BUILDERS = {
    "dense": _dense, "to_data": _to_data, "conv": _conv, "conv_transpose": _conv,
    "batch_norm": _batch_norm, "layer_norm": _layer_norm, "two_class_logit": _two_class_logit,
    "reshape": lambda keras, table, name, _: [keras.layers.Reshape(table["shape"], name=name)],
    "flatten": lambda keras, table, name, _: [keras.layers.Flatten(name=name)],
    "dropout": lambda keras, table, name, _: [keras.layers.Dropout(table["rate"], name=name)],
    **dict.fromkeys(("relu", "leaky_relu", "tanh", "sigmoid", "linear"), _activation),
}


def _apply(tables, x, net, config, data_shape):
    """``x`` through the Keras layers of ``tables``; ``net`` is "generator" or "discriminator"
    (whose dense and convolution layers get ``--spectral-norm``). A layer that cannot take its
    input is a UsageError naming it."""
    import keras

    from gantool.models.layers import discriminator_layer

    weighted = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose)
    for position, table in enumerate(tables, 1):
        kind, name = table["type"], f"{net[0]}{position}_{table['type']}"
        context = {"config": config, "data_shape": data_shape, "input": x}
        try:
            for layer in _BUILDERS[kind](keras, table, name, context):
                if net == "discriminator" and isinstance(layer, weighted):
                    layer = discriminator_layer(layer, config)
                x = layer(x)
        except ValueError as e:
            raise UsageError(f"--arch layers: {net} layer {position} ({kind}) cannot take "
                             f"input of shape {_shape(context['input'])}: "
                             f"{str(e).splitlines()[0]}") from None
    return x


def _shape(x):
    return "(N, " + ", ".join(map(str, x.shape[1:])) + ")"


def _expect(x, shape, net, tables, what):
    if tuple(x.shape[1:]) != tuple(shape):
        last = f"layer {len(tables)} ({tables[-1]['type']})" if tables else "its input"
        raise UsageError(f"--arch layers: the {net} must end in {what} (N, "
                         f"{', '.join(map(str, shape))}); {last} gives {_shape(x)}")


def build_generator(config, data_shape):
    """Latents (N, latent_dim) [and labels (N,)] -> samples (N, *data_shape), float32."""
    import keras

    from gantool.models.layers import initialised, label_input, with_label_embedding

    z = keras.Input((config.latent_dim,), name="z")
    inputs, x = z, z
    if config.conditional:
        label = label_input()
        inputs, x = [z, label], with_label_embedding(z, label, config)
    x = _apply(config.generator, x, "generator", config, data_shape)
    _expect(x, data_shape, "generator", config.generator, "the data's shape")
    x = keras.layers.Activation("linear", dtype="float32", name="output")(x)  # float32 out
    return initialised(keras.Model(inputs, x, name="generator"), config, 0)


def _projection_head(tables):
    """--conditional: D's layers but the last, which must be dense with one unit."""
    last = tables[-1]
    if last["type"] != "dense" or last["units"] != 1:
        raise UsageError(f"--arch layers --conditional: the discriminator's last layer "
                         f"{len(tables)} ({last['type']}) must be dense with units = 1 (it "
                         "becomes a projection head: logit + <embed(label), features>)")
    return tables[:-1]


def build_discriminator(config, data_shape):
    """Samples (N, *data_shape) [and labels (N,)] -> logits (N, 1), float32."""
    import keras

    from gantool.models.layers import (
        discriminator_input_shape,
        initialised,
        label_input,
        projection_logits,
    )

    samples = keras.Input(discriminator_input_shape(config, data_shape), name="x")
    tables = config.discriminator
    if config.conditional:
        label, tables = label_input(), _projection_head(tables)
    x = _apply(tables, samples, "discriminator", config, data_shape)
    if config.conditional:
        if len(x.shape) != 2:
            raise UsageError("--arch layers --conditional: the discriminator's features before "
                             f"its head must be flat (N, F), got {_shape(x)}; add a flatten")
        x = projection_logits(x, label, config)
    _expect(x, (1,), "discriminator", config.discriminator, "one logit per sample")
    x = keras.layers.Activation("linear", dtype="float32", name="output")(x)
    inputs = [samples, label] if config.conditional else samples
    return initialised(keras.Model(inputs, x, name="discriminator"), config, 1)


register_architecture(Architecture(
    name="layers", settings=SETTINGS, build_generator=build_generator,
    build_discriminator=build_discriminator, check_data_shape=check_data_shape,
    example_shapes=EXAMPLE_SHAPES))
