"""Training that survives being killed: exact resume (at an epoch boundary and mid-epoch),
SIGTERM/SIGINT, SIGKILL at random points and inside checkpoint writes, non-finite losses
(stop and rollback), a failing checkpoint write, and ``--keep``.

Runs are tiny (an mlp on ``ring``) but real; a real process is used wherever a real signal is
sent to one. "Bitwise" below means every variable of the final checkpoint (weights, both
optimizers' slots and iterations, learning rates, the dropout RNG state, step and epoch; not
``save_counter``, which counts saves) has the same bytes. Subprocesses inherit
GANTOOL_CPU_DEVICES=2 from conftest.py, so they see the same 2 logical CPU devices as the
in-process runs (all of which use the default, single-device strategy).
"""

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gantool.cli import main
from gantool.gan import LOG_NAMES
from gantool.losses import LOSSES
from gantool.training import callbacks
from gantool.training.callbacks import NanPolicy
from gantool.training.checkpoints import RunCheckpoint

ROOT = Path(__file__).resolve().parents[1]
# The mlp keeps its default dropout (0.3), so the Dropout RNG state must be resumed too.
TINY = ["--arch", "mlp", "--dataset", "ring", "--g-hidden", "16", "--d-hidden", "16",
        "--latent-dim", "4", "--batch-size", "8", "--seed", "7", "--sample-every", "1000",
        "--no-tensorboard", "--quiet"]
STEPS = 40  # steps per epoch of the resume tests: long enough for a signal to land mid-epoch
EPOCHS = 4
RESUME = [*TINY, "--steps-per-epoch", STEPS]
# The interrupted epoch's mean in metrics.csv is rebuilt on resume from the per-step values that
# steps.csv stores with 6 significant digits, so it may differ from the uninterrupted run's in
# the 6th digit; every other value is computed identically.
METRICS_REL = 1e-5
SUBPROCESS_TIMEOUT = 90


# --- helpers ----------------------------------------------------------------------------------


def run(args, capsys=None):
    """``gantool ARGS`` in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return exit_info.value.code, out, err


def ok(args, capsys=None):
    code, out, err = run(args, capsys)
    assert code == 0, err
    return out


def checkpoint_dir(run_dir):
    return Path(run_dir) / "checkpoints"


def latest(run_dir):
    return tf.train.latest_checkpoint(str(checkpoint_dir(run_dir)))


ckpt_step = RunCheckpoint.step_of


def variables(prefix):
    """{name: value} of every variable in checkpoint ``prefix`` but ``save_counter``."""
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


def assert_bitwise_equal(prefix_a, prefix_b):
    a, b = variables(prefix_a), variables(prefix_b)
    assert sorted(a) == sorted(b)
    different = [k for k in a if np.asarray(a[k]).tobytes() != np.asarray(b[k]).tobytes()]
    assert not different, f"{len(different)}/{len(a)} variables differ, e.g. {different[:3]}"


def weights(prefix):
    """The float variables of a checkpoint (weights, optimizer slots, learning rates)."""
    return {k: v for k, v in variables(prefix).items() if np.asarray(v).dtype.kind == "f"}


def read_rows(path):
    return callbacks.read_csv(path)


def assert_same_rows(rows, expected):
    """metrics.csv rows: same epochs and steps; losses and D statistics equal up to METRICS_REL."""
    assert [(r["epoch"], r["step"]) for r in rows] == [(r["epoch"], r["step"]) for r in expected]
    for row, want in zip(rows, expected, strict=True):
        for key in LOG_NAMES:
            assert float(row[key]) == pytest.approx(float(want[key]), rel=METRICS_REL, abs=1e-7), \
                (row["epoch"], key)


def assert_same_metrics(run_dir, reference_dir):
    """metrics.csv as the reference's; steps.csv identical (every step logged the same values)."""
    assert_same_rows(read_rows(run_dir / "metrics.csv"), read_rows(reference_dir / "metrics.csv"))
    assert (run_dir / "steps.csv").read_text() == (reference_dir / "steps.csv").read_text()


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith("Error:")]


