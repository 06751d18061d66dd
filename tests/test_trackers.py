"""--track: experiment trackers, offline (an MLflow file store, W&B offline mode, a fake)."""

import json
import struct
import sys

import pytest

from gantool import rundir
from gantool.config import TrainConfig
from gantool.errors import UsageError
from gantool.trackers import FAILED, FINISHED, KILLED, TRACKERS, Tracker, exit_status
from gantool.training.callbacks import Checkpointer, read_csv
from tests.tiny_runs import cli, image_run

EPOCHS = ["--epochs", 3]  # of 4 steps (64 examples, batch 16)
WINDOWS = [4, 8, 10, 12]  # TensorBoard's step/ means: every 10 steps and at each epoch's end


def step_means(run_dir, name):
    """What TensorBoard's step/NAME gets: the mean of each window, in step order."""
    rows = [float(r[name]) for r in read_csv(run_dir / rundir.STEPS)]
    return [sum(rows[a:b]) / (b - a) for a, b in zip([0, *WINDOWS], WINDOWS)]


class FakeTracker(Tracker):
    name, package = "fake", "json"  # json: always importable
    runs = []

    def start(self, config, run_dir):
        self.config, self.run_dir, self.scalars, self.images = config, run_dir, [], []
        self.status = None
        FakeTracker.runs.append(self)

    def log_scalars(self, values, step):
        self.scalars.append((step, values))

    def log_image(self, name, image, step):
        self.images.append((name, image.shape, str(image.dtype), step))

    def finish(self, status):
        self.status = status


@pytest.fixture
def fake_tracker():
    FakeTracker.runs = []
    TRACKERS.register("fake", FakeTracker)
    yield FakeTracker
    TRACKERS.unregister("fake")


def test_the_track_setting_survives_config_json_and_is_checked():
    config = TrainConfig.create(track=["mlflow", "wandb"])
    assert TrainConfig.from_saved(json.loads(json.dumps(config.to_dict()))).track == [
        "mlflow", "wandb"]
    assert TrainConfig().track == []
    with pytest.raises(UsageError, match="track"):
        TrainConfig.create(track="mlflow")


def test_a_missing_package_is_a_usage_error_with_the_pip_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow fails, find_spec: None
    code = cli(["train", "--arch", "mlp", "--dataset", "ring", "--out", tmp_path / "run",
                "--track", "mlflow", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("Error: --track mlflow needs the mlflow package: "
                   "pip install 'gantool[mlflow]'")
    assert not (tmp_path / "run").exists()  # before the run directory


def test_an_unknown_tracker_is_refused(capsys):
    assert cli(["train", "--track", "nope"]) == 2
    assert "mlflow" in capsys.readouterr().err


def test_scalars_and_images_reach_every_tracker_without_tensorboard(tmp_path, fake_tracker):
    run_dir = image_run(tmp_path, ema=False, extra=["--track", "fake", "--no-tensorboard",
                                                    *EPOCHS])
    (run,) = fake_tracker.runs
    assert run.status == FINISHED and run.run_dir.name == "run"
    assert run.config["batch_size"] == 16 and run.config["track"] == ["fake"]
    steps = [(step, values) for step, values in run.scalars if "step/d_loss" in values]
    assert [step for step, _ in steps] == WINDOWS
    assert [v["step/d_loss"] for _, v in steps] == pytest.approx(step_means(run_dir, "d_loss"),
                                                                 rel=1e-5)
    epochs = [(step, values) for step, values in run.scalars if "epoch/g_loss" in values]
    assert [step for step, _ in epochs] == [1, 2, 3]
    assert {"epoch/d_real", "epoch/d_fake"} <= epochs[0][1].keys()
    assert [(name, dtype, step) for name, _, dtype, step in run.images] == [
        ("samples", "uint8", epoch) for epoch in (1, 2, 3)]


def test_a_failing_run_ends_its_tracker_run_as_failed(tmp_path, monkeypatch, fake_tracker,
                                                       capsys):
    def boom(self, epoch, logs=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(Checkpointer, "on_epoch_end", boom)
    image_run(tmp_path, ema=False, extra=["--track", "fake"], exit_code=1)  # one Error line
    assert "Error: unexpected RuntimeError: boom" in capsys.readouterr().err
    assert fake_tracker.runs[0].status == FAILED


def test_interrupts_end_tracker_runs_as_killed():
    from gantool.training import Interrupted

    assert exit_status(None) == FINISHED
    assert exit_status(KeyboardInterrupt()) == KILLED
    assert exit_status(Interrupted("stopped")) == KILLED
    assert exit_status(ValueError()) == FAILED


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses it otherwise
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    return mlflow.MlflowClient(uri)


def only_run(client):
    experiment = client.get_experiment_by_name("gantool")
    (run,) = client.search_runs([experiment.experiment_id])
    return run


def test_mlflow_gets_the_params_metrics_and_images(tmp_path, mlflow_store):
    run_dir = image_run(tmp_path, ema=False, extra=["--track", "mlflow", *EPOCHS])
    run = only_run(mlflow_store)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["batch_size"] == "16" and run.data.params["arch"] == "mlp"
    history = mlflow_store.get_metric_history(run.info.run_id, "step/d_loss")
    assert [m.step for m in history] == WINDOWS
    assert [m.value for m in history] == pytest.approx(step_means(run_dir, "d_loss"), rel=1e-5)
    assert [m.step for m in mlflow_store.get_metric_history(run.info.run_id,
                                                            "epoch/g_loss")] == [1, 2, 3]
    images = mlflow_store.list_artifacts(run.info.run_id, "samples")
    assert [a.path for a in images] == [f"samples/000000{e}.png" for e in (1, 2, 3)]


def test_mlflow_marks_a_failing_run_failed(tmp_path, monkeypatch, mlflow_store):
    monkeypatch.setattr(Checkpointer, "on_epoch_end", lambda *a, **k: 1 / 0)
    image_run(tmp_path, ema=False, extra=["--track", "mlflow"], exit_code=1)
    assert only_run(mlflow_store).info.status == "FAILED"


def wandb_records(path):
    """The protobuf records of a ``run-ID.wandb`` file (a LevelDB-style log: a 7-byte header,
    32 KiB blocks of chunks with a 7-byte header: crc32, length, type 1 full/2 first/4 last)."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    pos, parts = 7, []
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        parts.append(data[pos + 7:pos + 7 + length])
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(parts))
            parts = []
            yield record


def test_wandb_offline_gets_the_config_history_and_images(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    for name, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path),
                        "WANDB_SILENT": "true", "WANDB_PROJECT": "gantool-test"}.items():
        monkeypatch.setenv(name, value)
    image_run(tmp_path, ema=False, extra=["--track", "wandb", *EPOCHS])
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    records = list(wandb_records(path))
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == "run"
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["batch_size"] == 16
    history = [{item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    assert [h["global_step"] for h in history if "step/d_loss" in h] == WINDOWS
    assert [h["epoch"] for h in history if "epoch/g_loss" in h] == [1, 2, 3]
    assert any("samples/path" in h for h in history)
    (end,) = [r.exit for r in records if r.WhichOneof("record_type") == "exit"]
    assert end.exit_code == 0
