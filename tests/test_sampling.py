"""Choosing samples (--seeds, --truncation), sampling at scale and the output rule of
``gantool sample`` (issues 11 and 14), and upscaled grids and GIFs."""

import imageio.v3 as iio
import numpy as np
import pytest

from gantool import rundir, sampling
from tests.tiny_runs import cli, image_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return image_run(tmp_path_factory.mktemp("sampling"))


def bad(args, capsys, code, *words):
    assert cli(args) == code
    err = capsys.readouterr().err
    assert err.count("Error:") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def test_seeds_give_the_same_images_whatever_the_batch(run_dir, tmp_path):
    for batch in (1, 8):
        assert cli(["sample", "--ckpt", run_dir, "--seeds", "0-7", "--batch-size", batch,
                    "--out", tmp_path / f"b{batch}.npy"]) == 0
    one, eight = np.load(tmp_path / "b1.npy"), np.load(tmp_path / "b8.npy")
    assert one.shape == (8, 8, 8, 1) and np.array_equal(one, eight)
    assert not np.array_equal(one[0], one[1])
    assert cli(["sample", "--ckpt", run_dir, "--seeds", "5,3", "--out", tmp_path / "s.npy"]) == 0
    assert np.array_equal(np.load(tmp_path / "s.npy"), one[[5, 3]])


def test_seed_lists_are_parsed_and_checked(run_dir, tmp_path, capsys):
    from gantool.cli.options import SeedList

    assert SeedList().convert("0-3,42", None, None) == [0, 1, 2, 3, 42]
    assert SeedList().convert(str(2**63 - 1), None, None) == [2**63 - 1]
    for value in ("-1", "5-2", "abc", "1,,2", str(2**63), "0-99999999999"):
        bad(["sample", "--ckpt", run_dir, "--seeds", value], capsys, 2, "--seeds")
    bad(["sample", "--ckpt", run_dir, "--seeds", "1", "--n", 4], capsys, 2, "--seeds", "--n")


def test_n_latents_do_not_depend_on_the_batch_and_keep_0_1_0s_stream(run_dir, tmp_path):
    """Without --seeds, ``--n N --seed S`` still draws draw_latents(N, ..., S) (gantool 0.1.0),
    streamed in batches (here 3 batches, and blocks smaller than --n)."""
    for batch in (7, 500):
        assert cli(["sample", "--ckpt", run_dir, "--n", 20, "--seed", 4, "--batch-size", batch,
                    "--out", tmp_path / f"{batch}.npy", "--no-ema"]) == 0
    run = rundir.Run.open(run_dir)
    expected = sampling.to_uint8(sampling.generate(
        sampling.load_generator(run, ema=False), sampling.draw_latents(20, 8, "normal", 4)))
    assert np.array_equal(np.load(tmp_path / "7.npy"), expected)
    assert np.array_equal(np.load(tmp_path / "500.npy"), expected)
    chunks = [z for _, z in sampling.iter_latents(10, 3, seed=1, truncation=0.5, batch_size=3)]
    assert [len(z) for z in chunks] == [3, 3, 3, 1]
    assert np.array_equal(np.concatenate(chunks),
                          sampling.random_latents(10, 3, seed=1, truncation=0.5))


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_truncation_shrinks_the_latents_spread(distribution):
    free = sampling.random_latents(2000, 8, distribution, seed=0)
    cut = sampling.random_latents(2000, 8, distribution, seed=0, truncation=0.5)
    assert np.abs(cut).max() <= 0.5 < np.abs(free).max()
    assert cut.std() < 0.7 * free.std()
    by_seed = sampling.seed_latents([1, 2, 3], 8, distribution, truncation=0.5)
    assert np.abs(by_seed).max() <= 0.5
    assert np.array_equal(by_seed[1:], sampling.seed_latents([2, 3], 8, distribution, 0.5))


def test_truncated_samples_are_valid_images(run_dir, tmp_path):
    assert cli(["sample", "--ckpt", run_dir, "--seeds", "0-15", "--truncation", 0.5,
                "--out", tmp_path / "t.npy"]) == 0
    images = np.load(tmp_path / "t.npy")
    assert images.dtype == np.uint8 and images.shape == (16, 8, 8, 1)
    generator = sampling.load_generator(rundir.Run.open(run_dir))
    outputs = sampling.generate(generator, sampling.seed_latents(range(16), 8, truncation=0.5))
    assert np.isfinite(outputs).all() and np.abs(outputs).max() <= 1
    assert np.array_equal(sampling.to_uint8(outputs), images)


