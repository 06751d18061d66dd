"""Datasets, local sources and the training input pipeline (tfds is mocked: no network)."""

import functools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

import gantool.data
from gantool.data import (
    DATASETS,
    SOURCE_PREFIXES,
    dataset_names,
    describe_datasets,
    load_dataset,
    toy,
    validate_dataset_spec,
)
from gantool.data.pipeline import (
    steps_per_epoch,
    to_model_range,
    training_dataset,
)
from gantool.data.source import DataSource, from_arrays
from gantool.data.tfds import CELEB_A_SIZE, TFDS_NAMES
from gantool.errors import GantoolError, UsageError
from gantool.sampling import to_uint8 as from_model_range

MOCK_EXAMPLES = 6


@pytest.fixture
def mock_tfds():
    """tfds datasets generated from their feature specs instead of downloaded."""
    with tfds.testing.mock_data(
        num_examples=MOCK_EXAMPLES, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        yield


def elements(source):
    return [x.numpy() for x in source.dataset]


def save_image(path, size=(20, 12), mode="RGB", seed=0):
    """A random image of ``size`` (width, height) in PIL ``mode`` written to ``path``."""
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(path)
    return path


def points_source(n):
    """A source of n identifiable points (i, -i), i = 0 .. n-1."""
    i = np.arange(n, dtype=np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(np.stack([i, -i], axis=1))
    return DataSource(name="points", kind="points", shape=(2,), num_examples=n, dataset=dataset)


# --- names, descriptions, validation -------------------------------------------------------------


def test_import_does_not_import_tensorflow():
    code = "import sys, gantool.data as d; d.dataset_names(); d.describe_datasets(); " \
           "d.validate_dataset_spec('mnist'); " \
           "print(*(m in sys.modules for m in ('tensorflow', 'tensorflow_datasets', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_registered_names():
    expected = {"mnist", "fashion_mnist", "svhn", "cifar10", "celeb_a",
                "sine", "gaussian", "ring", "grid", "shapes"}
    assert set(dataset_names()) == expected
    assert dataset_names() == DATASETS.names()


def test_describe_has_a_line_per_dataset_and_source():
    lines = describe_datasets().splitlines()
    assert len(lines) == len(dataset_names()) + len(SOURCE_PREFIXES)
    for name, line in zip(dataset_names(), lines[: len(dataset_names())], strict=True):
        assert line.split()[0] == name and len(line.split()) > 1
    for prefix in SOURCE_PREFIXES:
        assert any(line.startswith(prefix + "PATH") for line in lines)


@pytest.mark.parametrize("name", DATASETS.names())
def test_registered_names_are_valid_specs(name):
    validate_dataset_spec(name)


def test_valid_local_specs(tmp_path, mnist_npz):
    validate_dataset_spec(f"folder:{tmp_path}")
    validate_dataset_spec(f"npz:{mnist_npz}")
    validate_dataset_spec(f"npy:{mnist_npz}")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("mnsit", "unknown dataset 'mnsit'"),
        ("svhn_cropped", "unknown dataset"),
        ("", "is not a dataset"),
        ("folder:", "names no path"),
        ("npz:", "names no path"),
        ("folder:{tmp}/missing", "does not exist"),
        ("npz:{tmp}/missing.npz", "does not exist"),
        ("folder:{tmp}/file.npz", "is not a directory"),
        ("npy:{tmp}", "is not a file"),
    ],
)
def test_bad_specs(tmp_path, spec, message):
    (tmp_path / "file.npz").write_bytes(b"")
    spec = spec.format(tmp=tmp_path)
    with pytest.raises(UsageError, match=message) as info:
        validate_dataset_spec(spec)
    if message.startswith("unknown") or message.startswith("is not a dataset"):
        for accepted in ("mnist", "celeb_a", "ring", "folder:PATH", "npz:PATH", "npy:PATH"):
            assert accepted in str(info.value)
    with pytest.raises(UsageError):
        load_dataset(spec)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(image_size=0), "image size 0"),
        (dict(channels=2), "channels 2"),
        (dict(max_examples=0), "max examples 0"),
    ],
)
def test_bad_load_options(options, message):
    with pytest.raises(UsageError, match=message):
        load_dataset("ring", **options)


