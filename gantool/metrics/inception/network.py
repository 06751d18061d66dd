"""The FID Inception network as a Keras 3 functional model, built from a ``weights.npz``.

Kernel sizes, paddings, strides and chain lengths are read from the file (:mod:`.layout`);
the wiring of the blocks (which branches are concatenated, where the pools are) is the fixed
Inception-v3 topology of TensorFlow's ``inception-2015-12-05`` graph, including its quirk of
a *max* pool in ``mixed_10``'s pool branch.

TensorFlow and Keras are imported inside the functions that need them, so that importing
:mod:`gantool.metrics` stays cheap.
"""

from __future__ import annotations

import numpy as np

from .layout import (
    BN_EPSILON,
    BN_SUFFIXES,
    FEATURE_DIM,
    INPUT_SIZE,
    PADS_KEY,
    one_line,
    parse_pads,
    read_arrays,
)
from .weights import WeightsUnavailable, file_key, resolve_weights

_MODEL_CACHE: dict = {}


def preprocess_for_inception(images):
    """(N, H, W, C) images, C in {1, 3}, values in [0, 255] -> (N, 299, 299, 3) float32
    in [-1, 1]: grey repeated to 3 channels, bilinear resize (half-pixel centres, no
    antialiasing), then (x - 128) / 128."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    if x.shape.rank is not None and x.shape.rank != 4:
        raise ValueError(f"images must have shape (N, H, W, C); got rank {x.shape.rank}")
    if x.dtype != tf.float32:
        x = tf.cast(x, tf.float32)
    channels = x.shape[-1]
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels; got {channels}")
    if channels != 3:  # 1 channel, or unknown until run time: broadcast to 3
        x = tf.broadcast_to(x, tf.concat([tf.shape(x)[:-1], [3]], axis=0))
    x = tf.image.resize(x, (INPUT_SIZE, INPUT_SIZE), method="bilinear", antialias=False)
    x = tf.ensure_shape(x, [None, INPUT_SIZE, INPUT_SIZE, 3])
    return (x - 128.0) / 128.0


def _preprocess_layer():
    import keras

    class InceptionPreprocess(keras.layers.Layer):
        """Keras wrapper of ``preprocess_for_inception``."""

        def call(self, images):
            return preprocess_for_inception(images)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], INPUT_SIZE, INPUT_SIZE, 3)

    return InceptionPreprocess(name="preprocess", dtype="float32")


class _Builder:
    """Creates the conv blocks named in a weights file and remembers them for loading."""

    def __init__(self, arrays: dict):
        import keras

        self.layers = keras.layers
        if PADS_KEY not in arrays:
            raise ValueError(f"weights file has no {PADS_KEY} entry")
        self.arrays = arrays
        self.pads = parse_pads(arrays[PADS_KEY])
        self.blocks = {k[: -len(".weight")] for k in arrays if k.endswith(".weight")}
        self.created: list = []  # (name, conv layer, batch norm layer)

    def has(self, name: str) -> bool:
        return name in self.blocks

    def _check_block(self, x, name: str) -> tuple:
        """(out, in, kh, kw) of block ``name``, after checking its arrays against ``x``."""
        if name not in self.blocks:
            raise ValueError(f"weights file has no block {name!r} (missing key '{name}.weight')")
        kernel = self.arrays[name + ".weight"]
        if kernel.ndim != 4:
            raise ValueError(f"'{name}.weight' has shape {kernel.shape}; "
                             "expected (out, in, kh, kw)")
        out_ch, in_ch, kh, kw = (int(s) for s in kernel.shape)
        for suffix in BN_SUFFIXES:
            key = f"{name}.{suffix}"
            if key not in self.arrays or self.arrays[key].shape != (out_ch,):
                got = self.arrays[key].shape if key in self.arrays else "missing"
                raise ValueError(f"'{key}' is {got}; expected shape ({out_ch},)")
        if name not in self.pads:
            raise ValueError(f"{PADS_KEY} has no entry for block {name!r}")
        if x.shape[-1] != in_ch:
            raise ValueError(f"block {name!r} expects {in_ch} input channels "
                             f"but receives {x.shape[-1]}")
        return out_ch, in_ch, kh, kw

    def conv(self, x, name: str):
        L = self.layers
        out_ch, _, kh, kw = self._check_block(x, name)
        pad_h, pad_w, stride = self.pads[name]
        if pad_h == 0 and pad_w == 0:
            padding = "valid"
        elif stride == 1 and 2 * pad_h == kh - 1 and 2 * pad_w == kw - 1:
            padding = "same"  # equal to the symmetric padding for odd kernels, stride 1
        else:
            x = L.ZeroPadding2D(((pad_h, pad_h), (pad_w, pad_w)), name=name + "_pad",
                                dtype="float32")(x)
            padding = "valid"
        conv = L.Conv2D(out_ch, (kh, kw), strides=stride, padding=padding, use_bias=False,
                        name=name, dtype="float32")
        norm = L.BatchNormalization(center=True, scale=False, epsilon=BN_EPSILON,
                                    name=name + "_bn", dtype="float32")
        x = norm(conv(x), training=False)
        self.created.append((name, conv, norm))
        return L.ReLU(name=name + "_relu", dtype="float32")(x)

    def chain(self, x, prefix: str):
        """Apply blocks ``{prefix}conv``, ``{prefix}conv_1``, ... while they exist."""
        names = [prefix + "conv"]
        while self.has(f"{prefix}conv_{len(names)}"):
            names.append(f"{prefix}conv_{len(names)}")
        for name in names:
            x = self.conv(x, name)
        return x

    def pool(self, x, kind: str, stride: int, padding: str, name: str):
        cls = self.layers.MaxPooling2D if kind == "max" else self.layers.AveragePooling2D
        # TF-backend AveragePooling2D(padding="same") excludes padded zeros, as in the graph.
        return cls(3, strides=stride, padding=padding, name=name, dtype="float32")(x)

    def concat(self, tensors, name: str):
        return self.layers.Concatenate(axis=-1, name=name, dtype="float32")(tensors)

    def load(self) -> None:
        unused = self.blocks - {name for name, _, _ in self.created}
        if unused:
            raise ValueError("weights file has blocks the FID Inception graph does not use: "
                             f"{sorted(unused)[:5]}")
        for name, conv, norm in self.created:
            conv.set_weights([np.transpose(self.arrays[name + ".weight"], (2, 3, 1, 0))])
            values = {"beta": name + ".beta", "moving_mean": name + ".mean",
                      "moving_variance": name + ".var"}
            for variable in norm.weights:
                variable.assign(np.asarray(self.arrays[values[variable.name]], dtype=np.float32))


def _inception_block(b: _Builder, x, m: str):
    """mixed..mixed_2 and mixed_4..mixed_7: 1x1 | tower | tower_1 | avg pool -> tower_2."""
    branches = [b.conv(x, f"{m}.conv"), b.chain(x, f"{m}.tower."), b.chain(x, f"{m}.tower_1.")]
    pooled = b.pool(x, "avg", 1, "same", f"{m}.tower_2_pool")
    branches.append(b.chain(pooled, f"{m}.tower_2."))
    return b.concat(branches, f"{m}.join")


def _reduction_block(b: _Builder, x, m: str, branches: tuple):
    """mixed_3 (conv, tower) and mixed_8 (tower, tower_1), then a 3x3 stride-2 max pool;
    "conv" is a single block, towers are chains."""
    outputs = [b.conv(x, f"{m}.conv") if branch == "conv" else b.chain(x, f"{m}.{branch}.")
               for branch in branches]
    outputs.append(b.pool(x, "max", 2, "valid", f"{m}.pool"))
    return b.concat(outputs, f"{m}.join")


def _expanded_block(b: _Builder, x, m: str, pool_kind: str):
    """mixed_9 and mixed_10: 1x1 | tower (1x3, 3x1 split) | tower_1 (split) | pool -> tower_2."""
    branches = [b.conv(x, f"{m}.conv")]
    for tower in ("tower", "tower_1"):
        t = b.chain(x, f"{m}.{tower}_")
        branches.append(b.concat([b.conv(t, f"{m}.{tower}_mixed_conv"),
                                  b.conv(t, f"{m}.{tower}_mixed_conv_1")], f"{m}.{tower}_mixed"))
    pooled = b.pool(x, pool_kind, 1, "same", f"{m}.tower_2_pool")
    branches.append(b.conv(pooled, f"{m}.tower_2_conv"))
    return b.concat(branches, f"{m}.join")


def _build_from_arrays(arrays: dict):
    import keras

    b = _Builder(arrays)
    images = keras.Input(shape=(None, None, None), dtype="float32", name="images")
    x = _preprocess_layer()(images)
    for name in ("conv", "conv_1", "conv_2"):
        x = b.conv(x, name)
    x = b.pool(x, "max", 2, "valid", "pool")
    for name in ("conv_3", "conv_4"):
        x = b.conv(x, name)
    x = b.pool(x, "max", 2, "valid", "pool_1")
    for m in ("mixed", "mixed_1", "mixed_2"):
        x = _inception_block(b, x, m)
    x = _reduction_block(b, x, "mixed_3", ("conv", "tower"))
    for m in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
        x = _inception_block(b, x, m)
    x = _reduction_block(b, x, "mixed_8", ("tower", "tower_1"))
    x = _expanded_block(b, x, "mixed_9", "avg")
    x = _expanded_block(b, x, "mixed_10", "max")  # the graph's quirk: a max pool here
    features = keras.layers.GlobalAveragePooling2D(name="pool_3", dtype="float32")(x)
    if features.shape[-1] != FEATURE_DIM:
        raise ValueError(f"the weights give {features.shape[-1]} features, expected {FEATURE_DIM}")
    model = keras.Model(images, features, name="fid_inception")
    b.load()
    model.trainable = False
    return model


def build_fid_inception(weights_path=None):
    """Keras model: (N, H, W, C) float32 images in [0, 255], C in {1, 3}, any H, W ->
    (N, 2048) float32 pool3 features. Preprocessing (``preprocess_for_inception``) is the
    model's first layer. ``weights_path`` None: ``resolve_weights()`` finds or downloads
    the weights. Built models are cached per file for the life of the process. Raises
    ``WeightsUnavailable`` when the weights are missing or not in the expected format."""
    path = resolve_weights(weights_path)
    key = file_key(path)
    model = _MODEL_CACHE.get(key)
    if model is None:
        try:
            model = _build_from_arrays(read_arrays(path))
        except ValueError as err:
            raise WeightsUnavailable(
                f"'{path}' is not a usable FID Inception weights file ({one_line(err)}); "
                "--inception-weights expects a weights.npz in gantool's format."
            ) from err
        _MODEL_CACHE[key] = model
    return model
