"""Conversion of TensorFlow's ``inception-2015-12-05`` GraphDef into a ``weights.npz``.

Each ``SCOPE/Conv2D`` node (filter a Const in HWIO layout) feeding a
``BatchNormWithGlobalNormalization`` node (inputs t, mean, var, beta, gamma;
``scale_after_normalization`` false, so gamma is unused) becomes block
``graph_block_name(SCOPE)`` of the format described in :mod:`.layout`.

TensorFlow is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections import defaultdict

import numpy as np

from .layout import BN_EPSILON, PADS_KEY, one_line

GRAPH_DEF_MEMBER = "classify_image_graph_def.pb"
# Blocks whose tower convs are flattened into one name: mixed_9/tower/mixed/conv
# in the TF graph is "mixed_9.tower_mixed_conv" in weights.npz.
_FLAT_TOWER_BLOCKS = ("mixed_9", "mixed_10")
_BLOCK_SCOPE = re.compile(r"^(conv(_\d+)?|mixed(_\d+)?)$")


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


def _parse(graph_def):
    import tensorflow as tf

    if not isinstance(graph_def, (bytes, bytearray, memoryview)):
        return graph_def
    parsed = tf.compat.v1.GraphDef()
    try:
        parsed.ParseFromString(bytes(graph_def))
    except Exception as err:  # protobuf's DecodeError
        raise ValueError(f"not a serialized GraphDef: {one_line(err)}") from err
    return parsed


def _padding(node, kernel) -> tuple:
    """(pad_h, pad_w, stride) of a Conv2D node: its symmetric equivalent in the file format."""
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
        return 0, 0, stride
    if padding == "SAME" and stride == 1 and kh % 2 == 1 and kw % 2 == 1:
        return (kh - 1) // 2, (kw - 1) // 2, stride
    raise ValueError(f"{node.name}: padding {padding} with stride {stride} and kernel "
                     f"{kh}x{kw} has no symmetric equivalent")


def _batch_norm(node, consumers):
    """The one BatchNormWithGlobalNormalization node reading a Conv2D node, checked."""
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
    return norm


def _block_arrays(node, nodes, consumers):
    """(block name, its four arrays, its ``__pads__`` entry) of one Conv2D node."""
    block = graph_block_name(node.name.rsplit("/", 1)[0])
    kernel = np.asarray(_const_value(nodes, node.input[1]), dtype=np.float32)
    if kernel.ndim != 4:
        raise ValueError(f"{node.name}: filter has shape {kernel.shape}, "
                         "expected (kh, kw, in, out)")
    pad_h, pad_w, stride = _padding(node, kernel)
    _, mean_in, var_in, beta_in, _gamma_in = list(_batch_norm(node, consumers).input)[:5]
    arrays = {block + ".weight": np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))}
    for suffix, tensor_name in (("beta", beta_in), ("mean", mean_in), ("var", var_in)):
        arrays[f"{block}.{suffix}"] = np.asarray(_const_value(nodes, tensor_name),
                                                 dtype=np.float32)
    return block, arrays, f"{block}:{pad_h},{pad_w}:{stride}"


def convert_graph_def(graph_def) -> dict:
    """Extract the conv/batch-norm blocks of the inception-2015-12-05 GraphDef.

    ``graph_def``: serialized bytes or a ``GraphDef``. Returns the arrays of a weights.npz
    (not checked; see ``check_layout``).
    """
    graph_def = _parse(graph_def)
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
        if not _BLOCK_SCOPE.match(node.name.split("/")[0]):
            continue
        block, block_arrays, pad = _block_arrays(node, nodes, consumers)
        if block + ".weight" in arrays:
            raise ValueError(f"two Conv2D nodes map to block {block!r}")
        arrays.update(block_arrays)
        pads.append(pad)
    if not pads:
        raise ValueError("graph has no conv/batch-norm blocks named like conv*/... or mixed*/...")
    arrays[PADS_KEY] = np.array(pads)
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