# --- registering a dataset ----------------------------------------------------------------------


@pytest.fixture
def datasets():
    """:data:`DATASETS`, without the names that the test registers once it is done."""
    before = DATASETS.names()
    yield DATASETS
    for name in DATASETS.names():
        if name not in before:
            DATASETS.unregister(name)
    assert DATASETS.names() == before


def blobs(name, *, split, data_dir, image_size, channels, max_examples, seed):
    """2-D toy: two Gaussian blobs, 10 points each, labelled left and right.

    (More docstring, not in the description.)
    """
    centres = np.repeat([[-3.0, 0.0], [3.0, 0.0]], 10, axis=0)
    points = centres + np.random.default_rng(seed).standard_normal((20, 2))
    return from_arrays(name, points, np.repeat([0, 1], 10), ["left", "right"],
                       max_examples=max_examples)


def description_rows():
    """``{label: description}`` from :func:`describe_datasets`."""
    return {line.split()[0]: " ".join(line.split()[1:]) for line in
            describe_datasets().splitlines()}


def test_the_package_reexports_the_source():
    assert gantool.data.DataSource is DataSource and gantool.data.from_arrays is from_arrays


def test_register_a_function_in_one_call(datasets):
    datasets.register("blobs", blobs)
    validate_dataset_spec("blobs")
    assert dataset_names()[-1] == "blobs"
    source = load_dataset("blobs", max_examples=15, seed=1)
    assert (source.kind, source.shape, source.num_examples) == ("points", (2,), 15)
    assert source.labels_available and source.class_names == ["left", "right"]
    assert [int(y) for y in source.labels] == [0] * 10 + [1] * 5
    points = np.stack(elements(source))
    assert points.dtype == np.float32 and np.array_equal(points, np.stack(elements(
        load_dataset("blobs", max_examples=15, seed=1))))
    assert description_rows()["blobs"] == "2-D toy: two Gaussian blobs, 10 points each, " \
                                          "labelled left and right."
    with pytest.raises(ValueError, match="already registered"):
        datasets.register("blobs", blobs)
    datasets.unregister("blobs")
    assert "blobs" not in dataset_names() and "blobs" not in describe_datasets()
    with pytest.raises(UsageError, match="unknown dataset 'blobs'"):
        validate_dataset_spec("blobs")


def test_registered_descriptions(datasets):
    def bare(name, **options):
        return blobs(name, **options)

    def described(name, **options):
        """Not this line."""
        return blobs(name, **options)

    described.description = "an attribute"
    datasets.register("bare", bare)
    datasets.register("described", described)
    datasets.register("given", bare, description="given text")
    datasets.register("partial", functools.partial(blobs))
    datasets.register("lazy", "gantool.data.toy:load_toy")

    @datasets.register("decorated")
    def decorated(name, **options):
        """From the decorator."""
        return blobs(name, **options)

    rows = description_rows()
    assert [rows[n] for n in ("bare", "described", "given", "partial", "lazy", "decorated")] == \
        ["", "an attribute", "given text", "", "", "From the decorator."]
    assert rows["mnist"].startswith("28x28 grey handwritten digits")
    for name in ("bare", "partial", "decorated"):
        validate_dataset_spec(name)
        assert load_dataset(name, max_examples=3).num_examples == 3


# --- sources from arrays -------------------------------------------------------------------------


def test_from_arrays_images():
    images = np.random.default_rng(0).integers(0, 256, (6, 12, 16), dtype=np.uint8)
    source = from_arrays("faces", images, labels=np.array([0, 2, 1, 0, 2, 2]))
    assert (source.name, source.kind, source.shape, source.num_examples) == \
        ("faces", "image", (12, 16, 1), 6)
    assert np.array_equal(np.stack(elements(source)), images[..., None])
    assert source.class_names == ["0", "1", "2"] and source.num_classes == 3
    assert [int(y) for y in source.labels] == [0, 2, 1, 0, 2, 2]
    small = from_arrays("faces", images, image_size=8, channels=3, max_examples=4)
    assert (small.shape, small.num_examples, small.labels_available) == ((8, 8, 3), 4, False)
    assert [x.shape for x in elements(small)] == [(8, 8, 3)] * 4
    assert small.labels is None and small.class_names is None


