"""The progress bar: one tqdm bar per epoch, with the running epoch means."""

import keras
from tqdm.auto import tqdm

from gantool.config.train_config import BUDGET_EPOCHS


class ProgressBar(keras.callbacks.Callback):
    """Shows the steps of the current epoch and the running means that ``log`` (the run's
    :class:`~gantool.training.callbacks.logs.RunLog`, earlier in the list) keeps."""

    def __init__(self, state, log):
        super().__init__()
        self.state = state
        self.log = log
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self.shown = self.state.step
        of = f"/{self.state.epochs}" if self.state.epochs < BUDGET_EPOCHS else ""  # --time-budget
        self.bar = tqdm(total=self.state.steps_per_epoch,
                        initial=self.state.step - epoch * self.state.steps_per_epoch,
                        desc=f"epoch {epoch + 1}{of}", unit="step", dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        means = self.log.epoch_means.means()
        self.bar.set_postfix({"D": f"{means['d_loss']:.3f}", "G": f"{means['g_loss']:.3f}",
                              "D(x)": f"{means['d_real']:.2f}",
                              "D(G(z))": f"{means['d_fake']:.2f}"}, refresh=False)
        self.bar.update(self.state.step - self.shown)
        self.shown = self.state.step

    def on_epoch_end(self, epoch, logs=None):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
