"""The Keras callbacks that write a run's outputs while ``fit()`` trains, one per output.

Only these (and the evaluator) write files during training. In the order ``train()`` puts them:
:class:`RunLog` (steps.csv, metrics.csv; counts the steps and turns the epoch logs into epoch
means), :class:`NanPolicy`, :class:`ProgressBar`, :class:`TensorBoardScalars`,
:class:`TrainingPlot`, :class:`Checkpointer` and :class:`SampleWriter`; an evaluator goes
before all of them, so that its scores are in the epoch's row.
"""

from gantool.training.callbacks.checkpointer import Checkpointer
from gantool.training.callbacks.logs import EpochMeans, RunLog, read_csv, write_csv
from gantool.training.callbacks.nan import NanPolicy
from gantool.training.callbacks.plot import TrainingPlot
from gantool.training.callbacks.progress import ProgressBar
from gantool.training.callbacks.samples import FixedSamples, SampleWriter
from gantool.training.callbacks.tensorboard import (
    TENSORBOARD_STEP_WINDOW,
    SummaryWriter,
    TensorBoardScalars,
)

__all__ = ["TENSORBOARD_STEP_WINDOW", "Checkpointer", "EpochMeans", "FixedSamples", "NanPolicy",
           "ProgressBar", "RunLog", "SampleWriter", "SummaryWriter", "TensorBoardScalars",
           "TrainingPlot", "read_csv", "write_csv"]