def test_from_arrays_points():
    points = np.arange(10, dtype=np.float64).reshape(5, 2)
    source = from_arrays("pairs", points, max_examples=3)
    assert (source.kind, source.shape, source.num_examples) == ("points", (2,), 3)
    data = np.stack(elements(source))
    assert data.dtype == np.float32 and np.array_equal(data, points[:3])


@pytest.mark.parametrize(
    "data, options, message",
    [
        (np.zeros((2, 4, 4), np.int64), {}, "uint8 images .* are expected"),
        (np.zeros((0, 4, 4), np.uint8), {}, r"expected \(N, H, W\) or \(N, H, W, C\)"),
        (np.zeros((2, 4, 4), np.float32), {}, r"expected float \(N, 2\) points"),
        (np.zeros((3, 2), np.float32), dict(image_size=8), "holds 2-D points; image size"),
        (np.zeros((3, 4, 4), np.uint8), dict(labels=[0, 1]), r"expected integer class ids \(3,\)"),
        (np.zeros((3, 4, 4), np.uint8), dict(labels=[0.0, 1.0, 0.0]), "integer class ids"),
        (np.zeros((2, 4, 4), np.uint8), dict(labels=[0, 2], class_names=["a", "b"]),
         r"class ids lie in \[0, 2\]; expected ids in \[0, 2\)"),
        (np.zeros((2, 4, 4), np.uint8), dict(labels=[-1, 0]), "class ids lie in"),
        (np.zeros((2, 4, 4), np.uint8), dict(class_names=["a"]), "class names .* without labels"),
    ],
)
def test_from_arrays_rejects_bad_arrays(data, options, message):
    with pytest.raises(UsageError, match=f"dataset 'bad'.*{message}"):
        from_arrays("bad", data, **options)


# --- every registered dataset --------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_contract(mock_tfds, name):
    source = load_dataset(name, max_examples=4)
    assert source.name == name
    assert source.kind in ("image", "points")
    assert source.num_examples == 4
    data = elements(source)
    assert len(data) == 4
    for x in data:
        assert x.shape == source.shape
        assert x.dtype == (np.uint8 if source.kind == "image" else np.float32)
    if source.kind == "image":
        assert len(source.shape) == 3 and source.shape[-1] in (1, 3)
    else:
        assert source.shape == (2,)
    # the order is deterministic
    assert all(np.array_equal(a, b) for a, b in zip(data, elements(source), strict=True))


# --- tfds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shape",
    [
        ("mnist", (28, 28, 1)),
        ("fashion_mnist", (28, 28, 1)),
        ("svhn", (32, 32, 3)),
        ("cifar10", (32, 32, 3)),
        ("celeb_a", (CELEB_A_SIZE, CELEB_A_SIZE, 3)),
    ],
)
def test_tfds_datasets(mock_tfds, name, shape):
    source = load_dataset(name)
    assert (source.kind, source.shape, source.num_examples) == ("image", shape, MOCK_EXAMPLES)
    assert [x.shape for x in elements(source)] == [shape] * MOCK_EXAMPLES
    assert source.labels_available == (name != "celeb_a")
    if name != "celeb_a":
        assert len(source.class_names) == 10


def test_tfds_names_cover_the_registry():
    image_sets = [n for n in DATASETS.names() if n not in (*toy.TOY_NAMES, "shapes")]
    assert sorted(TFDS_NAMES) == sorted(image_sets)
    assert TFDS_NAMES["svhn"] == "svhn_cropped"


