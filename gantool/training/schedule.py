"""What a run trains on and for how long: the data source, the global batch, the steps per
epoch and the epochs (all shortened by ``--dry-run``), the time budget and the steps per
execution."""

import math
from dataclasses import dataclass

from gantool.data import load_dataset
from gantool.data.pipeline import steps_per_epoch, training_dataset
from gantool.errors import UsageError

DRY_RUN_STEPS = 2
DRY_RUN_EPOCHS = 2


@dataclass(frozen=True)
class Schedule:
    batch_size: int  # the global batch of one step: one real chunk per D step
    steps: int  # steps per epoch
    epochs: int  # under a time budget, an upper bound
    budget: float | None = None  # seconds of training (--time-budget; None under --dry-run)

    @property
    def total_steps(self):
        return self.epochs * self.steps

    def dataset(self, source, config, first_epoch):
        """The training batches from ``first_epoch`` to the last, as one stream."""
        return training_dataset(source, self.batch_size, config.seed, first_epoch, self.epochs,
                                self.steps, with_labels=config.conditional)


def load_data(config, resume=False):
    """The run's :class:`~gantool.data.source.DataSource`, and ``config`` with what was
    derived from it (``data_shape``, ``data_kind``, ``num_classes``)."""
    max_examples = config.max_examples
    if config.dry_run:
        max_examples = min(max_examples or 10**12, config.batch_size * DRY_RUN_STEPS)
    source = load_dataset(config.dataset, data_dir=config.data_dir, image_size=config.image_size,
                          channels=config.channels, max_examples=max_examples, seed=config.seed,
                          skip_bad_images=config.skip_bad_images)
    if resume and list(config.data_shape) != list(source.shape):
        raise UsageError(f"dataset {config.dataset} now gives shape {tuple(source.shape)}, the run "
                         f"was trained on {tuple(config.data_shape)}")
    if config.conditional and source.labels is None:
        raise UsageError(f"--conditional needs class labels, and dataset {config.dataset} has "
                         "none (tfds datasets with labels, folder: with one sub-folder per "
                         "class, or npz: with y_train)")
    return source, config.replace(data_shape=list(source.shape), data_kind=source.kind,
                                  num_classes=source.num_classes if config.conditional else None)


def schedule_for(config, source):
    batch_size = config.batch_size * config.d_steps  # one real chunk per D step
    if config.dry_run:  # a smoke test should also run on a handful of examples
        batch_size = min(batch_size, source.num_examples)
    steps = steps_per_epoch(source, batch_size, config.steps_per_epoch)
    epochs = config.epochs
    budget = None if config.time_budget is None else config.time_budget * 60.0
    if config.dry_run:  # its couple of steps, whatever the budget
        steps, epochs, budget = min(steps, DRY_RUN_STEPS), min(epochs, DRY_RUN_EPOCHS), None
    return Schedule(batch_size, steps, epochs, budget)


def execution_steps(wanted, steps_per_epoch, done_in_epoch=0):
    """The largest steps_per_execution <= ``wanted`` that divides both the steps per epoch and
    the steps left in a resumed epoch: an execution must not run into the next epoch (the data
    of all epochs is one stream, so Keras would take the next epoch's batches)."""
    common = math.gcd(steps_per_epoch, steps_per_epoch - done_in_epoch)
    return max(k for k in range(1, min(wanted, common) + 1) if common % k == 0)


def steps_per_execution(config, schedule, start_step, progress):
    """:func:`execution_steps` for this run; says so when it is not ``--steps-per-execution``."""
    steps, done = schedule.steps, start_step % schedule.steps
    per_execution = execution_steps(config.steps_per_execution, steps, done)
    if per_execution != config.steps_per_execution and progress and not config.dry_run:
        print(f"steps per execution: {per_execution} instead of {config.steps_per_execution} "
              f"(it must divide the {steps} steps per epoch"
              + (f" and the {steps - done} left in this one)" if done else ")"))
    return per_execution
