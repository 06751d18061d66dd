"""What the training callbacks share: the global step, the schedule and stop requests."""

import math
from dataclasses import dataclass, field


@dataclass
class TrainingState:
    """Shared by the callbacks of one ``train()``. Epoch numbers in outputs are 1-based
    ("epoch 3" is the state after three epochs)."""

    steps_per_epoch: int
    epochs: int  # the last epoch; under --time-budget, the one the budget ran out in
    step: int = 0  # steps completed so far (across resumes)
    on_nan: str = "stop"
    interrupted: str | None = None  # name of the signal that asked training to stop
    rollbacks: int = 0
    budget_spent: bool = False  # --time-budget ran out: training ends after this step
    step_values: dict = field(default_factory=dict)  # more steps.csv columns, e.g. {"lr": ...}
    epoch_extras: dict = field(default_factory=dict)  # 1-based epoch -> {"eval_fid": ...}

    @property
    def epochs_done(self):
        return self.step // self.steps_per_epoch

    @property
    def stopped_mid_epoch(self):
        """A stop request ended the current epoch before its last step. (A request that lands
        during an epoch's last step stops training after a complete epoch, which is logged.)"""
        return bool(self.interrupted) and self.step % self.steps_per_epoch != 0


def losses_finite(logs):
    """Both losses of a step's logs (or of a ``steps.csv`` row) are finite numbers."""
    return all(math.isfinite(float(logs[k])) for k in ("d_loss", "g_loss"))