@pytest.mark.parametrize(
    "name, options, shape",
    [
        ("celeb_a", dict(image_size=32), (32, 32, 3)),
        ("celeb_a", dict(image_size=16, channels=1), (16, 16, 1)),
        ("mnist", dict(channels=3), (28, 28, 3)),
        ("mnist", dict(image_size=32), (32, 32, 1)),
        ("cifar10", dict(channels=1, image_size=16), (16, 16, 1)),
        ("svhn", dict(image_size=32, channels=3), (32, 32, 3)),
    ],
)
def test_tfds_resize_and_channels(mock_tfds, name, options, shape):
    source = load_dataset(name, max_examples=2, **options)
    assert source.shape == shape
    data = elements(source)
    assert [(x.shape, x.dtype) for x in data] == [(shape, np.uint8)] * 2


def test_tfds_grey_to_rgb_repeats_the_channel(mock_tfds):
    grey = elements(load_dataset("mnist", max_examples=2))
    rgb = elements(load_dataset("mnist", max_examples=2, channels=3))
    for g, c in zip(grey, rgb, strict=True):
        assert np.array_equal(np.repeat(g, 3, axis=-1), c)


@pytest.mark.parametrize(
    "error",
    [
        tfds.download.DownloadError("Failed to get url https://example.org/x.gz. HTTP code: 404."),
        ConnectionError("HTTPSConnectionPool(host='storage.googleapis.com', port=443): Max "
                        "retries exceeded\nwith url: /cvdf-datasets/mnist/..."),
        OSError("[Errno 28] No space left on device"),
    ],
)
@pytest.mark.parametrize("name", ["mnist", "celeb_a"])
def test_tfds_download_failure_is_one_line(monkeypatch, tmp_path, name, error):
    def fail(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)
    with pytest.raises(GantoolError) as info:
        load_dataset(name, data_dir=str(tmp_path))
    message = str(info.value)
    assert not isinstance(info.value, UsageError)
    assert "\n" not in message
    assert f"dataset '{name}' could not be downloaded" in message
    for hint in ("folder:PATH", "npz:PATH", "--data-dir"):
        assert hint in message
    assert len(message) < 300
    if isinstance(error, ConnectionError):
        assert "no network connection" in message


def test_tfds_split_sizes_come_from_the_builder_info():
    from types import SimpleNamespace

    from tensorflow_datasets.core.naming import ShardedFileTemplate

    from gantool.data.tfds import _num_examples

    def split(name, n):
        template = ShardedFileTemplate(data_dir="/nowhere", dataset_name="mnist",
                                       filetype_suffix="tfrecord", split=name)
        return tfds.core.SplitInfo(name=name, shard_lengths=[n], num_bytes=0,
                                   filename_template=template)

    splits = tfds.core.SplitDict([split("train", 100), split("test", 20)])
    builder = SimpleNamespace(info=SimpleNamespace(splits=splits))
    assert _num_examples("mnist", builder, "train") == 100
    assert _num_examples("mnist", builder, "train[:10%]") == 10
    assert _num_examples("mnist", builder, "train+test") == 120
    with pytest.raises(UsageError, match="dataset 'mnist' has no split 'valid'.*train, test"):
        _num_examples("mnist", builder, "valid")


