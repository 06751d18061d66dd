"""Bad inputs and faults (issue "Reliability"): each case asserts the exit code (2 usage,
1 runtime), exactly one ``Error:`` line on stderr, no traceback, and that the run directory
still samples afterwards.

Importable harness (tests/test_bad_data_inputs.py uses it too): :func:`invoke` runs
``gantool ARGS`` in-process and returns ``(code, stdout, stderr)``; :func:`assert_fails`
checks a failure; :func:`assert_samples` checks a run directory still samples; :func:`tiny_run`
trains the tiny mlp ring run that the module fixture :func:`trained` copies per case.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gantool.cli import main
from gantool.runlock import RunLock

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--arch", "mlp", "--dataset", "ring", "--g-hidden", "8", "--d-hidden", "8",
        "--latent-dim", "4", "--batch-size", "8", "--steps-per-epoch", "3", "--epochs", "2",
        "--no-tensorboard", "--quiet", "--sample-every", "100"]


# --- the harness ------------------------------------------------------------------------------

def invoke(args, env=None):
    """``gantool ARGS`` in-process (``env``: environment variables set meanwhile); returns
    ``(exit code, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
                code = 0
            except SystemExit as e:
                code = e.code
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return code, out.getvalue(), err.getvalue()


def invoke_process(args, env=None, timeout=120):
    """``python -m gantool ARGS`` in a subprocess; returns ``(exit code, stdout, stderr)``."""
    done = subprocess.run([sys.executable, "-m", "gantool", *map(str, args)], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def check_failure(result, code, *fragments):
    """``result`` (from :func:`invoke`) failed with ``code``, with exactly one ``Error:`` line
    holding every fragment, and no traceback; returns the error line."""
    got, out, err = result
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert got == code, f"exit {got}, expected {code}:\n{out}\n{err}"
    assert len(errors) == 1, f"expected one Error: line, got:\n{err}"
    assert "Traceback" not in err + out, err
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


def assert_fails(args, code, *fragments, env=None, process=False):
    """``gantool ARGS`` exits ``code`` with one ``Error:`` line naming ``fragments``; in a
    subprocess when ``process``. Returns ``(error line, stderr)``."""
    result = (invoke_process if process else invoke)(args, env=env)
    return check_failure(result, code, *fragments), result[2]


def assert_samples(run_dir, tmp_path):
    """``gantool sample --ckpt RUN_DIR`` succeeds."""
    out = Path(tmp_path) / "after.png"
    code, _, err = invoke(["sample", "--ckpt", run_dir, "--n", 4, "--out", out])
    assert code == 0 and out.is_file(), err


def tiny_run(run_dir, *extra):
    """Train the tiny mlp ring run (2 epochs of 3 steps: checkpoints 0, 3 and 6) into run_dir."""
    code, _, err = invoke(["train", *TINY, *extra, "--out", run_dir])
    assert code == 0, err
    return Path(run_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("trained") / "run")


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained run for one case to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def edit_config(run_dir, **changes):
    path = Path(run_dir) / "config.json"
    values = json.loads(path.read_text())
    values.update(changes)
    path.write_text(json.dumps(values))


def data_file(prefix):
    return Path(str(prefix) + ".data-00000-of-00001")


def truncate(path, fraction=0.5):
    os.truncate(path, int(os.path.getsize(path) * fraction))


# --- config.json --------------------------------------------------------------------------

BAD_VALUES = [("latent_dim", "abc"), ("latent_dim", 1.5), ("latent_dim", -3),
              ("latent_dim", True), ("data_shape", None), ("data_shape", "28x28"),
              ("ema", "0.9"), ("ema", 2.0), ("spectral_norm", "no"), ("conditional", "yes"),
              ("arch", 5), ("seed", -1), ("batch_size", None), ("data_kind", "video")]


@pytest.mark.parametrize("key,value", BAD_VALUES, ids=[f"{k}={v!r}" for k, v in BAD_VALUES])
def test_bad_config_value_is_a_usage_error_naming_it(run, tmp_path, key, value):
    good = tmp_path / "good"
    shutil.copytree(run, good)
    edit_config(run, **{key: value})
    assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 2, "config.json",
                 key.replace("_", "-"))
    assert_samples(good, tmp_path)


@pytest.mark.parametrize("text", [b"[]", b"null", b"\xff\xfe{not utf-8", b'{"arch": "mlp"',
                                  b"42"], ids=["list", "null", "non-utf8", "truncated", "number"])
def test_bad_config_file_is_a_usage_error(run, tmp_path, text):
    (run / "config.json").write_bytes(text)
    assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 2, "config.json")


@pytest.mark.parametrize("command", [
    ["sample", "--ckpt", "{run}", "--out", "{tmp}/s.png"],
    ["animate", "{run}", "--interpolate", "--out", "{tmp}/i.gif"],
    ["eval", "{run}", "--n", "10"],
    ["train", "--out", "{run}", "--resume", "--quiet"],
], ids=["sample", "animate", "eval", "resume"])
def test_bad_config_fails_the_same_in_every_command(run, tmp_path, command):
    edit_config(run, latent_dim="abc")
    args = [a.format(run=run, tmp=tmp_path) for a in command]
    assert_fails(args, 2, "latent-dim 'abc'")


# --- damaged checkpoints -------------------------------------------------------------------

def test_every_checkpoint_damaged_is_one_runtime_error(run, tmp_path):
    for prefix in (run / "checkpoints").glob("ckpt-*.index"):
        truncate(data_file(prefix.with_suffix("")), 0)
    assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 1,
                 "no intact checkpoint", "ckpt-6")


def test_every_index_truncated_is_one_runtime_error(run, tmp_path):
    for index in (run / "checkpoints").glob("ckpt-*.index"):
        truncate(index)
    assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 1, "no intact")


