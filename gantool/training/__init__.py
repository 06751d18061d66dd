"""Training: :func:`train` runs a GAN's training into a run directory (see :mod:`.loop`).

Modules: :mod:`.loop` (``train()`` in named steps), :mod:`.schedule` (data, batch, steps,
epochs), :mod:`.build` (the GAN, its optimizers and precision), :mod:`.checkpoints`,
:mod:`.signals` (SIGINT/SIGTERM), :mod:`.state` (what the callbacks share) and
:mod:`.callbacks` (one per output); :mod:`.evaluator` scores the generator with
``--eval-every``.
"""

from gantool.training.build import build_gan
from gantool.training.checkpoints import RunCheckpoint
from gantool.training.loop import TrainResult, train
from gantool.training.schedule import execution_steps
from gantool.training.signals import Interrupted, stop_requests
from gantool.training.state import TrainingState

__all__ = ["Interrupted", "RunCheckpoint", "TrainResult", "TrainingState", "build_gan",
           "execution_steps", "stop_requests", "train"]
