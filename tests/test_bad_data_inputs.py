"""Bad data files and folders, through ``gantool train`` in-process: each is refused at load
(before any model is built) with exit code 2 and one ``Error:`` line, never a traceback or a
hang; and the decoded-folder cache (hits, stale keys, damaged entries)."""

import io
import os
import pickle
import signal
import socket
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from gantool.cli import main
from gantool.data import DATASETS, folder, folder_cache, from_arrays, load_dataset

TRAIN = ["train", "--arch", "mlp", "--g-hidden", "8", "--d-hidden", "8", "--dry-run", "--quiet",
         "--latent-dim", "4", "--batch-size", "4", "--grid-size", "4", "--no-tensorboard"]


def run(args, capsys):
    """``gantool ARGS`` in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def assert_fails(args, capsys, code, *fragments):
    """The command exits ``code`` with exactly one line on stderr, ``Error: ...`` holding every
    fragment, and no traceback. Returns that line."""
    got, out, err = run(args, capsys)
    assert got == code, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def train_on(spec, tmp_path, *extra):
    return [*TRAIN, "--dataset", spec, "--out", tmp_path / "run", *extra]


def pixels(n, h=8, w=8, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def save_pngs(root, n, mode="RGB", size=8):
    root.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    for i, image in enumerate(pixels(n, size, size, channels, seed=n)):
        Image.fromarray(image[..., 0] if channels == 1 else image, mode).save(root / f"{i:03d}.png")
    return root


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def no_hang():
    """Fail (SIGALRM) rather than block forever, e.g. on a FIFO."""
    def timeout(*_):
        raise TimeoutError("blocked: a file was opened that should have been skipped")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- npz: / npy: files -------------------------------------------------------------------------

def _npy(tmp_path, array, **save):
    path = tmp_path / "x.npy"
    np.save(path, array, **save)
    return f"npy:{path}"


def _npz(tmp_path, **arrays):
    path = tmp_path / "x.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


def _bytes(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return f"{name.rpartition('.')[2]}:{path}"


def _truncated_zip(tmp_path):
    spec = _npz(tmp_path, x_train=pixels(8))
    path = tmp_path / "x.npz"
    path.write_bytes(path.read_bytes()[:300])
    return spec


def _npz_member_not_npy(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as archive:
        archive.writestr("x_train.npy", b"not an array")
    return f"npz:{tmp_path / 'x.npz'}"


def _huge_header(tmp_path):
    spec = _npy(tmp_path, pixels(2))
    path = tmp_path / "x.npy"
    path.write_bytes(path.read_bytes().replace(b"(2, 8, 8, 3)", b"(2000000000, 8, 8, 3)"))
    return spec


OBJECTS = np.array([{"a": 1}, None], dtype=object)
FLOAT_IMAGES = np.full((4, 8, 8), np.nan, np.float32)
POINTS_NAN = np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0], [5.0, 6.0]])
POINTS_INF = np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 4.0], [5.0, 6.0]])

BAD_FILES = {  # name: (make(tmp_path) -> spec, fragments of the error)
    "npz that is not a zip": (lambda t: _bytes(t, "x.npz", b"garbage, not a zip"),
                              ["x.npz", "neither a .npz (zip) nor a .npy"]),
    "empty npz": (lambda t: _bytes(t, "x.npz", b""), ["x.npz", "neither"]),
    "raw pickle as npy": (lambda t: _bytes(t, "x.npy", pickle.dumps([1, 2])), ["neither"]),
    "truncated zip": (_truncated_zip, ["x.npz"]),
    "npz member not npy": (_npz_member_not_npy, ["x_train", "x.npz"]),
    "object x_train": (lambda t: _npz(t, x_train=OBJECTS), ["Python objects", "never loaded"]),
    "object y_train": (lambda t: _npz(t, x_train=pixels(2), y_train=OBJECTS),
                       ["y_train", "Python objects"]),
    "pickled npy": (lambda t: _npy(t, OBJECTS, allow_pickle=True), ["Python objects"]),
    "npz given as npy": (lambda t: _npz(t, x_train=pixels(4)).replace("npz:", "npy:"),
                         ["is a .npz archive", "npz:"]),
    "huge header": (_huge_header, ["x.npy"]),
    "5 channels": (lambda t: _npy(t, pixels(4, c=5)), ["5 channels", "1 (grey), 3 (RGB) or 4"]),
    "2 channels": (lambda t: _npy(t, pixels(4, c=2)), ["2 channels"]),
    "64 channels": (lambda t: _npz(t, x_train=pixels(4, c=64)), ["64 channels"]),
    "float images with NaN": (lambda t: _npy(t, FLOAT_IMAGES), ["float32", "uint8 images"]),
    "int64 images": (lambda t: _npy(t, pixels(4).astype(np.int64)), ["int64", "uint8"]),
    "uint16 images": (lambda t: _npy(t, pixels(4).astype(np.uint16)), ["uint16"]),
    "bool images": (lambda t: _npy(t, np.ones((4, 8, 8), bool)), ["bool"]),
    "complex images": (lambda t: _npy(t, np.ones((4, 8, 8), np.complex64)), ["complex64"]),
    "string array": (lambda t: _npy(t, np.array(["a", "b"])), ["<U1"]),
    "no images": (lambda t: _npy(t, np.zeros((0, 8, 8), np.uint8)), ["(0, 8, 8, 1)", "N >= 1"]),
    "zero width": (lambda t: _npy(t, np.zeros((4, 8, 0), np.uint8)), ["(4, 8, 0, 1)"]),
    "1-D array": (lambda t: _npy(t, np.zeros(16, np.uint8)), ["(16,)"]),
    "scalar": (lambda t: _npy(t, np.uint8(3)), ["shape ()"]),
    "6-D array": (lambda t: _npy(t, np.zeros((2, 2, 2, 2, 2, 2), np.uint8)), ["(2, 2, 2, 2, 2"]),
    "npz without arrays": (lambda t: _npz(t), ["holds arrays (none)"]),
    "npz with two arrays": (lambda t: _npz(t, a=pixels(2), b=pixels(2)), ["holds arrays a, b"]),
    "negative label": (lambda t: _npz(t, x_train=pixels(4), y_train=np.array([0, 1, -1, 0])),
                       ["y_train", "negative class id (-1)"]),
    "huge label": (lambda t: _npz(t, x_train=pixels(4), y_train=np.array([0, 1, 10**9, 0])),
                   ["class id is 1000000000", "[0, 100000)"]),
    "huge uint64 label": (lambda t: _npz(t, x_train=pixels(4),
                                         y_train=np.array([0, 2**64 - 1, 0, 0], np.uint64)),
                          ["18446744073709551615"]),
    "too few labels": (lambda t: _npz(t, x_train=pixels(4), y_train=np.array([0, 1])),
                       ["2 labels for 4 images"]),
    "too many labels": (lambda t: _npz(t, x_train=pixels(4), y_train=np.arange(5)),
                        ["5 labels for 4 images"]),
    "float labels": (lambda t: _npz(t, x_train=pixels(4), y_train=np.zeros(4)),
                     ["y_train", "float64", "integer class ids (4,)"]),
    "2-D labels": (lambda t: _npz(t, x_train=pixels(4), y_train=np.zeros((4, 2), int)),
                   ["shape (4, 2)"]),
}


# test_bad_array_files lives in tests/test_bad_inputs.py (the cases above, with its harness).


@pytest.mark.parametrize("points, fragment", [
    (POINTS_NAN, "1 of 4 points hold NaN or infinite values"),
    (POINTS_INF, "NaN or infinite"),
    (np.full((4, 2), 1e300), "too large for float32"),
])
def test_bad_points_of_a_registered_dataset(points, fragment, tmp_path, capsys):
    DATASETS.register("bad_points", lambda name, **_: from_arrays(name, points))
    try:
        assert_fails(train_on("bad_points", tmp_path), capsys, 2, "'bad_points'", fragment)
    finally:
        DATASETS.unregister("bad_points")


def test_conditional_with_a_huge_label_is_refused_at_once(tmp_path, capsys):
    spec = _npz(tmp_path, x_train=pixels(4), y_train=np.array([0, 1, 10**9, 0]))
    assert_fails(train_on(spec, tmp_path, "--conditional"), capsys, 2, "class id is 1000000000")


def test_a_directory_or_a_missing_file(tmp_path, capsys):
    assert_fails(train_on(f"npz:{tmp_path}", tmp_path), capsys, 2, "is not a file")
    assert_fails(train_on(f"npy:{tmp_path / 'nope.npy'}", tmp_path), capsys, 2, "does not exist")


def test_rgba_arrays_train_as_rgb(tmp_path, capsys):
    code, out, err = run(train_on(_npy(tmp_path, pixels(8, c=4)), tmp_path), capsys)
    assert code == 0, err
    assert load_dataset(f"npy:{tmp_path / 'x.npy'}").shape == (8, 8, 3)


# --- folder: -----------------------------------------------------------------------------------

def test_fifo_socket_and_dangling_link_are_skipped_unopened(tmp_path, no_hang, monkeypatch):
    root = save_pngs(tmp_path / "imgs", 4)
    os.mkfifo(root / "x.png")
    (root / "gone.png").symlink_to(tmp_path / "missing.png")
    (root / "link.png").symlink_to(root / "000.png")  # a link to a regular file is used
    monkeypatch.chdir(root)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("s.png")
        source = load_dataset(f"folder:{root}", image_size=8)
    assert source.num_examples == 5


def test_a_folder_of_only_a_fifo(tmp_path, capsys, no_hang):
    (tmp_path / "imgs").mkdir()
    os.mkfifo(tmp_path / "imgs" / "x.png")
    assert_fails(train_on(f"folder:{tmp_path / 'imgs'}", tmp_path), capsys, 2, "no image files")


# A dry run keeps the first batch-size * 2 files: batches of 8 keep all 16 of these folders.
FOLDER = ["--image-size", "8", "--batch-size", "8"]


def _with_bad_files(root, n_bad):
    for i in range(n_bad):
        (root / f"bad{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png" if i % 2 else b"")
    return root


def test_every_bad_image_is_counted_and_the_first_named(tmp_path, capsys):
    root = _with_bad_files(save_pngs(tmp_path / "imgs", 3), 7)
    line = assert_fails(train_on(f"folder:{root}", tmp_path, *FOLDER), capsys, 2,
                        "7 of 10 images cannot be read", "bad0.png (", "bad1.png, bad2.png",
                        "bad4.png and 2 more", "--skip-bad-images")
    assert "bad5.png" not in line


@pytest.mark.parametrize("content", [b"", b"just text", b"GIF89a broken", b"\xff\xd8\xff\xe0"])
def test_one_undecodable_file(tmp_path, capsys, content):
    root = save_pngs(tmp_path / "imgs", 2)
    (root / "zz.jpg").write_bytes(content)
    assert_fails(train_on(f"folder:{root}", tmp_path), capsys, 2, "1 of 3 images", "zz.jpg (")


def test_skip_bad_images_trains_on_the_rest(tmp_path, capsys):
    root = _with_bad_files(save_pngs(tmp_path / "imgs", 8), 2)
    code, out, err = run(train_on(f"folder:{root}", tmp_path, *FOLDER, "--skip-bad-images"),
                         capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "skipped 2 of 10 images" in warnings[0]
    assert "bad0.png, bad1.png" in warnings[0] and "Error" not in err


def test_skip_bad_images_with_nothing_left(tmp_path, capsys):
    (tmp_path / "imgs").mkdir()
    root = _with_bad_files(tmp_path / "imgs", 3)
    assert_fails(train_on(f"folder:{root}", tmp_path, "--skip-bad-images"), capsys, 2,
                 "none of the 3 images")


def test_rgba_and_palette_images_are_accepted(tmp_path, capsys):
    root = save_pngs(tmp_path / "imgs", 6, mode="RGBA")
    Image.fromarray(pixels(1)[0]).convert("P").save(root / "palette.png")
    source = load_dataset(f"folder:{root}", image_size=8)
    assert (source.num_examples, source.shape) == (7, (8, 8, 3))


# --- the decoded-folder cache ------------------------------------------------------------------

@pytest.fixture
def cached(monkeypatch):
    """Cache every folder (not only large ones); counts the files decoded."""
    monkeypatch.setattr(folder_cache, "MIN_IMAGES", 1)
    calls = []
    decode = folder._decode

    def counting(path, *args):
        calls.append(os.path.basename(path))
        return decode(path, *args)

    monkeypatch.setattr(folder, "_decode", counting)
    return calls


def _images(spec, **options):
    return np.stack([x.numpy() for x in load_dataset(spec, **options).dataset])


def test_second_load_comes_from_the_cache(tmp_path, cached):
    root = save_pngs(tmp_path / "imgs", 5)
    first = _images(f"folder:{root}", image_size=8)
    assert len(cached) == 5 and len(list(folder_cache.cache_root().glob("*.npy"))) == 1
    second = _images(f"folder:{root}", image_size=8)
    assert len(cached) == 5 and np.array_equal(first, second)  # nothing decoded again
    _images(f"folder:{root}", image_size=4)  # another size is another entry
    assert len(cached) == 10


def test_a_changed_file_invalidates_the_cache(tmp_path, cached):
    root = save_pngs(tmp_path / "imgs", 4)
    before = _images(f"folder:{root}", image_size=8)
    new = 255 - pixels(1)[0]
    Image.fromarray(new).save(root / "002.png")
    os.utime(root / "002.png", ns=(1, 1))  # a different mtime whatever the clock
    after = _images(f"folder:{root}", image_size=8)
    assert len(cached) == 8 and np.array_equal(after[2], new)
    assert np.array_equal(after[[0, 1, 3]], before[[0, 1, 3]])
    save_pngs(tmp_path / "imgs" / "more", 1)  # an added file: another entry, decoded
    _images(f"folder:{root}", image_size=8)
    assert len(cached) == 13


def test_a_damaged_cache_entry_is_recomputed(tmp_path, cached):
    root = save_pngs(tmp_path / "imgs", 3)
    first = _images(f"folder:{root}", image_size=8)
    (entry,) = folder_cache.cache_root().glob("*.npy")
    entry.write_bytes(entry.read_bytes()[:100])
    assert np.array_equal(_images(f"folder:{root}", image_size=8), first)
    assert len(cached) == 6


def test_cached_skips_still_warn(tmp_path, cached, capsys):
    root = _with_bad_files(save_pngs(tmp_path / "imgs", 3), 1)
    for _ in range(2):
        assert _images(f"folder:{root}", image_size=8, skip_bad_images=True).shape[0] == 3
        assert "skipped 1 of 4 images that cannot be read: bad0.png" in capsys.readouterr().err
    assert len(cached) == 4


def test_an_unwritable_cache_is_ignored(tmp_path, cached, monkeypatch):
    (tmp_path / "file").write_text("a file where the cache folder should be")
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "file"))
    root = save_pngs(tmp_path / "imgs", 2)
    assert _images(f"folder:{root}", image_size=8).shape == (2, 8, 8, 3)


# --- the progress bar --------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream, shown", [(Terminal, True), (io.StringIO, False)])
def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, stream, shown):
    monkeypatch.setattr(folder, "PROGRESS_MIN_IMAGES", 1)
    monkeypatch.setattr(folder, "PROGRESS_AT_ONCE", 1)
    monkeypatch.setattr(sys, "stderr", stream())
    load_dataset(f"folder:{save_pngs(tmp_path / 'imgs', 3)}", image_size=8)
    assert ("decoding images" in sys.stderr.getvalue()) == shown
