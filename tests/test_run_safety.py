"""A run is never lost or mixed (issue "Reliability"): the run-directory lock (two trainings
at once: the second is refused, the first's outputs equal a solo run's), a stale lock taken
over, a damaged latest checkpoint skipped on resume and in sample, a stray TF_CONFIG under a
single-worker strategy, and seeds up to 2**63 - 1."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gantool import rundir
from gantool.config import TrainConfig, read_toml
from gantool.distribute import is_chief
from gantool.fieldtypes import seed_bits
from tests.test_bad_inputs import (
    ROOT,
    TINY,
    assert_samples,
    data_file,
    invoke,
    tiny_run,
    truncate,
)

# 30 steps, so that two processes started together overlap while one trains
from tests.test_fault_tolerance import assert_bitwise_equal, variables  # noqa: E402

RACE = [*TINY, "--steps-per-epoch", "10", "--epochs", "3", "--seed", "3"]


def rows_without_time(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("tiny") / "run")


@pytest.fixture
def copy(tiny, tmp_path):
    return Path(shutil.copytree(tiny, tmp_path / "run"))


@pytest.mark.slow  # ~60 s: three trainings; tests/test_bad_inputs.py refuses a held lock fast
def test_two_trainings_at_once_the_second_is_refused_the_first_unharmed(tmp_path):
    target = tmp_path / "shared"
    processes = [subprocess.Popen([sys.executable, "-m", "gantool", "train", *RACE, "--out",
                                   str(target)], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, _, err in results if code == 1)
    errors = [line for line in refused.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "in use" in errors[0] and "PID" in errors[0], refused
    winner_pid = next(p.pid for p, (code, _, _) in zip(processes, results) if code == 0)
    assert f"PID {winner_pid}" in errors[0]
    solo = tiny_run(tmp_path / "solo", *RACE[len(TINY):])
    assert rows_without_time(target / "metrics.csv") == rows_without_time(solo / "metrics.csv")
    assert (target / "steps.csv").read_text() == (solo / "steps.csv").read_text()
    assert ([Path(p).name for p in rundir.checkpoints(target / "checkpoints")]
            == [Path(p).name for p in rundir.checkpoints(solo / "checkpoints")])
    for a, b in zip(rundir.checkpoints(target / "checkpoints"),
                    rundir.checkpoints(solo / "checkpoints")):
        assert_bitwise_equal(a, b)
    assert not (target / rundir.LOCK).exists()


def test_a_stale_lock_is_taken_over_with_a_warning(copy):
    run_dir = copy
    (run_dir / rundir.LOCK).write_text("999999 otherhost 2026-01-01T00:00:00+0000\n")
    code, _, err = invoke(["train", "--out", run_dir, "--resume", "--quiet"])
    assert code == 0, err
    assert "taking over the lock" in err and "PID 999999" in err
    assert not (run_dir / rundir.LOCK).exists()


def test_a_truncated_latest_checkpoint_resumes_from_the_one_before(copy, tmp_path):
    run_dir = copy  # checkpoints at steps 0, 3, 6
    latest = rundir.latest_checkpoint(run_dir / "checkpoints")
    assert rundir.step_of(latest) == 6
    truncate(data_file(latest))
    code, _, err = invoke(["sample", "--ckpt", run_dir, "--n", 4, "--out", tmp_path / "s.png"])
    assert code == 0 and "ckpt-6 is damaged" in err and "ckpt-3" in err, err
    code, _, err = invoke(["train", "--out", run_dir, "--resume", "--epochs", "3", "--quiet"])
    assert code == 0, err
    assert "ckpt-6 is damaged" in err and "using" in err and "ckpt-3" in err
    # it trained again from step 3: steps 4..9, the damaged ckpt-6 written over
    assert rundir.step_of(rundir.latest_checkpoint(run_dir / "checkpoints")) == 9
    assert variables(str(run_dir / "checkpoints" / "ckpt-6"))  # intact again
    steps = [int(r["step"]) for r in csv.DictReader(open(run_dir / "steps.csv"))]
    assert steps == list(range(1, 10))
    assert_samples(run_dir, tmp_path)


def test_an_unreadable_checkpoint_index_is_rebuilt_on_resume(copy, tmp_path):
    run_dir = copy
    (run_dir / "checkpoints" / "checkpoint").write_bytes(os.urandom(40))
    code, _, err = invoke(["sample", "--ckpt", run_dir, "--n", 4, "--out", tmp_path / "s.png"])
    assert code == 0, err
    code, _, err = invoke(["train", "--out", run_dir, "--resume", "--epochs", "3", "--quiet"])
    assert code == 0 and "unreadable" in err, err
    assert rundir.step_of(rundir.latest_checkpoint(run_dir / "checkpoints")) == 9


@pytest.mark.slow  # a training; test_stray_tf_config_is_ignored_by_single_worker_strategies
def test_tf_config_naming_a_non_chief_is_ignored_and_the_run_written(tmp_path):
    worker_one = '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}'
    run_dir = tmp_path / "run"
    code, _, err = invoke(["train", *TINY, "--out", run_dir], env={"TF_CONFIG": worker_one})
    assert code == 0, err
    assert "TF_CONFIG is set but ignored" in err
    assert (run_dir / "config.json").is_file() and (run_dir / "checkpoints").is_dir()


def test_stray_tf_config_is_ignored_by_single_worker_strategies(monkeypatch, capsys):
    for value in ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", '
                  '"index": 1}}', "not json at all"):
        monkeypatch.setenv("TF_CONFIG", value)
        assert all(is_chief(s) for s in ("auto", "default", "one-device", "mirrored"))
        assert capsys.readouterr().err.count("TF_CONFIG is set but ignored") == 4


def test_the_largest_seed_trains_and_samples(tmp_path):
    biggest = 2**63 - 1
    run_dir = tiny_run(tmp_path / "run", "--seed", str(biggest), "--dry-run")
    code, _, err = invoke(["sample", "--ckpt", run_dir, "--seed", str(biggest), "--n", 4,
                           "--out", tmp_path / "s.png"])
    assert code == 0, err
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"seed = {biggest}\n")
    assert TrainConfig.from_dict(read_toml(recipe)).seed == biggest


def test_seed_bits_keeps_small_seeds_and_fits_large_ones():
    assert seed_bits(7, 32) == 7 and seed_bits(2**32 - 1, 32) == 2**32 - 1
    large = [seed_bits(s, 31) for s in (2**31, 2**40, 2**63 - 1)]
    assert all(0 <= s < 2**31 for s in large) and len(set(large)) == 3
