"""The FID Inception network: FID, KID and precision/recall are defined on the 2048-d
``pool3`` features of TensorFlow's ``inception-2015-12-05`` graph (not
``keras.applications.InceptionV3``, whose weights differ).

* :mod:`.layout`: the ``weights.npz`` format and its checks;
* :mod:`.weights`: the cache folder, finding, downloading and trusting the weights (sha256);
* :mod:`.convert`: the GraphDef of the download -> ``weights.npz``;
* :mod:`.network`: the Keras model and its preprocessing.

Importing this package does not import TensorFlow or Keras.
"""

from .convert import (
    GRAPH_DEF_MEMBER,
    convert_graph_def,
    convert_inception_tarball,
    graph_block_name,
)
from .layout import (
    BN_EPSILON,
    FEATURE_DIM,
    INPUT_SIZE,
    LAYOUT_SHA256,
    NUM_PARAMETERS,
    check_layout,
    layout_digest,
    parse_pads,
)
from .network import build_fid_inception, preprocess_for_inception
from .weights import (
    INCEPTION_URL,
    WEIGHTS_FILENAME,
    WEIGHTS_SHA256,
    WeightsUnavailable,
    cache_dir,
    default_weights_path,
    file_sha256,
    resolve_weights,
    weights_digest,
)

__all__ = [
    "BN_EPSILON", "FEATURE_DIM", "GRAPH_DEF_MEMBER", "INCEPTION_URL", "INPUT_SIZE",
    "LAYOUT_SHA256", "NUM_PARAMETERS", "WEIGHTS_FILENAME", "WEIGHTS_SHA256",
    "WeightsUnavailable", "build_fid_inception", "cache_dir", "check_layout",
    "convert_graph_def", "convert_inception_tarball", "default_weights_path", "file_sha256",
    "graph_block_name", "layout_digest", "parse_pads", "preprocess_for_inception",
    "resolve_weights", "weights_digest",
]
