"""Experiment trackers (``gantool train --track NAME``): the scalars and sample images that
TensorBoard gets, also sent to MLflow or Weights & Biases.

A tracker is a :class:`Tracker` subclass registered in :data:`TRACKERS` (``--track`` lists the
registry's names); its package is imported only when a run starts. :func:`with_trackers` puts
the started trackers behind the interface of TensorBoard's
:class:`~gantool.training.callbacks.SummaryWriter` (``scalars``, ``image``, ``close``), so the
callbacks that write TensorBoard write every sink through one path. Tags keep TensorBoard's
names: ``step/*`` (at the global step), ``epoch/*`` and ``eval/*`` (at the epoch), images
``samples`` (epoch) and ``samples_by_step`` (global step).

Nothing here imports TensorFlow, MLflow or wandb at import time (the CLI reads the names).
"""

import importlib
import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path

from gantool.errors import GantoolError, UsageError, first_line
from gantool.registry import Registry

TRACKERS = Registry("tracker")

FINISHED, FAILED, KILLED = "finished", "failed", "killed"  # how a tracked run ended
PROJECT = "gantool"  # MLflow experiment / W&B project unless the environment names one


class Tracker:
    """One tracker's run. ``start(config, run_dir)``: open a run named after the run
    directory with the flat settings ``config`` as its parameters; ``log_scalars(values,
    step)``; ``log_image(name, image, step)`` (uint8 H x W x C); ``finish(status)``: one of
    FINISHED, FAILED (an error) or KILLED (a signal or Ctrl-C)."""

    name = None  # the --track name
    package = None  # the module it needs, installed by the extra gantool[name]

    def start(self, config, run_dir):
        raise NotImplementedError

    def log_scalars(self, values, step):
        raise NotImplementedError

    def log_image(self, name, image, step):
        raise NotImplementedError

    def finish(self, status):
        raise NotImplementedError

    def module(self):
        """The tracker's package, imported; UsageError with the pip hint when it is missing."""
        try:
            return importlib.import_module(self.package)
        except ImportError:
            raise UsageError(missing_message(self)) from None


def missing_message(tracker):
    return (f"--track {tracker.name} needs the {tracker.package} package: "
            f"pip install 'gantool[{tracker.name}]'")


def check_trackers(names):
    """``names`` (the ``track`` setting) must be registered trackers whose packages are
    installed; raises a one-line :class:`UsageError` (without importing them)."""
    if not isinstance(names, list):
        raise UsageError(f"track must be a list of tracker names, got {names!r}")
    for name in names:
        tracker = TRACKERS.get(name)
        try:
            found = importlib.util.find_spec(tracker.package) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError(missing_message(tracker))


def with_trackers(writer, config, run_dir):
    """``writer`` (TensorBoard's, or None) and the started trackers of ``config.track`` as one
    writer; ``writer`` itself when nothing is tracked. Call it in the chief only."""
    names = list(dict.fromkeys(config.track))
    if not names:
        return writer
    params = config.to_dict()
    trackers = []
    try:
        for name in names:
            tracker = TRACKERS.get(name)()
            tracker.start(params, Path(run_dir))
            trackers.append(tracker)
    except BaseException:
        for tracker in trackers:
            tracker.finish(FAILED)
        raise
    tracked = TrackerWriter(trackers)
    return tracked if writer is None else Writers(writer, tracked)


class Writers:
    """Several writers (``scalars``, ``image``, ``close``) as one."""

    def __init__(self, *writers):
        self.writers = writers

    def scalars(self, values, step, prefix=""):
        for writer in self.writers:
            writer.scalars(values, step, prefix)

    def image(self, name, picture, step):
        for writer in self.writers:
            writer.image(name, picture, step)

    def close(self):
        for writer in self.writers:
            writer.close()


