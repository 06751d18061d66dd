"""The ``shapes`` dataset (drawn from a seed) and ``training.png`` with per-step curves."""

import imageio.v3 as iio
import numpy as np
import pytest

from gantool import viz
from gantool.data import DATASETS, describe_datasets, load_dataset
from gantool.data.shapes import SHAPES_CLASSES, draw_shapes


def test_shapes_are_reproducible_labelled_images():
    images, labels = draw_shapes(300, seed=0)
    assert images.shape == (300, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int32 and set(labels) == {0, 1, 2}
    again, again_labels = draw_shapes(300, seed=0)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)
    first, _ = draw_shapes(10, seed=0)  # max_examples keeps the first examples
    np.testing.assert_array_equal(first, images[:10])
    assert not np.array_equal(draw_shapes(10, seed=1)[0], first)
    # a plain background (the corners agree) and a shape that stands out from it
    corners = images[:, [0, 0, -1, -1], [0, -1, 0, -1]].astype(int)
    assert np.abs(corners - corners[:, :1]).max() <= 1
    contrast = np.abs(images.astype(int) - corners[:, :1, None]).sum(axis=-1)
    assert contrast.max(axis=(1, 2)).min() > 60


def _covered(images):
    """Masks (N, 32, 32): the pixels that differ from the top-left (background) pixel."""
    background = images[:, :1, :1].astype(int)
    return np.abs(images.astype(int) - background).sum(axis=-1) > 30


def test_shapes_class_areas_differ():
    """Discs, squares and triangles of the same radius cover about pi/2 : 1 : 0.65 of 2r^2."""
    images, labels = draw_shapes(600, seed=3)
    covered = _covered(images).mean(axis=(1, 2))
    areas = [covered[labels == k].mean() for k in range(3)]
    assert areas[0] > areas[1] > areas[2]


def test_squares_stand_upright():
    """Squares are tilted by at most MAX_TILT: their covered pixels fill most of their bounding
    box (a square turned by 45 degrees would fill half of it)."""
    images, labels = draw_shapes(400, seed=5)
    fills = []
    for mask in _covered(images)[labels == 1]:
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        fills.append(mask.sum() / ((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)))
    assert np.median(fills) > 0.8


def test_shapes_source_and_splits():
    assert "shapes" in DATASETS and "shapes" in describe_datasets()
    source = load_dataset("shapes", max_examples=20)
    assert source.kind == "image" and source.shape == (32, 32, 3) and source.num_examples == 20
    assert source.labels_available and source.class_names == list(SHAPES_CLASSES)
    train = np.stack(list(source.dataset.as_numpy_iterator()))
    test = np.stack(list(load_dataset("shapes", split="test", max_examples=20)
                         .dataset.as_numpy_iterator()))
    assert not np.array_equal(train, test)
    grey = load_dataset("shapes", max_examples=2, channels=1, image_size=16)
    assert grey.shape == (16, 16, 1)


