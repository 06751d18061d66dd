"""Tests of the FID Inception port, its weights handling and the GraphDef converter.

Tests that need the real weights use ../shared/data/fid_inception (or $GANTOOL_SHARED/data)
and are skipped where it is absent. The network runs at a few images/s on a CPU, so only
the 4 + 4 reference images go through it.
"""

import io
import re
import tarfile
import urllib.error

import numpy as np
import pytest

from gantool.metrics import extract_features, inception
from gantool.metrics.inception import (
    WeightsUnavailable,
    build_fid_inception,
    check_layout,
    convert_graph_def,
    default_weights_path,
    preprocess_for_inception,
    resolve_weights,
)
from gantool.metrics.inception import weights as inception_weights

TOLERANCE = 1e-4


@pytest.fixture
def fid_dir(shared_data):
    path = shared_data / "fid_inception"
    if not (path / "weights.npz").is_file() or not (path / "reference.npz").is_file():
        pytest.skip(f"{path} lacks weights.npz / reference.npz")
    return path


@pytest.fixture
def reference(fid_dir):
    with np.load(fid_dir / "reference.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def weights_arrays(fid_dir):
    with np.load(fid_dir / "weights.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty cache folder and a download function that fails as with no network."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANTOOL_CACHE", str(cache))

    def no_network(url, dest):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(inception_weights, "download", no_network)
    return cache


# ----------------------------------------------------------------------------- the port


def test_port_reproduces_reference_features(fid_dir, reference):
    model = build_fid_inception(fid_dir / "weights.npz")
    assert build_fid_inception(str(fid_dir / "weights.npz")) is model  # cached per path
    # MNIST: grey 28x28 through the Keras model directly.
    mnist = np.asarray(model(reference["mnist_images"].astype(np.float32), training=False))
    assert mnist.shape == (4, 2048)
    np.testing.assert_allclose(mnist, reference["mnist_features"], rtol=0, atol=TOLERANCE)
    # CIFAR: RGB 32x32 through extract_features, as an iterable of uneven batches.
    images = reference["cifar_images"]
    cifar = extract_features([images[:3], images[3:]], model=model, batch_size=2, progress=False)
    assert cifar.shape == (4, 2048) and cifar.dtype == np.float32
    np.testing.assert_allclose(cifar, reference["cifar_features"], rtol=0, atol=TOLERANCE)


def test_preprocessing():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (2, 9, 7, 1)).astype(np.float32)
    out = np.asarray(preprocess_for_inception(grey))
    assert out.shape == (2, 299, 299, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], out[..., 2])  # grey repeated to 3 channels
    rgb = np.asarray(preprocess_for_inception(np.repeat(grey, 3, axis=-1)))
    np.testing.assert_array_equal(out, rgb)
    assert -1.0 <= out.min() and out.max() <= 127.0 / 128.0
    flat = np.full((1, 5, 5, 3), 64.0, np.float32)
    np.testing.assert_allclose(np.asarray(preprocess_for_inception(flat)), -0.5)
    with pytest.raises(ValueError, match="1 or 3 channels; got 2"):
        preprocess_for_inception(np.zeros((1, 4, 4, 2), np.float32))


def test_extract_features_rejects_bad_images():
    class NeverCalled:
        input_shape = (None, None, None, None)

        def __call__(self, x, training=False):
            raise AssertionError("model should not run")

    with pytest.raises(TypeError, match="uint8"):
        extract_features(np.zeros((2, 8, 8, 3), np.float32), model=NeverCalled(), progress=False)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        extract_features(np.zeros((2, 8, 8, 4), np.uint8), model=NeverCalled(), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(np.zeros((2, 8, 8, 3), np.uint8), model=NeverCalled(), batch_size=0)


def test_build_rejects_incomplete_weights(fid_dir, weights_arrays, tmp_path):
    broken = {k: v for k, v in weights_arrays.items() if not k.startswith("mixed_3.conv.")}
    path = tmp_path / "broken.npz"
    np.savez(path, **broken)
    with pytest.raises(WeightsUnavailable, match="no block 'mixed_3.conv'"):
        build_fid_inception(path)
    not_npz = tmp_path / "not.npz"
    not_npz.write_text("hello")
    with pytest.raises(WeightsUnavailable, match="not a usable FID Inception weights file"):
        build_fid_inception(not_npz)
    with pytest.raises(ValueError, match="layout"):
        check_layout(broken)
    check_layout(weights_arrays)


# ----------------------------------------------------------------------------- finding weights


def test_default_weights_path_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path))
    assert default_weights_path() == tmp_path / "fid_inception_weights.npz"