def test_tfds_other_errors_are_not_hidden(monkeypatch, tmp_path):
    def bug(self, *args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", bug)
    with pytest.raises(KeyError, match="a bug"):
        load_dataset("mnist", data_dir=str(tmp_path))


# --- folder: -------------------------------------------------------------------------------------


def test_folder_with_class_subfolders(image_folder):
    source = load_dataset(f"folder:{image_folder}", image_size=16)
    assert (source.kind, source.shape, source.num_examples) == ("image", (16, 16, 3), 24)
    assert source.labels_available and source.class_names == ["cats", "dogs"]
    data = np.stack(elements(source))
    assert data.dtype == np.uint8 and data.shape == (24, 16, 16, 3)
    # sorted paths: cats/img01.jpg ... then dogs/img00.png (48x40 lossless) at index 12;
    # at its own size it comes back as the exact central square
    exact = np.stack(elements(load_dataset(f"folder:{image_folder}", image_size=40)))
    with Image.open(image_folder / "dogs" / "img00.png") as image:
        assert np.array_equal(exact[12], np.asarray(image)[4:44])


def test_folder_defaults_to_64_rgb(image_folder):
    source = load_dataset(f"folder:{image_folder}", max_examples=3)
    assert (source.shape, source.num_examples) == ((64, 64, 3), 3)
    assert len(elements(source)) == 3


def test_folder_mixed_extensions_nested_and_sorted(tmp_path):
    root = tmp_path / "mixed"
    names = ["b.PNG", "a.jpg", "c.JPEG", "sub/d.bmp", "sub/deeper/e.gif", "sub/f.webp"]
    for i, name in enumerate(names):
        save_image(root / name, mode="L" if i % 2 else "RGB", seed=i)
    save_image(root / "sub" / "g.RGBA.png", mode="RGBA", seed=9)
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"resource fork, not an image")
    source = load_dataset(f"folder:{root}", image_size=8, channels=1)
    assert (source.shape, source.num_examples) == ((8, 8, 1), 7)
    assert not source.labels_available and source.class_names is None
    # sorted by path: a.jpg, b.PNG, c.JPEG, sub/... ; the first is a.jpg's central 12x12 square
    first = elements(source)[0][..., 0].astype(int)
    with Image.open(root / "a.jpg") as image:
        expected = np.asarray(image.convert("L").crop((4, 0, 16, 12)).resize((8, 8), Image.BICUBIC))
    assert np.abs(first - expected).mean() < 2  # (borders differ slightly: resampling context)


def test_folder_grey_and_rgb(tmp_path):
    root = tmp_path / "grey"
    for i in range(3):
        save_image(root / f"{i}.png", size=(10, 10), mode="L", seed=i)
    grey = np.stack(elements(load_dataset(f"folder:{root}", image_size=10, channels=1)))
    rgb = np.stack(elements(load_dataset(f"folder:{root}", image_size=10)))
    assert grey.shape == (3, 10, 10, 1) and rgb.shape == (3, 10, 10, 3)
    with Image.open(root / "0.png") as image:
        assert np.array_equal(grey[0, ..., 0], np.asarray(image))  # no resize: exact
    assert np.array_equal(rgb, np.repeat(grey, 3, axis=-1))


def test_folder_16_bit_grey_keeps_the_high_byte(tmp_path):
    pixels = (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8)
    (tmp_path / "deep").mkdir()
    Image.fromarray(pixels).save(tmp_path / "deep" / "x.png")
    (image,) = elements(load_dataset(f"folder:{tmp_path / 'deep'}", image_size=8, channels=1))
    assert np.array_equal(image[..., 0], (pixels >> 8).astype(np.uint8))


def test_folder_corrupt_image_is_named(image_folder):
    bad = image_folder / "dogs" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(UsageError, match=r"1 of 25 images cannot be read: dogs/broken\.png \("):
        load_dataset(f"folder:{image_folder}")


def test_folder_truncated_image_is_named(tmp_path):
    root = tmp_path / "trunc"
    path = save_image(root / "cut.jpg", size=(64, 64))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UsageError, match=r"1 of 1 images cannot be read: cut\.jpg"):
        load_dataset(f"folder:{root}")


