"""--time-budget, training progress, --lr-schedule/--lr-warmup and --ema-kimg/--ema-rampup."""

import math
import time
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantool.config import TrainConfig, validate
from gantool.errors import UsageError
from gantool.gan import GAN
from gantool.rundir import latest_checkpoint
from gantool.sampling import uses_ema
from gantool.training.callbacks import read_csv
from gantool.training.callbacks.budget import TrainingClock
from gantool.training.ema import HalfLifeEmaAdam, half_life_decay
from gantool.training.lr_schedule import LearningRateSchedule, lr_multiplier
from gantool.training.state import TrainingState
from tests.test_cli import ok, run, tiny

RING = ["train", "--arch", "mlp", "--dataset", "ring", *tiny("mlp"), "--no-tensorboard"]
BUDGET_S = 3.0  # --time-budget 0.05


def ckpt(run_dir):
    """{short name: value} of the run's latest checkpoint (names up to the first '/')."""
    prefix = latest_checkpoint(run_dir / "checkpoints")
    reader = tf.train.load_checkpoint(prefix)
    return {k.split("/.ATTRIBUTES")[0]: reader.get_tensor(k)
            for k in reader.get_variable_to_shape_map()}


def budgeted(run_dir, minutes, *extra):
    """RING with a budget, --epochs not given (unbounded), long epochs."""
    args = [a for a in RING]
    i = args.index("--epochs")
    del args[i:i + 2]
    return [*args, "--steps-per-epoch", 300, "--time-budget", minutes, "--out", run_dir, *extra]


# --- the budget --------------------------------------------------------------------------------


def test_a_budgeted_run_stops_after_its_budget_with_the_final_outputs(tmp_path, capsys):
    run_dir = tmp_path / "run"
    start = time.monotonic()
    out = ok(budgeted(run_dir, 0.05, "--instance-noise", 0.1), capsys)  # noise: by progress
    wall = time.monotonic() - start
    assert BUDGET_S <= wall < BUDGET_S + 60
    assert "time budget spent after" in out
    steps = read_csv(run_dir / "steps.csv")
    done = int(steps[-1]["step"])
    values = ckpt(run_dir)
    assert int(values["step"]) == done > 1
    assert BUDGET_S <= values["elapsed_seconds"] < BUDGET_S + 10
    last = read_csv(run_dir / "metrics.csv")[-1]  # the (maybe partial) last epoch's row
    assert int(last["step"]) == done and int(last["epoch"]) == int(steps[-1]["epoch"])
    epoch = int(last["epoch"])
    assert (run_dir / "samples" / f"epoch_{epoch:04d}.png").is_file()
    for name in ("training.png", "generator.keras"):
        assert (run_dir / name).is_file()
    assert TrainConfig.from_saved(__import__("json").loads(
        (run_dir / "config.json").read_text())).epochs == 10**6