def test_grids_are_upscaled_to_at_least_512_pixels(run_dir, tmp_path):
    assert cli(["sample", "--ckpt", run_dir, "--n", 9, "--out", tmp_path / "g.png"]) == 0
    assert iio.imread(tmp_path / "g.png").shape[:2] == (512, 512)  # 3 x (8+2) + 2 = 32, x16
    assert cli(["sample", "--ckpt", run_dir, "--n", 9, "--scale", 1,
                "--out", tmp_path / "g1.png"]) == 0
    native = iio.imread(tmp_path / "g1.png")
    assert native.shape[:2] == (32, 32)
    assert np.array_equal(iio.imread(tmp_path / "g.png")[::16, ::16], native)


def test_interpolation_from_seeds_with_truncation(run_dir, tmp_path):
    assert cli(["animate", run_dir, "--interpolate", "--seeds", "1,2,3", "--truncation", 0.7,
                "--steps", 2, "--out", tmp_path / "w.gif"]) == 0
    frames = iio.imread(tmp_path / "w.gif", index=None)
    assert frames.shape[0] == 6 and frames.shape[2] >= 512  # one walk: 12 pixels, x43
    assert cli(["animate", run_dir, "--scale", 2, "--out", tmp_path / "t.gif"]) == 0
    assert iio.imread(tmp_path / "t.gif", index=None).shape[2] == 2 * (2 * 10 + 2)
    assert cli(["animate", run_dir, "--truncation", 0.5]) == 2  # latents of --interpolate only


def test_too_large_a_grid_is_refused_before_generating(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sampling, "load_generator", lambda *a, **k: pytest.fail("generated"))
    bad(["sample", "--ckpt", run_dir, "--n", 5000, "--out", tmp_path / "g.png"], capsys, 2,
        "4096")
    bad(["sample", "--ckpt", run_dir, "--n", 100000000000, "--out", tmp_path / "g.png"],
        capsys, 2, "4096")
    bad(["sample", "--ckpt", run_dir, "--n", 4096, "--scale", 64, "--out", tmp_path / "g.png"],
        capsys, 2, "--scale")
    for out in ("big.npy", "folder"):  # streamed, but the disk cannot hold 6.4 TB
        bad(["sample", "--ckpt", run_dir, "--n", 100000000000, "--out", tmp_path / out],
            capsys, 2, "GB", "free")
    assert not list(tmp_path.iterdir())


def test_outputs_into_missing_folders_are_created(run_dir, tmp_path):
    for out in ("a/b/g.png", "c/d/s.npy", "e/f/pngs"):
        assert cli(["sample", "--ckpt", run_dir, "--n", 3, "--out", tmp_path / out]) == 0
    assert iio.imread(tmp_path / "a/b/g.png").ndim == 2
    assert np.load(tmp_path / "c/d/s.npy").shape == (3, 8, 8, 1)
    assert sorted(p.name for p in (tmp_path / "e/f/pngs").iterdir()) == ["0.png", "1.png",
                                                                         "2.png"]


def test_unwritable_outputs_are_refused_before_generating(run_dir, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setattr(sampling, "load_generator", lambda *a, **k: pytest.fail("generated"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in ("x.png", "x.npy", "pngs"):
        bad(["sample", "--ckpt", run_dir, "--out", blocker / "sub" / out], capsys, 2,
            "cannot write", str(blocker))
    bad(["sample", "--ckpt", run_dir, "--out", blocker], capsys, 2, "not a directory")
    (tmp_path / "d.png").mkdir()
    bad(["sample", "--ckpt", run_dir, "--out", tmp_path / "d.png"], capsys, 2, "is a directory")
    assert blocker.read_text() == "x"


def test_a_failed_write_leaves_no_temporary_file(run_dir, tmp_path, capsys, monkeypatch):
    """A fault in the middle of streaming (the second batch): exit 1 naming the output, and
    neither the .npy nor a temporary file is left."""
    real_generate, calls = sampling.generate, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(sampling, "generate", failing)
    out = tmp_path / "out" / "s.npy"
    bad(["sample", "--ckpt", run_dir, "--n", 12, "--batch-size", 4, "--out", out], capsys, 1,
        "No space left", str(out))
    assert list((tmp_path / "out").iterdir()) == []


def test_large_n_streams_with_a_progress_bar(run_dir, tmp_path, capsys):
    out = tmp_path / "many.npy"
    assert cli(["sample", "--ckpt", run_dir, "--n", 3000, "--batch-size", 1000, "--out", out]) == 0
    assert "/3000 [" in capsys.readouterr().err  # the progress bar
    images = np.load(out, mmap_mode="r")
    assert images.shape == (3000, 8, 8, 1)
    assert cli(["sample", "--ckpt", run_dir, "--n", 3, "--out", tmp_path / "few.npy"]) == 0
    assert np.array_equal(np.load(tmp_path / "few.npy"), images[:3])