def test_folder_without_images(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(UsageError, match="no image files.*png, jpg, jpeg, bmp, gif, webp"):
        load_dataset(f"folder:{tmp_path / 'empty'}")


def test_folder_missing(tmp_path):
    with pytest.raises(UsageError, match="missing does not exist"):
        load_dataset(f"folder:{tmp_path / 'missing'}")


# --- npz: / npy: ---------------------------------------------------------------------------------


def test_npz_x_train(mnist_npz):
    source = load_dataset(f"npz:{mnist_npz}")
    assert (source.kind, source.shape, source.num_examples) == ("image", (28, 28, 1), 64)
    expected = np.load(mnist_npz)["x_train"][..., None]
    assert np.array_equal(np.stack(elements(source)), expected)


def test_npz_prefers_x_train_and_accepts_a_single_array(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "both.npz", y_train=np.arange(5), x_train=images)
    np.savez(tmp_path / "single.npz", faces=images)
    for name in ("both", "single"):
        source = load_dataset(f"npz:{tmp_path / name}.npz")
        assert source.shape == (8, 8, 3)
        assert np.array_equal(np.stack(elements(source)), images)


def test_npz_labels(tmp_path):
    images = np.zeros((6, 4, 4), np.uint8)
    np.savez(tmp_path / "labelled.npz", x_train=images, y_train=np.array([3, 0, 1, 3, 0, 1]))
    source = load_dataset(f"npz:{tmp_path / 'labelled.npz'}", max_examples=5)
    assert source.labels_available and source.class_names == ["0", "1", "2", "3"]
    assert [int(y) for y in source.labels] == [3, 0, 1, 3, 0]
    # a .npy given as npz: has no labels
    np.save(tmp_path / "plain.npy", images)
    source = load_dataset(f"npz:{tmp_path / 'plain.npy'}")
    assert source.num_examples == 6 and not source.labels_available
    # labels that cannot be class ids are refused (tests/test_bad_data_inputs.py has more)
    for bad, message in ((np.arange(6) - 1, "negative class id"),
                         (np.arange(7), "7 labels for 6 images")):
        np.savez(tmp_path / "bad.npz", x_train=images, y_train=bad)
        with pytest.raises(UsageError, match=f"y_train in bad.npz .*{message}"):
            load_dataset(f"npz:{tmp_path / 'bad.npz'}")


def test_npz_ambiguous_keys(tmp_path):
    images = np.zeros((2, 4, 4), np.uint8)
    np.savez(tmp_path / "two.npz", a=images, b=images)
    with pytest.raises(UsageError, match="holds arrays a, b.*x_train"):
        load_dataset(f"npz:{tmp_path / 'two.npz'}")


def test_npy_with_conversion(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 12, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    source = load_dataset(f"npy:{tmp_path / 'x.npy'}", image_size=6, channels=1, max_examples=5)
    assert (source.shape, source.num_examples) == ((6, 6, 1), 5)
    assert [x.shape for x in elements(source)] == [(6, 6, 1)] * 5
    plain = load_dataset(f"npy:{tmp_path / 'x.npy'}")
    assert plain.shape == (12, 16, 3)  # no image size: kept as is


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint16])
def test_non_uint8_arrays(tmp_path, dtype):
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 4), dtype))
    with pytest.raises(UsageError, match="uint8 images .* are expected"):
        load_dataset(f"npy:{tmp_path / 'x.npy'}")


@pytest.mark.parametrize("shape", [(4, 4), (2, 4, 4, 3, 1), (0, 4, 4)])
def test_bad_array_shapes(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.uint8))
    with pytest.raises(UsageError, match=r"expected \(N, H, W\) or \(N, H, W, C\)"):
        load_dataset(f"npy:{tmp_path / 'x.npy'}")