def test_a_resumed_budgeted_run_spends_what_is_left(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(budgeted(run_dir, 0.03, "--lr-schedule", "cosine", "--lr-warmup", 0.1, "--ema-kimg", 0.01),
       capsys)
    first = ckpt(run_dir)
    out = ok(["train", "--out", run_dir, "--resume", "--quiet"], capsys)
    assert "already trained its --time-budget" in out
    assert int(ckpt(run_dir)["step"]) == int(first["step"])
    budget = first["elapsed_seconds"] + 1.5  # (the first may have overrun by an epoch's end)
    ok(["train", "--out", run_dir, "--resume", "--quiet", "--time-budget", budget / 60], capsys)
    second = ckpt(run_dir)
    assert int(second["step"]) > int(first["step"])
    assert budget <= second["elapsed_seconds"] < budget + 10
    assert second["elapsed_seconds"] > first["elapsed_seconds"]
    lr = [float(r["lr"]) for r in read_csv(run_dir / "steps.csv")]
    assert lr[0] == 0.0 and max(lr) > 1e-4 and lr[-1] < 0.25 * max(lr)  # warm-up, cosine decay


def test_an_unbudgeted_run_resumes_with_a_budget(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok([*RING, "--out", run_dir, "--epochs", 1, "--steps-per-epoch", 20], capsys)
    assert "elapsed_seconds" not in ckpt(run_dir)  # a run without a budget saves none
    ok(["train", "--out", run_dir, "--resume", "--quiet", "--epochs", 10**4,
        "--time-budget", 0.02], capsys)
    values = ckpt(run_dir)
    assert int(values["step"]) > 20 and values["elapsed_seconds"] >= 1.2


def test_a_dry_run_does_its_steps_whatever_the_budget(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ok(budgeted(run_dir, 0.0001, "--dry-run"), capsys)
    assert [r["step"] for r in read_csv(run_dir / "steps.csv")] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("recipe, flags, epochs", [
    ("epochs = 7\n", ["--time-budget", 5], 10**6),  # the recipe's epochs: not a bound
    ("epochs = 7\ntime-budget = 5\n", [], 7),  # the recipe's own budget: bounded
    ("epochs = 7\n", ["--time-budget", 5, "--epochs", 3], 3),  # given: bounded
    ("epochs = 7\n", [], 7),  # no budget: the recipe's epochs
])
def test_a_recipes_epochs_bound_only_its_own_budget(recipe, flags, epochs, tmp_path, capsys,
                                                    monkeypatch):
    import gantool.training

    seen = {}

    def fake_train(config, **_):
        seen["config"] = config
        return SimpleNamespace(budget_spent=False, steps_done=0, epochs_done=0, run_dir="x")

    monkeypatch.setattr(gantool.training, "train", fake_train)
    path = tmp_path / "r.toml"
    path.write_text('arch = "mlp"\ndataset = "ring"\n' + recipe)
    ok(["train", "--config", path, *flags], capsys)
    assert seen["config"].epochs == epochs


# --- progress ----------------------------------------------------------------------------------


def clock_for(step, total_steps, budget=None, elapsed=None):
    state = TrainingState(steps_per_epoch=10, epochs=total_steps // 10, step=step)
    clock = TrainingClock(state, tf.Variable(0.0), total_steps, budget, elapsed)
    clock.set_model(SimpleNamespace(stop_training=False))
    return state, clock


def test_progress_is_the_step_fraction_without_a_budget():
    state, clock = clock_for(step=25, total_steps=100)
    clock.on_train_batch_begin(0)
    assert clock.progress.numpy() == np.float32(0.25)
    state.step = 100
    clock.on_train_batch_begin(0)
    assert clock.progress.numpy() == 1.0 and not clock.spent


def test_progress_under_a_budget_follows_the_clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    elapsed = tf.Variable(30.0, dtype=tf.float64)  # restored: 30 s spent before
    state, clock = clock_for(step=0, total_steps=10**7, budget=120.0, elapsed=elapsed)
    clock.on_train_batch_begin(0)
    assert clock.progress.numpy() == np.float32(0.25)
    clock.on_train_batch_end(0)  # the clock starts at the first step's end
    now[0] += 30.0
    clock.on_train_batch_begin(1)
    assert clock.progress.numpy() == np.float32(0.5)
    clock.on_train_batch_end(1)
    assert elapsed.numpy() == 60.0 and not state.budget_spent
    now[0] += 60.0
    clock.on_train_batch_end(2)
    assert state.budget_spent and clock.model.stop_training and state.epochs == 1
    assert clock.fraction == 1.0


def test_instance_noise_follows_progress_under_a_budget():
    gan = SimpleNamespace(instance_noise=0.2, total_steps=None, progress=tf.Variable(0.25))
    assert math.isclose(float(GAN._noise_stddev(gan)), 0.15, rel_tol=1e-6)


# --- learning-rate schedules ------------------------------------------------------------------


@pytest.mark.parametrize("schedule, warmup, progress, expected", [
    ("constant", 0.0, 0.7, 1.0), ("linear", 0.0, 0.0, 1.0), ("linear", 0.0, 0.25, 0.75),
    ("linear", 0.0, 1.0, 0.0), ("cosine", 0.0, 0.5, 0.5), ("cosine", 0.0, 1.0, 0.0),
    ("cosine", 0.0, 0.25, (1 + math.cos(math.pi / 4)) / 2), ("constant", 0.2, 0.1, 0.5),
    ("linear", 0.2, 0.0, 0.0), ("linear", 0.2, 0.6, 0.5), ("cosine", 0.5, 0.75, 0.5),
    ("linear", 0.0, 1.5, 0.0), ("constant", 0.1, -1.0, 0.0),
])
def test_lr_multiplier(schedule, warmup, progress, expected):
    assert math.isclose(lr_multiplier(schedule, warmup, progress), expected, abs_tol=1e-12)


def test_a_schedule_changes_the_learning_rates_during_a_run(tmp_path, capsys):
    run_dir, lr = tmp_path / "run", 1e-3
    ok([*RING, "--epochs", 2, "--steps-per-epoch", 4, "--lr", lr, "--g-lr", 2 * lr,
        "--lr-schedule", "linear", "--out", run_dir], capsys)
    rows = read_csv(run_dir / "steps.csv")
    logged = [float(r["lr"]) for r in rows]  # G's rate, set at the start of each step
    expected = [2 * lr * (1 - s / 8) for s in range(8)]
    np.testing.assert_allclose(logged, expected, rtol=1e-5)
    values = ckpt(run_dir)
    assert math.isclose(values["d_optimizer/_learning_rate"], lr / 8, rel_tol=1e-6)
    assert math.isclose(values["g_optimizer/_learning_rate"], 2 * lr / 8, rel_tol=1e-6)
    assert values["lr_scale"] == 1.0


def test_a_rollback_halves_the_scheduled_rates():
    config = TrainConfig(lr=1e-3, lr_schedule="cosine")
    optimizers = [keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)]
    model = SimpleNamespace(d_optimizer=optimizers[0], g_optimizer=optimizers[1])
    state = TrainingState(steps_per_epoch=10, epochs=1)
    clock = SimpleNamespace(fraction=0.5)
    scale = tf.Variable(1.0, dtype=tf.float64)
    schedule = LearningRateSchedule(config, state, clock, scale)
    schedule.set_model(model)
    schedule.on_train_batch_begin(0)
    assert math.isclose(float(optimizers[1].learning_rate.numpy()), 5e-4, rel_tol=1e-6)
    state.rollbacks += 1  # NanPolicy restored a checkpoint and halved the rates
    schedule.on_train_batch_begin(1)
    assert scale.numpy() == 0.5
    for optimizer in optimizers:
        assert math.isclose(float(optimizer.learning_rate.numpy()), 2.5e-4, rel_tol=1e-6)


# --- EMA half-life -----------------------------------------------------------------------------


def test_half_life_decay_follows_the_formula_and_its_rampup():
    updates = np.array([0, 1, 10, 100, 1000, 10**5])
    batch, kimg, rampup = 32, 10.0, 0.05
    got = half_life_decay(updates, batch, kimg, rampup).numpy()
    half_life = np.minimum(kimg * 1000, updates * batch * rampup)
    want = 0.5 ** (batch / np.maximum(half_life, 1e-8))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0] == 0.0 and got[-1] == np.float32(0.5 ** (32 / 10000))
    flat = half_life_decay(updates, batch, kimg, 0.0).numpy()  # no rampup: constant
    np.testing.assert_allclose(flat, 0.5 ** (batch / 10000.0), rtol=1e-6)


def test_the_optimizer_averages_with_the_half_life_decay():
    weight = tf.Variable([1.0, 2.0])
    optimizer = HalfLifeEmaAdam(0.1, half_life_kimg=0.001, images_per_update=1, rampup=0.5)
    optimizer.build([weight])
    average = optimizer._model_variables_moving_average[0]
    for _ in range(4):
        n = int(optimizer.iterations.numpy())
        decay = float(optimizer.ema_decay().numpy())
        before = average.numpy().copy()
        optimizer.apply_gradients([(tf.constant([1.0, -1.0]), weight)])
        expected = weight.numpy() if n == 0 else decay * before + (1 - decay) * weight.numpy()
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-6)
        assert math.isclose(decay, 0.5 ** (1 / max(min(1.0, n * 0.5), 1e-8)), rel_tol=1e-6)


def test_a_half_life_run_is_sampled_with_its_averages(tmp_path, capsys):
    assert uses_ema(TrainConfig(ema_kimg=1.0)) and not uses_ema(TrainConfig(ema_kimg=1.0), False)
    run_dir = tmp_path / "run"
    ok([*RING, "--ema-kimg", 0.01, "--out", run_dir], capsys)
    names = [k for k in ckpt(run_dir) if k.startswith("g_optimizer/")]
    weights = sum("/_trainable_variables/" in k for k in names)
    slots = sum("/_variables/" in k for k in names)
    assert slots == 3 * weights  # per weight: Adam's m and v, and the moving average
    ok(["sample", "--ckpt", run_dir, "--n", 20, "--out", tmp_path / "ema.npy"], capsys)
    ok(["sample", "--ckpt", run_dir, "--n", 20, "--no-ema", "--out", tmp_path / "live.npy"],
       capsys)
    ema, live = np.load(tmp_path / "ema.npy"), np.load(tmp_path / "live.npy")
    assert ema.shape == live.shape == (20, 2) and not np.allclose(ema, live)


# --- bad values --------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["--time-budget", 0], ["--time-budget", -1], ["--time-budget", "soon"],
    ["--lr-schedule", "step"], ["--lr-warmup", 1], ["--lr-warmup", -0.1],
    ["--ema-kimg", 0], ["--ema-rampup", 2], ["--ema", 0.9, "--ema-kimg", 10],
    ["--ema-rampup", 0.1],
])
def test_bad_values_are_usage_errors(tmp_path, capsys, args):
    code, _, err = run([*RING, "--out", tmp_path / "run", *args], capsys)
    assert code == 2, err
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("values, words", [
    ({"time_budget": 0.0}, "time-budget"), ({"lr_schedule": "exp"}, "lr-schedule"),
    ({"lr_warmup": 1.0}, "lr-warmup"), ({"ema_kimg": -1.0}, "ema-kimg"),
    ({"ema_rampup": 1.5, "ema_kimg": 1.0}, "ema-rampup"), ({"ema": 0.9, "ema_kimg": 1.0}, "--ema"),
    ({"time_budget": 1.0, "strategy": "multi-worker"}, "multi-worker"),
])
def test_bad_settings_name_the_value(values, words):
    with pytest.raises(UsageError, match=words) as error:
        validate(TrainConfig.create(dataset="ring", **values))
    assert "\n" not in str(error.value)