def test_missing_weights_without_network_raise_weights_unavailable(offline_cache):
    for call in (lambda: resolve_weights(None), lambda: build_fid_inception(None)):
        with pytest.raises(WeightsUnavailable) as info:
            call()
        message = str(info.value)
        assert "--inception-weights" in message and "\n" not in message
        assert "Temporary failure in name resolution" in message
        assert isinstance(info.value, RuntimeError)


def test_explicit_missing_path_is_reported(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(WeightsUnavailable, match=re.escape(str(missing))):
        resolve_weights(missing)


def test_user_weights_with_another_digest_are_accepted(offline_cache, tmp_path):
    other = tmp_path / "mine.npz"
    np.savez(other, a=np.zeros(3))
    assert resolve_weights(other) == other  # no digest check on a file the user names


# ----------------------------------------------------------------------------- converter


def graph_scope(block):
    """weights.npz block name -> scope in the inception-2015-12-05 graph (inverse of
    inception.graph_block_name)."""
    head, _, rest = block.partition(".")
    if head in ("mixed_9", "mixed_10") and rest:
        rest = re.sub(r"^(tower(?:_\d)?)_", r"\1/", rest).replace("/mixed_", "/mixed/")
        return f"{head}/{rest}"
    return block.replace(".", "/")


def make_graph_def(arrays, pads, gamma=1.0, scale_after_normalization=False):
    """A GraphDef laid out like classify_image_graph_def.pb: per block SCOPE a Const
    SCOPE/conv2d_params (HWIO), SCOPE/Conv2D, Consts SCOPE/batchnorm/{beta,gamma,moving_mean,
    moving_variance}, SCOPE/batchnorm (BatchNormWithGlobalNormalization) and a Relu."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()

    def add(name, op, inputs=()):
        node = graph.node.add()
        node.name, node.op = name, op
        node.input.extend(inputs)
        return node

    def const(name, value):
        node = add(name, "Const")
        node.attr["dtype"].type = tf.float32.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.asarray(value, np.float32)))

    placeholder = add("Mul", "Placeholder")
    placeholder.attr["dtype"].type = tf.float32.as_datatype_enum
    for block, (pad_h, pad_w, stride) in pads.items():
        scope = graph_scope(block)
        kernel = arrays[block + ".weight"]
        const(f"{scope}/conv2d_params", kernel.transpose(2, 3, 1, 0))
        conv = add(f"{scope}/Conv2D", "Conv2D", ["Mul", f"{scope}/conv2d_params"])
        conv.attr["T"].type = tf.float32.as_datatype_enum
        conv.attr["strides"].list.i.extend([1, stride, stride, 1])
        conv.attr["padding"].s = b"VALID" if pad_h == pad_w == 0 else b"SAME"
        conv.attr["data_format"].s = b"NHWC"
        conv.attr["use_cudnn_on_gpu"].b = True
        const(f"{scope}/batchnorm/beta", arrays[block + ".beta"])
        const(f"{scope}/batchnorm/gamma", np.full_like(arrays[block + ".beta"], gamma))
        const(f"{scope}/batchnorm/moving_mean", arrays[block + ".mean"])
        const(f"{scope}/batchnorm/moving_variance", arrays[block + ".var"])
        norm = add(f"{scope}/batchnorm", "BatchNormWithGlobalNormalization",
                   [f"{scope}/Conv2D", f"{scope}/batchnorm/moving_mean",
                    f"{scope}/batchnorm/moving_variance", f"{scope}/batchnorm/beta",
                    f"{scope}/batchnorm/gamma"])
        norm.attr["T"].type = tf.float32.as_datatype_enum
        norm.attr["variance_epsilon"].f = 0.001
        norm.attr["scale_after_normalization"].b = scale_after_normalization
        add(scope, "Relu", [f"{scope}/batchnorm"])
    return graph


def tiny_arrays():
    """Four small blocks covering stride 2, 1xN / Nx1 kernels and flattened mixed_9 names."""
    rng = np.random.default_rng(0)
    shapes = {"conv": (4, 3, 3, 3), "mixed_4.tower.conv_1": (5, 4, 1, 7),
              "mixed_9.tower_1_mixed_conv_1": (6, 5, 3, 1), "mixed_10.tower_2_conv": (2, 6, 1, 1)}
    pads = {"conv": (0, 0, 2), "mixed_4.tower.conv_1": (0, 3, 1),
            "mixed_9.tower_1_mixed_conv_1": (1, 0, 1), "mixed_10.tower_2_conv": (0, 0, 1)}
    arrays = {}
    for block, shape in shapes.items():
        arrays[block + ".weight"] = rng.normal(size=shape).astype(np.float32)
        for suffix in ("beta", "mean", "var"):
            arrays[f"{block}.{suffix}"] = rng.uniform(0.5, 1.5, size=shape[0]).astype(np.float32)
    return arrays, pads


def test_converter_on_tiny_synthetic_graph():
    arrays, pads = tiny_arrays()
    converted = convert_graph_def(make_graph_def(arrays, pads, gamma=2.0).SerializeToString())
    expected_pads = sorted(f"{b}:{h},{w}:{s}" for b, (h, w, s) in pads.items())
    assert sorted(converted["__pads__"]) == expected_pads
    assert set(converted) == set(arrays) | {"__pads__"}
    for key, value in arrays.items():
        np.testing.assert_array_equal(converted[key], value, err_msg=key)
    assert graph_scope("mixed_9.tower_1_mixed_conv_1") == "mixed_9/tower_1/mixed/conv_1"
    with pytest.raises(ValueError, match="scale_after_normalization"):
        convert_graph_def(make_graph_def(arrays, pads, scale_after_normalization=True))
    with pytest.raises(ValueError, match="layout"):
        check_layout(converted)


def test_download_conversion_and_cache(fid_dir, weights_arrays, offline_cache, tmp_path,
                                       monkeypatch):
    """Full path of resolve_weights(None): download (faked with a tarball of a GraphDef built
    from weights.npz), convert, validate, cache with a sha256 sidecar, then reuse the cache."""
    pads = inception.parse_pads(weights_arrays["__pads__"])
    payload = make_graph_def(weights_arrays, pads).SerializeToString()
    tarball = tmp_path / "inception-2015-12-05.tgz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo(inception.GRAPH_DEF_MEMBER)
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    del payload
    downloads = []

    def fake_download(url, dest):
        assert url == inception.INCEPTION_URL
        downloads.append(url)
        dest.write_bytes(tarball.read_bytes())

    monkeypatch.setattr(inception_weights, "download", fake_download)
    path = resolve_weights(None)
    assert path == default_weights_path() and len(downloads) == 1
    with np.load(path) as converted:
        assert sorted(converted["__pads__"]) == sorted(weights_arrays["__pads__"])
        assert set(converted.files) == set(weights_arrays)
        for key in weights_arrays:
            if key != "__pads__":
                np.testing.assert_array_equal(converted[key], weights_arrays[key], err_msg=key)
    sidecar = path.with_name(path.name + ".sha256")
    assert sidecar.read_text().split()[0] == inception.file_sha256(path)

    assert resolve_weights(None) == path and len(downloads) == 1  # served from the cache
    with open(path, "ab") as handle:  # corrupt the cached copy
        handle.write(b"junk")
    with pytest.raises(WeightsUnavailable, match="sha256"):
        resolve_weights(None)
