"""The ``weights.npz`` format of the FID Inception network, and checks of its layout.

One entry group per convolution block ``NAME``:

* ``NAME.weight``: float32 (out, in, kh, kw) convolution kernel (OIHW), no bias;
* ``NAME.beta``, ``NAME.mean``, ``NAME.var``: float32 (out,) batch norm without gamma,
  epsilon 1e-3; every block is conv -> batch norm -> ReLU;
* ``__pads__``: strings ``"NAME:pad_h,pad_w:stride"`` (symmetric zero padding, stride).

Block names follow the original graph (``conv`` ... ``conv_4``, ``mixed`` ... ``mixed_10``,
towers such as ``mixed.tower.conv_1`` or ``mixed_9.tower_1_mixed_conv``).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

# sha256 of the sorted "key:shape" lines and "__pads__" entries of a correct weights file
# (see layout_digest); a converted download must have exactly this layout.
LAYOUT_SHA256 = "f66f0b43ee31157bba199cbc80fe0c338dbccd0664189f7de51b4e5614efe663"
# conv kernels + batch norm beta/mean/var of the 94 blocks.
NUM_PARAMETERS = 21_802_784
INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3

PADS_KEY = "__pads__"
BN_SUFFIXES = ("beta", "mean", "var")
_PAD_ENTRY = re.compile(r"^([A-Za-z0-9_.]+):(\d+),(\d+):(\d+)$")


def one_line(err: BaseException) -> str:
    """An exception as one line of text (its type name where it has no message)."""
    text = " ".join(str(err).split())
    return text or type(err).__name__


def read_arrays(path) -> dict:
    """Load every entry of a weights.npz into a dict of numpy arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"cannot read '{path}' as an .npz weights file: {one_line(err)}") from err


def parse_pads(entries) -> dict:
    """``["NAME:ph,pw:stride", ...]`` -> ``{NAME: (ph, pw, stride)}``."""
    pads = {}
    for entry in np.asarray(entries).ravel():
        match = _PAD_ENTRY.match(str(entry))
        if not match:
            raise ValueError(f"bad {PADS_KEY} entry {str(entry)!r}; "
                             "expected 'NAME:pad_h,pad_w:stride'")
        name, ph, pw, stride = match.groups()
        pads[name] = (int(ph), int(pw), int(stride))
    return pads


def layout_digest(arrays: dict) -> str:
    """sha256 of the sorted ``key:shape`` lines plus the ``__pads__`` entries."""
    lines = sorted(f"{key}:{tuple(int(s) for s in value.shape)}"
                   for key, value in arrays.items() if key != PADS_KEY)
    pads = sorted(str(p) for p in np.asarray(arrays.get(PADS_KEY, [])).ravel())
    return hashlib.sha256("\n".join(lines + pads).encode()).hexdigest()


def check_layout(arrays: dict) -> None:
    """Raise ValueError unless ``arrays`` has exactly the FID Inception layout."""
    n_params = sum(int(v.size) for k, v in arrays.items() if k != PADS_KEY)
    digest = layout_digest(arrays)
    if digest != LAYOUT_SHA256 or n_params != NUM_PARAMETERS:
        n_blocks = sum(1 for k in arrays if k.endswith(".weight"))
        raise ValueError(
            f"weights do not have the FID Inception layout: {n_blocks} conv blocks, "
            f"{n_params:,} parameters (expected 94 blocks, {NUM_PARAMETERS:,}), "
            f"layout digest {digest[:16]} (expected {LAYOUT_SHA256[:16]})"
        )
