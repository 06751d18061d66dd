"""The command line end to end: help, train -> sample -> animate, recipes, bad input."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gantool.cli import cli, main
from tests.conftest import EXAMPLES

# Small but real: every run below trains for a few steps on CPU.
TINY = ["--epochs", "2", "--batch-size", "8", "--steps-per-epoch", "2", "--quiet",
        "--latent-dim", "8", "--grid-size", "16"]
TINY_WIDTHS = {"mlp": ["--g-hidden", "16", "--d-hidden", "16"],
               "dcgan": ["--g-filters", "8", "--d-filters", "8"],
               "resnet": ["--g-channels", "4", "--d-channels", "4"]}


def tiny(arch):
    """TINY plus small widths for ``arch`` (each architecture takes only its own settings)."""
    return [*TINY, *TINY_WIDTHS[arch]]


def run(args, capsys):
    """Run ``gantool ARGS`` in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def ok(args, capsys):
    code, out, err = run(args, capsys)
    assert code == 0, err
    return out


@pytest.fixture
def mock_tfds():
    with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


# --- help and version -------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[]] + [[name] for name in cli.commands])
def test_help(command, capsys):
    out = ok([*command, "--help"], capsys)
    assert "Usage: gantool" in out
    if command == ["train"]:
        for option in ("--arch", "--dataset", "--latent-dist", "--label-smoothing", "--resume",
                       "--strategy", "--dry-run", "--config", "mnist", "folder:PATH"):
            assert option in out


def test_version(capsys):
    from gantool import __version__

    assert __version__ in ok(["--version"], capsys)