def _rows(epochs, steps_per_epoch):
    rng = np.random.default_rng(0)
    keys = ("d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake")
    steps = [{"step": str(s), "epoch": str((s - 1) // steps_per_epoch + 1),
              **{k: f"{rng.uniform(0.2, 1.0):.4f}" for k in keys}}
             for s in range(1, epochs * steps_per_epoch + 1)]
    history = [{"epoch": str(e), "step": str(e * steps_per_epoch),
                **{k: f"{rng.uniform(0.2, 1.0):.4f}" for k in keys}}
               for e in range(1, epochs + 1)]
    return history, steps


@pytest.mark.parametrize("epochs, per_epoch", [(3, 40), (1, 2)])
def test_training_plot_has_per_step_curves(tmp_path, epochs, per_epoch):
    history, steps = _rows(epochs, per_epoch)
    viz.plot_history(tmp_path / "epochs.png", history)
    viz.plot_history(tmp_path / "steps.png", history, steps)
    with_steps, epochs_only = (iio.imread(tmp_path / f) for f in ("steps.png", "epochs.png"))
    assert with_steps.ndim == 3 and with_steps.shape != epochs_only.shape
    assert with_steps.shape[0] > epochs_only.shape[0]  # the step curves sit above the means
    viz.plot_history(tmp_path / "no_epochs.png", [], steps[:1])  # a run stopped in epoch 1
    assert iio.imread(tmp_path / "no_epochs.png").ndim == 3


def test_training_plot_redraws_are_throttled_but_the_last_epoch_always_draws(tmp_path,
                                                                             monkeypatch):
    from types import SimpleNamespace

    from gantool import rundir
    from gantool.training.callbacks import plot
    from gantool.training.callbacks.logs import write_csv

    history, steps = _rows(3, 4)
    write_csv(tmp_path / rundir.STEPS, steps, list(steps[0]))
    state = SimpleNamespace(epochs=3, stopped_mid_epoch=False)
    drawn = tmp_path / rundir.PLOT
    callback = plot.TrainingPlot(tmp_path, state, history[:1])
    callback.on_epoch_end(0)  # within MIN_SECONDS of the start: skipped, left pending
    assert not drawn.exists() and callback.pending
    callback.on_train_end()  # (a stop after the skipped epoch) draws what is pending
    assert drawn.exists() and not callback.pending and callback.draw_seconds > 0
    drawn.unlink()
    callback.history.extend(history[1:])
    callback.on_epoch_end(2)  # the last epoch: always
    assert iio.imread(drawn).ndim == 3
    monkeypatch.setattr(plot, "MIN_SECONDS", 0.0)
    monkeypatch.setattr(plot, "REDRAW_RATIO", 0)
    drawn.unlink()
    callback.on_epoch_end(0)  # nothing to wait for: every epoch draws
    assert drawn.exists()
    state.stopped_mid_epoch = True  # an interrupted epoch is not plotted
    drawn.unlink()
    callback.on_epoch_end(1)
    assert not drawn.exists()


def test_smooth_is_a_bias_corrected_moving_average():
    np.testing.assert_allclose(viz.smooth([2.0] * 5, span=3), [2.0] * 5)
    values = viz.smooth([0.0, 10.0, np.nan, 10.0], span=3)
    assert values[0] == 0 and 0 < values[1] < 10 and values[2] == values[1] < values[3]


# --- animate --out x.mp4 --------------------------------------------------------------------

def _sampled_run(tmp_path, shape=(8, 8, 3)):
    from gantool import rundir
    from gantool.config import TrainConfig

    run_dir = tmp_path / "run"
    (run_dir / "samples").mkdir(parents=True)
    rundir.write_config(run_dir, TrainConfig.create(arch="dcgan", data_shape=list(shape),
                                                    data_kind="image"))
    rng = np.random.default_rng(0)
    for epoch in (1, 2, 3):
        np.save(run_dir / "samples" / f"epoch_{epoch:04d}.npy",
                rng.integers(0, 256, (4, *shape), dtype=np.uint8))
    return run_dir


@pytest.mark.parametrize("channels", [3, 1])
def test_animate_writes_a_readable_mp4(tmp_path, channels):
    pytest.importorskip("imageio_ffmpeg", reason="the [video] extra is not installed")
    from gantool.cli import main

    run_dir = _sampled_run(tmp_path, (8, 8, channels))
    with pytest.raises(SystemExit) as exit_info:
        main(["animate", str(run_dir), "--out", str(tmp_path / "x.mp4"), "--scale", "3"])
    assert not exit_info.value.code
    video = iio.imread(tmp_path / "x.mp4", index=None, plugin="FFMPEG")
    assert video.shape[0] == 3 and video.shape[-1] == 3
    assert video.shape[1] % 2 == 0 and video.shape[1] >= 8 * 3  # padded to even sizes


def test_mp4_without_imageio_ffmpeg_is_a_usage_error(tmp_path, monkeypatch):
    import sys

    from gantool.animation import check_animation_path, write_animation
    from gantool.errors import UsageError

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # "not installed"
    with pytest.raises(UsageError, match=r"imageio-ffmpeg.*gantool\[video\]"):
        check_animation_path(tmp_path / "x.mp4")
    frames = [np.full((4, 4, 3), value, np.uint8) for value in (0, 200)]
    write_animation(tmp_path / "x.gif", frames)  # GIFs need no extra
    assert iio.imread(tmp_path / "x.gif", index=None).shape[0] == 2