class TrackerWriter:
    """Started trackers behind the SummaryWriter interface. A tracker that fails to log is
    warned about once and dropped: training goes on. ``close()`` is called from the training
    loop's ``finally``: the exception in flight, if any, decides the status."""

    def __init__(self, trackers):
        self.trackers = list(trackers)

    def scalars(self, values, step, prefix=""):
        values = {prefix + k: float(v) for k, v in values.items()}
        self._each(lambda tracker: tracker.log_scalars(values, step))

    def image(self, name, picture, step):
        self._each(lambda tracker: tracker.log_image(name, picture, step))

    def _each(self, call):
        for tracker in list(self.trackers):
            try:
                call(tracker)
            except Exception as e:  # a tracker's outage must not end the training run
                warnings.warn(f"--track {tracker.name}: {first_line(e)}; not logging to it any "
                              "more", stacklevel=2)
                self.trackers.remove(tracker)

    def close(self):
        status = exit_status(sys.exc_info()[1])
        for tracker in self.trackers:
            tracker.finish(status)
        self.trackers = []


def exit_status(error):
    """FINISHED without ``error``, KILLED for Ctrl-C or a signal, else FAILED."""
    if error is None:
        return FINISHED
    from gantool.training.signals import Interrupted

    return KILLED if isinstance(error, (KeyboardInterrupt, Interrupted)) else FAILED


def step_axis(tag):
    """What ``step`` counts for a TensorBoard tag: the global step or the epoch."""
    return "global_step" if tag.startswith("step/") or tag.endswith("_by_step") else "epoch"


@TRACKERS.register("mlflow")
class MlflowTracker(Tracker):
    """MLflow: MLFLOW_TRACKING_URI (and the rest of MLflow's environment) says where;
    experiment MLFLOW_EXPERIMENT_NAME, else ``gantool``. Images are artifacts
    ``TAG/NNNNNNN.png`` (NNNNNNN: the step)."""

    name, package = "mlflow", "mlflow"
    STATUSES = {FINISHED: "FINISHED", FAILED: "FAILED", KILLED: "KILLED"}

    def start(self, config, run_dir):
        mlflow = self.module()
        from mlflow.entities import Param

        try:
            self.client = mlflow.MlflowClient()
            experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", PROJECT)
            found = self.client.get_experiment_by_name(experiment)
            experiment_id = (found.experiment_id if found is not None
                             else self.client.create_experiment(experiment))
            self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name,
                                                 tags={"gantool.run_dir": str(run_dir)}
                                                 ).info.run_id
            self.client.log_batch(self.run_id, params=[Param(k, str(v))
                                                       for k, v in config.items()])
        except Exception as e:
            raise GantoolError(f"--track mlflow: cannot start a run: {first_line(e)}") from None

    def log_scalars(self, values, step):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step)
                                                    for k, v in values.items()])

    def log_image(self, name, image, step):
        self.client.log_image(self.run_id, image, artifact_file=f"{name}/{step:07d}.png")

    def finish(self, status):
        self.client.set_terminated(self.run_id, status=self.STATUSES[status])


@TRACKERS.register("wandb")
class WandbTracker(Tracker):
    """Weights & Biases: project WANDB_PROJECT, else ``gantool``; W&B's environment applies
    (WANDB_MODE=offline, WANDB_DIR, ...). Each tag is plotted over its own step metric,
    ``global_step`` or ``epoch``."""

    name, package = "wandb", "wandb"

    def start(self, config, run_dir):
        self.wandb = self.module()
        try:
            self.run = self.wandb.init(project=os.environ.get("WANDB_PROJECT", PROJECT),
                                       name=run_dir.name, config=config)
        except Exception as e:
            raise GantoolError(f"--track wandb: cannot start a run: {first_line(e)}") from None
        self.defined = set()

    def _log(self, values, step):
        """``values`` (all of one step axis) at ``step`` of that axis."""
        axis = step_axis(next(iter(values)))
        for tag in values.keys() - self.defined:
            self.run.define_metric(tag, step_metric=axis)
            self.defined.add(tag)
        self.run.log({**values, axis: step})

    def log_scalars(self, values, step):
        for axis in ("global_step", "epoch"):
            group = {k: v for k, v in values.items() if step_axis(k) == axis}
            if group:
                self._log(group, step)

    def log_image(self, name, image, step):
        self._log({name: self.wandb.Image(image)}, step)

    def finish(self, status):
        self.run.finish(exit_code=0 if status == FINISHED else 1)
