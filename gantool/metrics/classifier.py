"""Features of any Keras image classifier, for Fréchet distance, KID and precision/recall in a
feature space other than FID Inception's (``gantool eval --features PATH.keras[:LAYER]``).

The classifier is read with ``keras.saving.load_model``; the features are the output of one
of its layers (default: the penultimate one, ``model.layers[-2]``), flattened to (N, D).

Input convention (the same one ``experiments/train_classifier.py`` trains with): uint8 images
in [0, 255] are resized (bilinear) to the model's input height and width, converted to its
channels (grey repeated to RGB; RGB to grey with the ITU-R 601 luma weights) and scaled to
**[0, 1]** (x / 255) as float32. gantool's generator outputs in [-1, 1] become uint8 first, as
for Inception, so a classifier trained on dataset images /255 sees samples in the same range.

TensorFlow and Keras are imported only when a function that needs them runs.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from gantool.errors import UsageError, first_line

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
LISTED_LAYERS = 8  # layer names an error message lists


def load_classifier(path, what="--features"):
    """The Keras model saved at ``path``; UsageError (one line) if it cannot be read."""
    import keras

    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises many kinds for a bad file
        raise UsageError(f"{what} {path}: cannot load it as a Keras model "
                         f"({first_line(e)[:200]})") \
            from None


def layer_names(model):
    """The names of ``model``'s layers, in order."""
    return [layer.name for layer in model.layers]


def _listing(names):
    shown = ", ".join(names[:LISTED_LAYERS])
    more = f", ... ({len(names)} layers)" if len(names) > LISTED_LAYERS else ""
    return shown + more


def default_layer(model):
    """The penultimate layer's name (the last one's for a one-layer model)."""
    names = layer_names(model)
    if not names:
        raise UsageError("the classifier has no layers to take features from")
    return names[-2] if len(names) >= 2 else names[-1]


def feature_model(model, layer=None, what="--features"):
    """(A Keras model from ``model``'s input to ``layer``'s output, the layer's name).

    Raises UsageError naming ``layer`` and listing the first layer names when it is absent,
    or when the model's input is not one image tensor (H, W, C)."""
    import keras

    names = layer_names(model)
    layer = layer or default_layer(model)
    if layer not in names:
        raise UsageError(f"{what}: the classifier has no layer {layer!r}; its layers: "
                         f"{_listing(names)}")
    inputs = model.inputs
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = [tuple(i.shape) for i in inputs]
        raise UsageError(f"{what}: the classifier must take one image input (N, H, W, C); "
                         f"it takes {shapes}")
    return keras.Model(inputs[0], model.get_layer(layer).output), layer


def input_size(model):
    """(height, width, channels) the classifier expects; channels 1 or 3."""
    _, height, width, channels = tuple(model.inputs[0].shape)
    if channels not in (1, 3) or not height or not width:
        raise UsageError(f"--features: the classifier's input shape {tuple(model.inputs[0].shape)}"
                         " is not fixed-size grey or RGB images (N, H, W, 1 or 3)")
    return int(height), int(width), int(channels)


def preprocess(images, size):
    """uint8 (N, H, W[, C]) -> float32 (N, *size) in [0, 1]: the classifier's input.

    size: (height, width, channels) from :func:`input_size`."""
    import tensorflow as tf

    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(f"expected images (N, H, W, C) with C = 1 or 3, got {array.shape}")
    height, width, channels = size
    x = array.astype(np.float32) / 255.0
    if x.shape[-1] == 1 and channels == 3:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 3 and channels == 1:
        x = (x @ LUMA)[..., np.newaxis]
    if x.shape[1:3] != (height, width):
        x = tf.image.resize(x, (height, width), method="bilinear").numpy()
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


def classifier_features(images, model, size, batch_size=50, progress=True, desc="features"):
    """Flattened features (N, D) float32 of uint8 ``images`` from a :func:`feature_model`
    ``model`` whose input is ``size`` (:func:`input_size`), ``batch_size`` at a time."""
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("no images to extract features from (empty input)")
    outputs = []
    with tqdm(total=len(images), desc=desc, unit="img", disable=not progress,
              leave=False) as bar:
        for start in range(0, len(images), int(batch_size)):
            batch = preprocess(images[start:start + int(batch_size)], size)
            features = np.asarray(model(batch, training=False), dtype=np.float32)
            outputs.append(features.reshape(len(batch), -1))
            bar.update(len(batch))
    return np.concatenate(outputs, axis=0)