def test_unreadable_array_file(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(UsageError, match="cannot read .*x.npz"):
        load_dataset(f"npz:{tmp_path / 'x.npz'}")


# --- toy distributions ---------------------------------------------------------------------------


def test_toy_sample_shapes_and_seeds():
    for name in toy.TOY_NAMES:
        a = toy.sample_toy(name, 100, seed=1)
        assert a.shape == (100, 2) and a.dtype == np.float32
        assert np.array_equal(a, toy.sample_toy(name, 100, seed=1))
        assert not np.array_equal(a, toy.sample_toy(name, 100, seed=2))
    with pytest.raises(ValueError, match="unknown toy dataset 'moons'"):
        toy.sample_toy("moons", 10, 0)


def test_toy_sine():
    x = toy.sample_toy("sine", 20_000, seed=0).astype(np.float64)
    assert np.allclose(x[:, 1], np.sin(x[:, 0]), atol=1e-6)
    assert 0 <= x[:, 0].min() < 0.01 and 2 * np.pi - 0.01 < x[:, 0].max() <= 2 * np.pi
    assert abs(x[:, 0].mean() - np.pi) < 0.05


def test_toy_gaussian():
    n = 50_000
    x = toy.sample_toy("gaussian", n, seed=0).astype(np.float64)
    a = toy.GAUSSIAN_A
    cov = a.T @ a  # [[1.01, 1.95], [1.95, 4.25]]
    assert np.allclose(x.mean(axis=0), toy.GAUSSIAN_B, atol=5 * np.sqrt(np.diag(cov) / n))
    assert np.allclose(np.cov(x, rowvar=False), cov, atol=0.1)


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_toy_mixtures(name):
    centers_fn, std = toy.MODES[name]
    centers = centers_fn()
    x = toy.sample_toy(name, 20_000, seed=0)
    distances = np.linalg.norm(x[:, None, :] - centers[None], axis=-1)
    nearest, dist = distances.argmin(axis=1), distances.min(axis=1)
    assert dist.max() < 6 * std
    counts = np.bincount(nearest, minlength=len(centers))
    assert counts.min() > 0.7 * len(x) / len(centers)
    offsets = x - centers[nearest]
    assert np.allclose(offsets.std(axis=0), std, rtol=0.05)


def test_toy_centres():
    ring, grid = toy.ring_centers(), toy.grid_centers()
    assert ring.shape == (8, 2) and np.allclose(np.linalg.norm(ring, axis=1), toy.RING_RADIUS)
    assert np.allclose(ring[0], [toy.RING_RADIUS, 0])
    assert grid.shape == (25, 2)
    assert sorted(set(grid[:, 0])) == [-4.0, -2.0, 0.0, 2.0, 4.0] == sorted(set(grid[:, 1]))
    assert (toy.RING_STD, toy.GRID_STD, toy.GRID_SPACING) == (0.02, 0.05, 2.0)


def test_toy_source():
    source = load_dataset("ring", seed=3)
    assert (source.kind, source.shape, source.num_examples) == ("points", (2,), 10_000)
    assert np.array_equal(np.stack(elements(source)), toy.sample_toy("ring", 10_000, 3))
    small = load_dataset("grid", max_examples=10)
    assert small.num_examples == 10 and len(elements(small)) == 10
    test = np.stack(elements(load_dataset("ring", split="test", seed=3, max_examples=10)))
    assert not np.array_equal(test, toy.sample_toy("ring", 10, 3))
    with pytest.raises(UsageError, match="toy dataset.*image size"):
        load_dataset("sine", image_size=32)


# --- value ranges --------------------------------------------------------------------------------


def test_model_range_round_trip():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    x = to_model_range(tf.constant(pixels), "image")
    assert x.dtype == tf.float32
    assert float(tf.reduce_min(x)) == -1.0 and float(tf.reduce_max(x)) == 1.0
    assert np.array_equal(from_model_range(x.numpy()), pixels)
    assert np.array_equal(from_model_range(np.array([-3.0, 0.0, 5.0])), [0, 128, 255])
    points = to_model_range(tf.constant([[0.5, -7.0]], tf.float64), "points")
    assert points.dtype == tf.float32 and np.allclose(points.numpy(), [[0.5, -7.0]])


# --- training batches ----------------------------------------------------------------------------


def batches(dataset):
    return [b.numpy() for b in dataset]


def test_steps_per_epoch():
    source = points_source(100)
    assert steps_per_epoch(source, 32) == 3
    assert steps_per_epoch(source, 32, limit=2) == 2
    assert steps_per_epoch(source, 100, limit=50) == 1
    with pytest.raises(UsageError, match="has 100 examples, fewer than one batch of 128"):
        steps_per_epoch(source, 128)


def test_training_batches_images(mnist_npz):
    source = load_dataset(f"npz:{mnist_npz}")
    dataset = training_dataset(source, 16, seed=0, initial_epoch=0, epochs=3, steps_per_epoch=4)
    assert dataset.element_spec.shape.as_list() == [16, 28, 28, 1]
    out = batches(dataset)
    assert len(out) == 12
    for b in out:
        assert b.dtype == np.float32 and b.shape == (16, 28, 28, 1)
        assert b.min() >= -1.0 and b.max() <= 1.0
    assert min(b.min() for b in out) == -1.0 and max(b.max() for b in out) == 1.0
    # each epoch is a permutation of the data: pixels come back exactly
    epoch = np.concatenate(out[:4])
    stored = np.load(mnist_npz)["x_train"][..., None]
    assert {from_model_range(e).tobytes() for e in epoch} <= {s.tobytes() for s in stored}


def test_training_epochs_are_full_permutations():
    source = points_source(50)
    out = batches(training_dataset(source, 10, seed=0, initial_epoch=0, epochs=2,
                                   steps_per_epoch=5))
    assert len(out) == 10 and all(b.shape == (10, 2) for b in out)
    first, second = np.concatenate(out[:5])[:, 0], np.concatenate(out[5:])[:, 0]
    assert sorted(first) == sorted(second) == list(range(50))
    assert not np.array_equal(first, second)  # epochs are shuffled differently
    assert not np.array_equal(first, np.arange(50))


def test_training_drops_the_remainder_and_limits_steps():
    source = points_source(55)
    full = batches(training_dataset(source, 10, 0, 0, 2, steps_per_epoch=5))
    assert len(full) == 10 and {b.shape for b in full} == {(10, 2)}
    limited = batches(training_dataset(source, 10, 0, 0, 3, steps_per_epoch=2))
    assert len(limited) == 6
    assert np.array_equal(np.concatenate(limited[:2]), np.concatenate(full[:2]))
    with pytest.raises(UsageError, match="steps per epoch 6 must be between 1 and 5"):
        training_dataset(source, 10, 0, 0, 2, steps_per_epoch=6)


def test_training_resume_sees_the_same_batches():
    source = points_source(60)
    def run(initial_epoch, seed=7):
        return batches(training_dataset(source, 12, seed, initial_epoch, epochs=4,
                                        steps_per_epoch=5))

    whole, resumed = run(0), run(1)
    assert len(whole) == 20 and len(resumed) == 15
    assert all(np.array_equal(a, b) for a, b in zip(whole[5:], resumed, strict=True))
    late = run(3)
    assert all(np.array_equal(a, b) for a, b in zip(whole[15:], late, strict=True))
    other_seed = run(0, seed=8)
    assert not np.array_equal(np.concatenate(whole), np.concatenate(other_seed))


def test_training_order_ignores_global_seed_and_process():
    """The order depends on (seed, epoch) only: not on tf.random.set_seed, nor the process."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import tensorflow as tf
        from gantool.data.pipeline import training_dataset
        from gantool.data.source import DataSource

        if sys.argv[1] != "none":
            tf.random.set_seed(int(sys.argv[1]))
        i = np.arange(40, dtype=np.float32)
        ds = tf.data.Dataset.from_tensor_slices(np.stack([i, -i], axis=1))
        source = DataSource("points", "points", (2,), 40, ds)
        out = [b.numpy() for b in training_dataset(source, 8, 5, 0, 2, 5)]
        print(" ".join(str(int(v)) for v in np.concatenate(out)[:, 0]))
        """
    )
    runs = [
        subprocess.run([sys.executable, "-c", script, global_seed],
                       capture_output=True, text=True, check=True)
        for global_seed in ("none", "123")
    ]
    here = batches(training_dataset(points_source(40), 8, 5, 0, 2, 5))
    expected = " ".join(str(int(v)) for v in np.concatenate(here)[:, 0])
    assert [r.stdout.strip() for r in runs] == [expected, expected]


def test_training_reads_the_source_once():
    reads = []

    def generate():
        reads.append(1)
        for i in range(40):
            yield np.array([i, -i], np.float32)

    spec = tf.TensorSpec((2,), tf.float32)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
    source = DataSource("points", "points", (2,), 40, dataset)
    for steps in (5, 2):  # whole epochs, and epochs cut short by a step limit
        reads.clear()
        assert len(batches(training_dataset(source, 8, 0, 0, 3, steps))) == 3 * steps
        assert len(reads) == 1


def test_training_is_repeatable_within_a_process():
    source = points_source(30)
    tf.random.set_seed(99)
    a = batches(training_dataset(source, 5, 1, 0, 2, 6))
    b = batches(training_dataset(source, 5, 1, 0, 2, 6))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