def test_checkpoint_of_other_models_is_a_usage_error(run, tmp_path):
    edit_config(run, g_hidden=[16])
    assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 2, "does not fit")


# --- the lock ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [["--resume"], ["--force"], []], ids=["resume", "force", "new"])
def test_a_second_writer_is_refused_naming_the_holder(run, tmp_path, mode):
    target = run if mode else tmp_path / "empty"
    with RunLock(target):
        assert_fails(["train", *TINY, "--out", target, *mode], 1, "in use", f"PID {os.getpid()}")
    assert_samples(run, tmp_path)


# --- TF_CONFIG ------------------------------------------------------------------------------

TF_CONFIGS = {
    "not-json": ("{cluster", "not JSON"),
    "list": ("[1, 2]", "JSON object"),
    "index-abc": ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "abc"}}',
                  "'abc'"),
    "no-task": ('{"cluster": {"worker": ["a:1"]}}', "no task"),
    "index-out-of-range": ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", '
                           '"index": 3}}', "out of range"),
    "unknown-type": ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "boss", "index": 0}}',
                     "'boss'"),
}


@pytest.mark.parametrize("name", list(TF_CONFIGS))
def test_malformed_tf_config_is_a_usage_error(trained, tmp_path, name):
    value, fragment = TF_CONFIGS[name]
    assert_fails(["train", *TINY, "--strategy", "multi-worker", "--out", tmp_path / "r"], 2,
                 "TF_CONFIG", fragment, env={"TF_CONFIG": value})
    assert not (tmp_path / "r").exists()
    assert_samples(trained, tmp_path)


# --- seeds and TOML ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", ["-1", str(2**63), "1.5", "abc"])
def test_bad_seed_is_a_usage_error(trained, tmp_path, seed):
    assert_fails(["train", *TINY, "--seed", seed, "--out", tmp_path / "r"], 2, "--seed")
    assert_fails(["sample", "--ckpt", trained, "--seed", seed, "--out", tmp_path / "s.png"], 2,
                 "--seed")


TOMLS = {"bool-as-text": ('spectral-norm = "no"', "spectral-norm"),
         "int-as-bool": ("latent-dim = true", "latent-dim"),
         "int-as-float": ("batch-size = 1.5", "batch-size"),
         "int-as-text": ('epochs = "3"', "epochs"),
         "seed-negative": ("seed = -1", "seed"),
         "seed-too-big": (f"seed = {2**63 - 1}\nlatent-dim = 0", "latent-dim"),
         "text-as-number": ("latent-dist = 5", "latent-dist")}


@pytest.mark.parametrize("name", list(TOMLS))
def test_bad_toml_value_is_a_usage_error(tmp_path, name):
    text, fragment = TOMLS[name]
    recipe = tmp_path / "r.toml"
    recipe.write_text(text + "\n")
    assert_fails(["train", "--config", recipe, "--arch", "mlp", "--dataset", "ring", "--out",
                  tmp_path / "r", "--dry-run"], 2, fragment)


def test_non_utf8_toml_is_a_usage_error(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_bytes(b"epochs = 3 # \xff\xfe\n")
    assert_fails(["train", "--config", recipe, "--out", tmp_path / "r"], 2, "UTF-8")


# --- outputs --------------------------------------------------------------------------------

def test_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    assert_fails(["train", *TINY, "--out", target], 2, "not a directory")
    assert target.read_text() == "x"


def test_out_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    assert_fails(["train", *TINY, "--out", tmp_path / "file" / "run"], 2, "--out")


def test_resume_of_a_missing_directory_is_a_usage_error(tmp_path):
    assert_fails(["train", *TINY, "--resume", "--out", tmp_path / "missing"], 2, "missing")
    assert not (tmp_path / "missing").exists()


# --- noise: real processes ----------------------------------------------------------------

def test_error_after_tensorflow_starts_is_exactly_one_line(tmp_path):
    """``train`` imports TensorFlow before it reads TF_CONFIG: no start-up lines either."""
    _, err = assert_fails(["train", *TINY, "--strategy", "multi-worker", "--out", tmp_path / "r"],
                          2, "TF_CONFIG", env={"TF_CONFIG": "{cluster"}, process=True)
    assert len(err.splitlines()) == 1, err


def test_bad_config_in_a_process_is_exactly_one_line(run, tmp_path):
    edit_config(run, ema="0.9")
    _, err = assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 2, "ema",
                          process=True)
    assert len(err.splitlines()) == 1, err


@pytest.mark.slow  # ~20 s: imports TensorFlow; the in-process mismatch case covers the message
def test_checkpoint_mismatch_in_a_process_is_exactly_one_line(run, tmp_path):
    edit_config(run, g_hidden=[16])
    _, err = assert_fails(["sample", "--ckpt", run, "--out", tmp_path / "s.png"], 2,
                          "does not fit", process=True)
    assert len(err.splitlines()) == 1, err


# --- data files (cases defined in tests/test_bad_data_inputs.py) -------------------------------

@pytest.mark.parametrize("name", sorted(__import__("tests.test_bad_data_inputs",
                                                   fromlist=["BAD_FILES"]).BAD_FILES))
def test_bad_array_files(name, trained, tmp_path, monkeypatch):
    """npz/npy files that are not what they claim, hold pickles or objects, wrong dtypes,
    shapes, channels or labels: refused at load (exit 2), before any model is built."""
    from tests.test_bad_data_inputs import BAD_FILES, train_on

    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "cache"))
    make, fragments = BAD_FILES[name]
    assert_fails(train_on(make(tmp_path), tmp_path), 2, *fragments)
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert_samples(trained, tmp_path)