def gantool_process(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "gantool", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(condition, process, timeout=SUBPROCESS_TIMEOUT, poll=0.01):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"gantool exited ({process.returncode}) before the test could signal "
                        f"it:\n{out}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("timed out waiting for the training process")
        time.sleep(poll)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of EPOCHS x STEPS steps; keeps every checkpoint."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    ok(["train", *RESUME, "--epochs", EPOCHS, "--keep", 100, "--out", run_dir])
    return run_dir


# --- 1. exact resume --------------------------------------------------------------------------


def test_resume_at_epoch_boundary_is_exact(reference, tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(["train", *RESUME, "--epochs", 2, "--out", run_dir], capsys)
    assert ckpt_step(latest(run_dir)) == 2 * STEPS
    ok(["train", "--out", run_dir, "--resume", "--epochs", EPOCHS, "--quiet"], capsys)
    assert ckpt_step(latest(run_dir)) == EPOCHS * STEPS
    assert_bitwise_equal(latest(run_dir), latest(reference))
    assert_same_metrics(run_dir, reference)


def signal_at_step(monkeypatch, step, signum):
    """Send ``signum`` to this process while training runs step ``step`` (1-based)."""
    original = callbacks.RunLog.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        if self.state.step + 1 == step:
            os.kill(os.getpid(), signum)
        original(self, batch, logs)

    monkeypatch.setattr(callbacks.RunLog, "on_train_batch_end", on_train_batch_end)


@pytest.mark.parametrize("stop_step", [STEPS + 37, 2 * STEPS],
                         ids=["mid-epoch", "last-step-of-epoch"])
def test_resume_after_sigterm_in_process_is_exact(reference, stop_step, tmp_path, capsys,
                                                  monkeypatch):
    """A SIGTERM delivered during a known step: the checkpoint is taken at that step, and the
    resumed run (finishing the interrupted epoch on its remaining batches) is bitwise the
    uninterrupted one, with the same metrics.csv (no epoch row lost or duplicated)."""
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        signal_at_step(patch, stop_step, signal.SIGTERM)
        code, _, err = run(["train", *RESUME, "--epochs", EPOCHS, "--out", run_dir], capsys)
    assert code == 128 + signal.SIGTERM
    [message] = error_lines(err)
    assert f"at step {stop_step}" in message and "--resume" in message
    assert ckpt_step(latest(run_dir)) == stop_step
    ok(["train", "--out", run_dir, "--resume", "--quiet"], capsys)
    assert_bitwise_equal(latest(run_dir), latest(reference))
    assert_same_metrics(run_dir, reference)


@pytest.mark.parametrize("signum", [
    signal.SIGTERM,
    # SIGINT takes the same handler (signals.stop_requests); the in-process tests cover it
    pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "SIGINT"])
def test_signal_to_a_training_process_saves_and_resumes_exactly(reference, signum, tmp_path,
                                                                capsys):
    """A real process gets the signal shortly after its first epoch ends (so mid-epoch 2):
    exit code 128 + signal, one line saying how to resume, a checkpoint at the step it stopped,
    and resuming gives bitwise the uninterrupted run."""
    run_dir = tmp_path / "run"
    process = gantool_process(["train", *RESUME, "--epochs", EPOCHS, "--out", run_dir])
    wait_for(lambda: (checkpoint_dir(run_dir) / f"ckpt-{STEPS}.index").exists(), process)
    time.sleep(0.1)
    process.send_signal(signum)
    _, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    assert process.returncode == 128 + signum, err[-3000:]
    [message] = error_lines(err)
    step = ckpt_step(latest(run_dir))
    assert STEPS < step < EPOCHS * STEPS
    assert f"{signal.Signals(signum).name} at step {step}" in message
    assert f"ckpt-{step}" in message and f"--out {run_dir} --resume" in message
    ok(["train", "--out", run_dir, "--resume", "--quiet"], capsys)
    assert_bitwise_equal(latest(run_dir), latest(reference))
    assert_same_metrics(run_dir, reference)


def test_steps_per_execution_runs_the_same_steps_and_resumes_exactly(reference, tmp_path,
                                                                    capsys, monkeypatch):
    """--steps-per-execution 8 (8 steps per call into TensorFlow) trains bitwise the same steps;
    steps.csv logs every 8th step (the reference's rows), a SIGTERM stops at the end of the
    execution it lands in, and resuming mid-epoch ends bitwise at the uninterrupted run."""
    run_dir = tmp_path / "run"
    spe = ["--steps-per-execution", 8]
    with monkeypatch.context() as patch:
        signal_at_step(patch, STEPS + 9, signal.SIGTERM)  # lands in the execution of steps 49-56
        code, _, err = run(["train", *RESUME, *spe, "--epochs", EPOCHS, "--out", run_dir], capsys)
    assert code == 128 + signal.SIGTERM, err
    assert ckpt_step(latest(run_dir)) == STEPS + 16
    ok(["train", "--out", run_dir, "--resume", "--quiet", *spe], capsys)
    assert_bitwise_equal(latest(run_dir), latest(reference))
    every_8th = [r for r in read_rows(reference / "steps.csv") if int(r["step"]) % 8 == 0]
    assert read_rows(run_dir / "steps.csv") == every_8th
    rows = read_rows(run_dir / "metrics.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [
        (str(e), str(e * STEPS)) for e in range(1, EPOCHS + 1)]


@pytest.mark.parametrize("wanted, steps, done, expected", [
    (4, 468, 0, 4), (4, 10, 0, 2), (4, 7, 0, 1), (8, 40, 16, 8), (8, 40, 36, 4), (1, 40, 0, 1),
    (100, 40, 0, 40)])
def test_execution_steps_divide_the_epoch_and_its_remainder(wanted, steps, done, expected):
    from gantool.training import execution_steps

    assert execution_steps(wanted, steps, done) == expected


# --- 2. SIGKILL at random points, and inside checkpoint writes -----------------------------------

KILL = [*TINY, "--steps-per-epoch", 2, "--epochs", 6]  # tiny epochs: a checkpoint every epoch
KILL_STEPS, KILL_EPOCHS = 2, 6
PAUSE = 0.4
# Runs gantool with TensorFlow's checkpoint writing instrumented (test-only; no product hook):
# each phase of a save appends its name to a marks file, and the phase named in argv[2] first
# sleeps PAUSE seconds, so that a SIGKILL can be aimed inside it. The phases, in order:
#   merge  - the variables are written to ckpt-N_temp/, not yet merged into ckpt-N.{index,data}
#   state  - ckpt-N is complete, the `checkpoint` index file does not name it yet
#   sweep  - the index names ckpt-N; the oldest checkpoint's files are being deleted
INSTRUMENTED = f"""
import sys, time
from tensorflow.python.checkpoint import checkpoint_management
from tensorflow.python.ops import gen_io_ops

marks, slow = sys.argv[1], sys.argv[2]

def instrument(module, name, phase):
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        with open(marks, "a") as f:
            f.write(phase + "\\n")
        if phase == slow:
            time.sleep({PAUSE})
        return original(*args, **kwargs)

    setattr(module, name, wrapper)

instrument(gen_io_ops, "merge_v2_checkpoints", "merge")
instrument(checkpoint_management, "update_checkpoint_state_internal", "state")
instrument(checkpoint_management, "_delete_file_if_exists", "sweep")
from gantool.cli import main
main(sys.argv[3:])
"""


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("kill-reference") / "run"
    ok(["train", *KILL, "--keep", 100, "--out", run_dir])
    return run_dir


def count(marks, phase):
    return marks.read_text().split().count(phase) if marks.exists() else 0


# (phase, occurrence of that phase to kill in, seed). Saves happen at steps 0, 2, 4, ...; each
# has one "merge" and two "state" (the index is written before and after the sweep): the 3rd
# "merge" is ckpt-4's, the 3rd "state" ckpt-2's first. With --keep 3 the save of ckpt-6 deletes
# ckpt-0: its .index (1st "sweep"), then its .data (2nd "sweep").
@pytest.mark.parametrize("phase,occurrence,seed", [
    # the default run kills inside one write phase and at a random time; every phase: test-all
    ("merge", 3, 0), pytest.param("state", 3, 1, marks=pytest.mark.slow),
    pytest.param("sweep", 2, 2, marks=pytest.mark.slow), ("random", None, 3),
])
def test_sigkill_leaves_a_loadable_checkpoint_and_resumes_exactly(
        kill_reference, phase, occurrence, seed, tmp_path, capsys):
    """kill -9 inside a phase of a checkpoint write, or at a random time: the index still names
    a complete checkpoint, which `gantool sample` loads and from which `--resume` continues to
    bitwise the uninterrupted run."""
    rng = random.Random(seed)
    run_dir, marks = tmp_path / "run", tmp_path / "marks"
    process = subprocess.Popen(
        [sys.executable, "-c", INSTRUMENTED, marks, phase, "train", *map(str, KILL),
         "--out", run_dir], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if phase == "random":  # a random time after the save of epoch 0, 1 or 2 (so before the end)
        saved = KILL_STEPS * rng.randint(0, 2)
        wait_for(lambda: latest(run_dir) is not None and ckpt_step(latest(run_dir)) >= saved,
                 process)
        time.sleep(rng.uniform(0.0, 0.8))
    else:
        wait_for(lambda: count(marks, phase) >= occurrence, process)
        time.sleep(rng.uniform(0.0, PAUSE / 2))  # inside the pause, before that phase runs
    process.kill()
    _, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    assert process.returncode == -signal.SIGKILL, err[-3000:]

    ckpt_dir = checkpoint_dir(run_dir)
    step = ckpt_step(latest(run_dir))
    if phase == "merge":  # ckpt-4 was being written: its files are in ckpt-4_temp/ only
        assert step == 2 and (ckpt_dir / "ckpt-4_temp").is_dir()
        assert not (ckpt_dir / "ckpt-4.index").exists()
    elif phase == "state":  # ckpt-2 is complete on disk but not yet the latest
        assert step == 0 and (ckpt_dir / "ckpt-2.index").exists()
    elif phase == "sweep":  # ckpt-6 is the latest; ckpt-0 is half deleted
        assert step == 6 and not (ckpt_dir / "ckpt-0.index").exists()
        assert list(ckpt_dir.glob("ckpt-0.data-*"))
    # The latest checkpoint loads into freshly built models ...
    ok(["sample", "--ckpt", run_dir, "--n", 16, "--out", tmp_path / "s.npy"], capsys)
    assert np.isfinite(np.load(tmp_path / "s.npy")).all()
    # ... and training resumes from it to bitwise the uninterrupted run's state one epoch later.
    epochs = min(step // KILL_STEPS + 1, KILL_EPOCHS)
    ok(["train", "--out", run_dir, "--resume", "--epochs", epochs, "--quiet"], capsys)
    step = ckpt_step(latest(run_dir))
    assert step == epochs * KILL_STEPS
    assert_bitwise_equal(latest(run_dir), checkpoint_dir(kill_reference) / f"ckpt-{step}")
    assert not list(ckpt_dir.glob("*_temp"))  # a re-written checkpoint cleans its leftovers
    if phase == "sweep":  # the next sweep finished deleting ckpt-0
        assert not list(ckpt_dir.glob("ckpt-0.*"))
    assert_same_rows(read_rows(run_dir / "metrics.csv"),
                     read_rows(kill_reference / "metrics.csv")[:epochs])


# --- 4. non-finite losses ----------------------------------------------------------------------


def nan_loss_at(monkeypatch, step):
    """Make the discriminator's loss (and so its gradients and weights) NaN at ``step`` only
    (the loss is called once per training step)."""
    ns = LOSSES.get("ns")
    calls = tf.Variable(0, dtype=tf.int64, trainable=False)

    def d_loss(real_logits, fake_logits, *args, **kwargs):
        n = calls.assign_add(1)
        loss = ns.d_loss(real_logits, fake_logits, *args, **kwargs)
        return loss * tf.where(tf.equal(n, step), float("nan"), 1.0)

    monkeypatch.setitem(LOSSES._entries, "ns", dataclasses.replace(ns, d_loss=d_loss))


def test_nan_stops_and_keeps_the_last_good_checkpoint(reference, tmp_path, capsys, monkeypatch):
    run_dir, bad_step = tmp_path / "run", 2 * STEPS + 10
    nan_loss_at(monkeypatch, bad_step)
    code, _, err = run(["train", *RESUME, "--epochs", EPOCHS, "--out", run_dir], capsys)
    assert code == 1
    [message] = error_lines(err)
    assert f"non-finite d_loss (nan) at step {bad_step}" in message
    # the last checkpoint is the good one of epoch 2, never overwritten, bitwise the reference's
    assert ckpt_step(latest(run_dir)) == 2 * STEPS
    assert sorted(p.name for p in checkpoint_dir(run_dir).glob("*.index")) == [
        "ckpt-0.index", f"ckpt-{STEPS}.index", f"ckpt-{2 * STEPS}.index"]
    assert all(np.isfinite(v).all() for v in weights(latest(run_dir)).values())
    assert_bitwise_equal(latest(run_dir), checkpoint_dir(reference) / f"ckpt-{2 * STEPS}")
    steps = read_rows(run_dir / "steps.csv")
    assert int(steps[-1]["step"]) == bad_step and steps[-1]["d_loss"] == "nan"


def test_nan_rollback_restores_and_halves_the_learning_rates(tmp_path, capsys, monkeypatch):
    run_dir, bad_step, lr = tmp_path / "run", 7, 2e-4
    nan_loss_at(monkeypatch, bad_step)
    out = ok(["train", *TINY, "--steps-per-epoch", 5, "--epochs", 3, "--lr", lr,
              "--on-nan", "rollback", "--out", run_dir], capsys)
    assert f"non-finite loss at step {bad_step}: restored" in out and "ckpt-5" in out
    final = latest(run_dir)
    assert ckpt_step(final) == 15
    values = weights(final)
    assert all(np.isfinite(v).all() for v in values.values())
    factor = NanPolicy.ROLLBACK_LR_FACTOR
    for optimizer in ("d_optimizer", "g_optimizer"):
        stored = values[f"{optimizer}/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE"]
        assert stored == np.float32(np.float32(lr) * factor)
    rows = read_rows(run_dir / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(np.isfinite(float(r[k])) for r in rows for k in LOG_NAMES)


# --- 5. a checkpoint that cannot be written -----------------------------------------------------


def test_checkpoint_write_failure_is_loud_and_keeps_the_previous_one(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(["train", *TINY, "--steps-per-epoch", 2, "--epochs", 1, "--out", run_dir], capsys)
    ckpt_dir = checkpoint_dir(run_dir)
    index = (ckpt_dir / "checkpoint").read_text()
    # TensorFlow first writes ckpt-N's variables into the directory ckpt-N_temp/: a file there
    # makes the next save (epoch 2, step 4) fail.
    (ckpt_dir / "ckpt-4_temp").write_text("in the way")
    code, _, err = run(["train", "--out", run_dir, "--resume", "--epochs", 3, "--quiet"], capsys)
    assert code == 1
    [message] = error_lines(err)
    assert "could not write a checkpoint" in message and "ckpt-2 is kept" in message
    assert (ckpt_dir / "checkpoint").read_text() == index
    assert ckpt_step(latest(run_dir)) == 2
    ok(["sample", "--ckpt", run_dir, "--n", 4, "--out", tmp_path / "s.npy"], capsys)
    (ckpt_dir / "ckpt-4_temp").unlink()  # the obstacle gone, the run goes on from ckpt-2
    ok(["train", "--out", run_dir, "--resume", "--epochs", 3, "--quiet"], capsys)
    assert ckpt_step(latest(run_dir)) == 6


# --- 6. --keep -----------------------------------------------------------------------------------


def checkpoint_files(run_dir):
    return sorted(p.name for p in checkpoint_dir(run_dir).iterdir())


def test_keep_limits_the_checkpoints_across_resumes(tmp_path, capsys):
    """Checkpoints are saved at step 0 (for --on-nan rollback) and after every epoch; only the
    newest --keep remain, also counting those of the process before a resume."""
    run_dir = tmp_path / "run"
    ok(["train", *TINY, "--steps-per-epoch", 1, "--epochs", 4, "--keep", 2, "--out", run_dir],
       capsys)

    def expected(*steps):
        return sorted(["checkpoint"] + [f"ckpt-{s}.{ext}" for s in steps
                                        for ext in ("index", "data-00000-of-00001")])

    assert checkpoint_files(run_dir) == expected(3, 4)
    state = tf.train.get_checkpoint_state(str(checkpoint_dir(run_dir)))
    assert [Path(p).name for p in state.all_model_checkpoint_paths] == ["ckpt-3", "ckpt-4"]
    ok(["train", "--out", run_dir, "--resume", "--epochs", 5, "--quiet"], capsys)
    assert checkpoint_files(run_dir) == expected(4, 5)


def test_a_stop_request_between_the_log_and_the_checkpoint_keeps_the_steps_row(tmp_path):
    """The signal lands after RunLog kept step 3's row but before the Checkpointer saved step 3:
    the row still reaches steps.csv when training ends (a resumed epoch's means read it)."""
    from gantool.training.state import TrainingState

    state = TrainingState(steps_per_epoch=10, epochs=1, step=0, on_nan="stop")
    log = callbacks.RunLog(tmp_path, state)
    log.on_epoch_begin(0)
    values = dict.fromkeys(LOG_NAMES, 0.5)
    for batch in range(3):
        log.on_train_batch_end(batch, values)
    assert not (tmp_path / "steps.csv").exists()  # rows are kept in memory until a flush
    state.interrupted = "SIGTERM"  # now the Checkpointer saves step 3 and stops training
    log.on_train_end()
    assert [int(r["step"]) for r in callbacks.read_csv(tmp_path / "steps.csv")] == [1, 2, 3]