def test_help_does_not_import_tensorflow():
    code = ("import sys; from gantool.cli import main\n"
            "try: main(['train', '--help'])\n"
            "except SystemExit: pass\n"
            "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("clean")


def test_animate_does_not_import_tensorflow(tmp_path):
    """Building the training GIF only reads saved samples: no TensorFlow start-up (seconds)."""
    from gantool import rundir
    from gantool.config import TrainConfig

    run_dir = tmp_path / "run"
    (run_dir / "samples").mkdir(parents=True)
    rundir.write_config(run_dir, TrainConfig.create(arch="dcgan", data_shape=[8, 8, 1],
                                                    data_kind="image"))
    rng = np.random.default_rng(0)
    for epoch in (1, 2, 3):
        np.save(run_dir / "samples" / f"epoch_{epoch:04d}.npy",
                rng.integers(0, 256, (4, 8, 8, 1), dtype=np.uint8))
    code = ("import sys; from gantool.cli import main\n"
            f"try: main(['animate', {str(run_dir)!r}])\n"
            "except SystemExit as e: assert not e.code, e.code\n"
            "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("clean")
    assert iio.imread(run_dir / "training.gif", index=None).shape[0] == 3


# --- end to end -------------------------------------------------------------------------------

def check_run_dir(run_dir, kind, epochs=2):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_kind"] == kind
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == epochs + 1 and rows[0].startswith("epoch,step")
    assert len((run_dir / "steps.csv").read_text().splitlines()) == 2 * epochs + 1
    assert (run_dir / "generator.keras").stat().st_size > 1000
    assert iio.imread(run_dir / "training.png").ndim == 3
    scalars = tensorboard_scalars(run_dir)
    steps_per_epoch = int(rows[1].split(",")[1])
    assert [step for step, _ in scalars["epoch/d_loss"]] == list(range(1, epochs + 1))
    # per-step curves are window means, flushed at each epoch's end: here one per epoch
    assert [step for step, _ in scalars["step/g_loss"]] == [
        steps_per_epoch * e for e in range(1, epochs + 1)]
    first_epoch_d_loss = float(rows[1].split(",")[3])
    assert scalars["step/d_loss"][0][1] == pytest.approx(first_epoch_d_loss, rel=1e-4)
    assert sorted(p.name for p in (run_dir / "samples").glob("epoch_*.png")) == [
        f"epoch_{e:04d}.png" for e in range(1, epochs + 1)]
    return config


def tensorboard_scalars(run_dir):
    """{tag: [(step, value)]} of the scalars in RUN_DIR/tensorboard's event files."""
    import tensorflow as tf

    scalars = {}
    for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    scalars.setdefault(value.tag, []).append(
                        (event.step, float(tf.make_ndarray(value.tensor))))
    return scalars


def check_image_outputs(run_dir, shape, capsys, tmp_path, varied=True):
    """``varied``: the generator's outputs differ between latents and epochs (GIF writers merge
    identical consecutive frames, as after a few steps of a batch-normed DCGAN)."""
    h, w, c = shape
    ok(["sample", "--ckpt", run_dir, "--n", 10, "--out", tmp_path / "s.npy"], capsys)
    images = np.load(tmp_path / "s.npy")
    assert images.shape == (10, h, w, c) and images.dtype == np.uint8
    ok(["sample", "--ckpt", run_dir, "--n", 9, "--scale", 1, "--out", tmp_path / "grid.png"],
       capsys)
    grid = iio.imread(tmp_path / "grid.png")
    assert grid.shape[:2] == (3 * (h + 2) + 2, 3 * (w + 2) + 2)
    ok(["sample", "--ckpt", run_dir, "--n", 3, "--out", tmp_path / "pngs"], capsys)
    files = sorted((tmp_path / "pngs").glob("*.png"))
    assert [f.name for f in files] == ["0.png", "1.png", "2.png"]
    assert iio.imread(files[0]).shape[:2] == (h, w)
    ok(["animate", run_dir, "--fps", 5], capsys)
    frames = iio.imread(run_dir / "training.gif", index=None)
    assert frames.shape[0] == (2 if varied else frames.shape[0])  # a frame per saved epoch
    assert iio.imread(run_dir / "evolution.png").shape[0] > 2 * h
    ok(["animate", run_dir, "--interpolate", "--scale", 1, "--points", 3, "--steps", 4,
        "--out", tmp_path / "walk.gif"], capsys)
    walk = iio.imread(tmp_path / "walk.gif", index=None)
    assert walk.shape[0] == (12 if varied else walk.shape[0])
    assert walk.shape[2] == 8 * (w + 2) + 2  # 8 walks side by side


def test_toy_end_to_end(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    ok(["train", "--arch", "mlp", "--dataset", "ring", "--out", run_dir, *tiny("mlp")], capsys)
    check_run_dir(run_dir, "points")
    ok(["sample", "--ckpt", run_dir, "--n", 500, "--out", tmp_path / "p.npy"], capsys)
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (500, 2) and np.isfinite(points).all()
    assert iio.imread(tmp_path / "p.png").ndim == 3  # the scatter beside the array
    ok(["animate", run_dir], capsys)
    frames = iio.imread(run_dir / "training.gif", index=None)
    assert frames.shape[0] == 2 and frames.shape[-1] == 3
    assert not np.array_equal(frames[0], frames[1])  # the points moved


@pytest.mark.parametrize("dataset,shape", [("mnist", (28, 28, 1)), ("svhn", (32, 32, 3))])
def test_tfds_end_to_end(dataset, shape, tmp_path, capsys, mock_tfds):
    run_dir = tmp_path / dataset
    ok(["train", "--arch", "dcgan", "--dataset", dataset, "--out", run_dir, *tiny("dcgan")], capsys)
    config = check_run_dir(run_dir, "image")
    assert tuple(config["data_shape"]) == shape
    check_image_outputs(run_dir, shape, capsys, tmp_path, varied=False)


def test_folder_end_to_end(image_folder, tmp_path, capsys):
    run_dir = tmp_path / "faces"
    ok(["train", "--arch", "dcgan", "--dataset", f"folder:{image_folder}", "--image-size", 32,
        "--out", run_dir, *tiny("dcgan")], capsys)
    config = check_run_dir(run_dir, "image")
    assert config["data_shape"] == [32, 32, 3]
    check_image_outputs(run_dir, (32, 32, 3), capsys, tmp_path, varied=False)


def test_npz_end_to_end(mnist_npz, tmp_path, capsys):
    run_dir = tmp_path / "digits"
    ok(["train", "--arch", "mlp", "--dataset", f"npz:{mnist_npz}", "--out", run_dir, *tiny("mlp")],
       capsys)
    check_run_dir(run_dir, "image")
    check_image_outputs(run_dir, (28, 28, 1), capsys, tmp_path)
    # the generator rebuilt from config.json + checkpoint reproduces the last training grid
    from gantool.rundir import Run
    from gantool.sampling import generate, load_generator, to_uint8

    generator = load_generator(Run.open(run_dir))
    latents = np.load(run_dir / "samples" / "fixed_latents.npy")
    last_grid = np.load(run_dir / "samples" / "epoch_0002.npy")
    assert last_grid.min() < last_grid.max()
    np.testing.assert_array_equal(to_uint8(generate(generator, latents)), last_grid)


def test_resume_restores_optimizer_state_and_epoch(tmp_path, capsys):
    import tensorflow as tf

    from gantool.rundir import resolve as resolve_checkpoint

    run_dir = tmp_path / "run"
    args = ["train", "--arch", "mlp", "--dataset", "ring", "--out", run_dir, *tiny("mlp")]
    ok(args, capsys)
    ok([*args, "--resume", "--epochs", 4], capsys)
    reader = tf.train.load_checkpoint(resolve_checkpoint(run_dir)[1])
    names = {name for name, _ in tf.train.list_variables(resolve_checkpoint(run_dir)[1])}
    iterations = [n for n in names if "optimizer" in n and "iteration" in n]
    assert iterations and all(reader.get_tensor(n) == 8 for n in iterations)
    assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 4
    rows = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3, 4]
    assert [int(r.split(",")[1]) for r in rows] == [2, 4, 6, 8]


# --- recipes ----------------------------------------------------------------------------------

# The seed recipes' networks are built by tests/test_seeds.py; here the toy one runs dry and
# the others with `make test-all`.
RECIPES = [p if p.parent == EXAMPLES or "003" in p.name else pytest.param(p, marks=pytest.mark.slow)
           for p in sorted(EXAMPLES.rglob("*.toml"))]


@pytest.mark.parametrize("recipe", RECIPES,
                         ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_runs_dry(recipe, tmp_path, capsys, mock_tfds, image_folder):
    extra = []
    if "folder:" in recipe.read_text():
        extra = ["--dataset", f"folder:{image_folder}"]
    run_dir = tmp_path / "run"
    ok(["train", "--config", recipe, "--dry-run", "--quiet", "--out", run_dir, *extra], capsys)
    config = json.loads((run_dir / "config.json").read_text())
    recipe_values = __import__("tomllib").loads(recipe.read_text())
    for key, value in recipe_values.items():  # the recipe's values reached the run
        if key not in ("out", "dataset") or not extra:
            saved = config[key.replace("-", "_")]
            if isinstance(value, list) and value and isinstance(value[0], dict):
                # layer specs are saved with every field, defaults filled in
                saved = [{k: layer[k] for k in given} for layer, given in zip(saved, value)]
            assert saved == (str(run_dir) if key == "out" else value)
    assert list((run_dir / "samples").glob("epoch_*.png"))


def test_command_line_overrides_config(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('arch = "mlp"\ndataset = "sine"\nbatch-size = 8\nlr = 0.5\n')
    ok(["train", "--config", recipe, "--lr", "0.001", "--dry-run", "--quiet",
        "--out", tmp_path / "run"], capsys)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["lr"] == 0.001 and config["arch"] == "mlp" and config["batch_size"] == 8


# --- bad input --------------------------------------------------------------------------------

def bad(args, capsys, code, *fragments):
    got, out, err = run(args, capsys)
    assert got == code, (out, err)
    message = err.strip()
    assert "Traceback" not in err
    assert len(message.splitlines()) <= 3  # Click usage errors add a "Try --help" line
    for fragment in fragments:
        assert fragment in err
    return err


def test_unknown_arch(capsys):
    bad(["train", "--arch", "vae"], capsys, 2, "vae", "mlp", "dcgan")


def test_unknown_dataset(capsys):
    bad(["train", "--dataset", "imagenet21k"], capsys, 2, "imagenet21k", "mnist", "folder:")


def test_missing_folder(tmp_path, capsys):
    bad(["train", "--dataset", f"folder:{tmp_path / 'nope'}", "--out", tmp_path / "r"], capsys,
        2, "nope")


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    bad(["train", "--dataset", f"folder:{tmp_path / 'empty'}", "--out", tmp_path / "r"], capsys,
        2, "empty", "png")


def test_unreadable_image(image_folder, tmp_path, capsys):
    (image_folder / "dogs" / "broken.png").write_bytes(b"not a png at all")
    bad(["train", "--dataset", f"folder:{image_folder}", "--out", tmp_path / "r", *tiny("dcgan")],
              capsys, 2, "broken.png")
    assert not (tmp_path / "r" / "checkpoints").exists()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_nonsense_numbers(value, capsys):
    bad(["train", "--batch-size", value], capsys, 2, "--batch-size", value)
    bad(["train", "--epochs", value], capsys, 2, "--epochs", value)


def test_nonsense_numbers_in_a_recipe(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text("epochs = -1\n")
    bad(["train", "--config", recipe], capsys, 2, "epochs", "-1")
    recipe.write_text("epohcs = 3\n")
    bad(["train", "--config", recipe], capsys, 2, "epohcs")


def test_bad_ckpt_path(tmp_path, capsys):
    bad(["sample", "--ckpt", tmp_path / "missing"], capsys, 2, "missing")
    bad(["animate", tmp_path], capsys, 2, str(tmp_path))


@pytest.fixture
def ring_run(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    ok(["train", "--arch", "mlp", "--dataset", "ring", "--out", run_dir, *tiny("mlp")], capsys)
    return run_dir


def test_checkpoint_from_another_architecture(ring_run, tmp_path, capsys):
    config = json.loads((ring_run / "config.json").read_text())
    config.update(g_hidden=[32, 32])  # a run whose generator is shaped differently
    (ring_run / "config.json").write_text(json.dumps(config))
    bad(["sample", "--ckpt", ring_run], capsys, 2, "ckpt-", "architecture")
    bad(["train", "--out", ring_run, "--resume", "--arch", "dcgan"], capsys, 2, "dcgan", "mlp")


def test_existing_run_dir_is_not_overwritten(ring_run, capsys):
    before = (ring_run / "metrics.csv").read_text()
    bad(["train", "--arch", "mlp", "--dataset", "ring", "--out", ring_run, *tiny("mlp")], capsys, 2,
        "--resume", "--force")
    assert (ring_run / "metrics.csv").read_text() == before
    ok(["train", "--arch", "mlp", "--dataset", "ring", "--out", ring_run, "--force", *tiny("mlp")],
       capsys)


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad(["train", "--arch", "mlp", "--dataset", "ring", "--out", blocker / "run", *tiny("mlp")],
        capsys, 2, "cannot write", "run")
    bad(["sample", "--ckpt", tmp_path, "--out", blocker / "x.png"], capsys, 2)


def test_real_process_exit_codes(tmp_path):
    """The installed entry point: exit 2 and one line, no traceback, for a usage error."""
    result = subprocess.run([sys.executable, "-m", "gantool", "train", "--batch-size", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "gantool", "sample", "--ckpt",
                             str(tmp_path / "none")], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error:")


def test_import_gantool_turns_on_onednn_on_x86():
    """conftest.py imports gantool before TensorFlow, as the CLI does: on x86 TensorFlow then runs
    oneDNN's CPU kernels unless the user's environment said TF_ENABLE_ONEDNN_OPTS=0."""
    import platform

    from tensorflow.python.util import _pywrap_util_port

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("gantool leaves TensorFlow's oneDNN default alone off x86")
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    assert setting is not None  # gantool's default, or the user's own
    assert _pywrap_util_port.IsMklEnabled() == (setting != "0")


# --- architectures own their settings ----------------------------------------------------------

def test_a_setting_of_another_architecture_is_refused(tmp_path, capsys):
    """dcgan takes no --dropout: exit 2, naming the architecture and listing what it takes."""
    code, _, err = run(["train", "--arch", "dcgan", "--dropout", "0.3", "--dry-run",
                        "--out", tmp_path / "r"], capsys)
    assert code == 2 and err.count("Error:") == 1
    assert "--dropout" in err and "dcgan" in err and "--g-filters, --d-filters" in err
    recipe = tmp_path / "r.toml"
    recipe.write_text('arch = "dcgan"\ndropout = 0.3\n')
    code, _, err = run(["train", "--config", recipe, "--dry-run", "--out", tmp_path / "r"],
                       capsys)
    assert code == 2 and "--dropout" in err and "--g-filters, --d-filters" in err
    assert not (tmp_path / "r").exists()


def test_config_json_records_only_the_settings_the_model_uses(tmp_path, capsys):
    ok(["train", "--arch", "mlp", "--dataset", "ring", "--out", tmp_path / "r", "--dry-run",
        *tiny("mlp")], capsys)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["g_hidden"] == [16] and config["dropout"] == 0.3
    assert "g_filters" not in config and "d_filters" not in config


def test_architecture_settings_are_checked_like_other_values(tmp_path, capsys):
    bad(["train", "--arch", "mlp", "--dropout", "1.5"], capsys, 2, "--dropout", "1.5", "[0, 1)")
    recipe = tmp_path / "r.toml"
    recipe.write_text('arch = "mlp"\ng-hidden = "wide"\n')
    bad(["train", "--config", recipe], capsys, 2, "--g-hidden", "wide")


# --- run directories written by gantool 0.1.0 ------------------------------------------------

V010_RUN = os.path.join(os.path.dirname(__file__), "fixtures", "run_v0_1_0")


def test_a_0_1_0_run_directory_samples_animates_evaluates_and_resumes(tmp_path, capsys):
    """tests/fixtures/run_v0_1_0: an mlp ring run (--ema 0.9, 2 epochs of 4 steps) written by
    gantool 0.1.0, whose config.json holds every architecture's knobs."""
    import shutil

    run_dir = tmp_path / "old"
    shutil.copytree(V010_RUN, run_dir)
    ok(["sample", "--ckpt", run_dir, "--n", 50, "--out", tmp_path / "p.npy"], capsys)
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (50, 2) and np.isfinite(points).all()
    ok(["animate", run_dir], capsys)
    assert iio.imread(run_dir / "training.gif", index=None).shape[0] == 2
    ok(["animate", run_dir, "--interpolate", "--steps", 2], capsys)
    assert iio.imread(run_dir / "interpolation.gif", index=None).shape[0] == 8
    ok(["eval", run_dir, "--metrics", "modes", "--n", 200, "--quiet"], capsys)
    assert "modes_covered" in json.loads((run_dir / "eval.json").read_text())
    ok(["train", "--out", run_dir, "--resume", "--epochs", 3, "--quiet"], capsys)
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["g_hidden"] == [8] and "g_filters" not in config and config["epochs"] == 3


def test_an_unforeseen_failure_is_one_error_line_with_exit_1(monkeypatch, capsys):
    """Not a GantoolError, not an OSError (a TensorFlow failure, a bug): still one line, exit 1;
    the traceback only with GANTOOL_VERBOSE=1."""
    import gantool.cli as cli_module

    def fail(**kwargs):
        raise RuntimeError("the device went away\nmore detail")

    monkeypatch.setattr(cli_module.cli, "main", fail)
    with pytest.raises(SystemExit) as stopped:
        main(["train"])
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err == ("Error: unexpected RuntimeError: the device went away (run 'gantool "
                   "--verbose ...' for the traceback, and please report it)\n")
    monkeypatch.setenv("GANTOOL_VERBOSE", "1")
    with pytest.raises(SystemExit):
        main(["train"])
    assert "Traceback" in capsys.readouterr().err
