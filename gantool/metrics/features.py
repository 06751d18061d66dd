"""Batched extraction of FID Inception pool3 features with a tqdm progress bar."""

from __future__ import annotations

import weakref

import numpy as np
from tqdm import tqdm

from .inception import build_fid_inception

_FORWARD_FNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _is_positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _check_batch(batch, where: str) -> np.ndarray:
    """Validate one batch: uint8 (n, H, W, C) with C in {1, 3}; (n, H, W) gets C = 1."""
    if isinstance(batch, (tuple, list, dict)):
        raise TypeError(f"{where}: expected an image array (n, H, W, C), got a "
                        f"{type(batch).__name__}; pass images only (no labels)")
    array = np.asarray(batch)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(f"{where}: expected shape (n, H, W, C) with C = 1 or 3, got {array.shape}")
    if array.dtype != np.uint8:
        raise TypeError(f"{where}: expected uint8 images in [0, 255], got dtype {array.dtype}; "
                        "convert e.g. generator output in [-1, 1] with "
                        "np.clip(np.rint((x + 1) * 127.5), 0, 255).astype(np.uint8)")
    return array


def _batches(images, batch_size: int):
    """Yield uint8 batches of at most ``batch_size`` images."""
    if isinstance(images, np.ndarray):
        array = _check_batch(images, "images")
        for start in range(0, len(array), batch_size):
            yield array[start:start + batch_size]
        return
    for index, batch in enumerate(images):
        array = _check_batch(batch, f"batch {index}")
        for start in range(0, len(array), batch_size):
            yield array[start:start + batch_size]


def _forward_fn(model):
    """A tf.function calling ``model`` in inference mode, traced once per input signature."""
    fn = _FORWARD_FNS.get(model)
    if fn is None:
        import tensorflow as tf

        input_shape = getattr(model, "input_shape", None)
        if isinstance(input_shape, tuple) and len(input_shape) == 4:
            shape = [None] + list(input_shape[1:])
        else:
            shape = [None, None, None, None]
        model_ref = weakref.ref(model)

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def fn(x):
            return model_ref()(x, training=False)

        _FORWARD_FNS[model] = fn
    return fn


def extract_features(images, model=None, weights_path=None, batch_size: int = 50,
                     progress: bool = True, desc: str = "features") -> np.ndarray:
    """Pool3 features of ``images``: returns (N, 2048) float32.

    images: uint8 array (N, H, W, C) with C in {1, 3} (or (N, H, W)), values in [0, 255];
        or an iterable of such batches (any batch sizes; re-split to ``batch_size``).
    model: a model from ``build_fid_inception``; None builds (or reuses) the one for
        ``weights_path`` (None: cached or downloaded weights, see ``resolve_weights``).
    progress: show a tqdm bar (stderr) labelled ``desc``.
    """
    if not _is_positive_int(batch_size):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if model is None:
        model = build_fid_inception(weights_path)
    forward = _forward_fn(model)
    total = len(images) if isinstance(images, np.ndarray) else None
    outputs = []
    with tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for batch in _batches(images, int(batch_size)):
            if len(batch) == 0:
                continue
            features = forward(batch.astype(np.float32))
            outputs.append(np.asarray(features, dtype=np.float32))
            bar.update(len(batch))
    if not outputs:
        raise ValueError("no images to extract features from (empty input)")
    return np.concatenate(outputs, axis=0)
