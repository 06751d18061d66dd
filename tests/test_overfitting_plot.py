"""experiments/overfitting_plot.py: D's sign statistic from steps.csv, scores from eval.json,
and a picture with one curve per run."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest

COLUMNS = ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake")


@pytest.fixture(scope="module")
def script(experiment_script):
    return experiment_script("overfitting_plot")


def fake_run(path, acc_real, aug_p=None, scores=None):
    """A run directory with a steps.csv whose d_acc_real is ``acc_real`` (and aug_p)."""
    path.mkdir()
    columns = COLUMNS + (("aug_p", "d_sign_real") if aug_p is not None else ())
    with open(path / "steps.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i, acc in enumerate(acc_real):
            row = [i + 1, i // 10, 1.0, 1.0, 0.5, 0.5, acc, 0.5]
            if aug_p is not None:
                row += [aug_p[i], 2 * acc - 1]
            writer.writerow(row)
    if scores:
        (path / "eval.json").write_text(json.dumps(scores))
    return path


def test_sign_statistic_and_aug_p_are_read_per_step(script, tmp_path):
    acc = np.linspace(0.5, 1.0, 30)
    run = fake_run(tmp_path / "ada", acc, aug_p=np.linspace(0, 0.4, 30))
    steps, sign, aug_p = script.read_curves(run)
    np.testing.assert_array_equal(steps, np.arange(1, 31))
    np.testing.assert_allclose(sign, 2 * acc - 1)  # 0 (chance) .. 1 (every real logit > 0)
    np.testing.assert_allclose(aug_p[[0, -1]], [0, 0.4])
    assert script.read_curves(fake_run(tmp_path / "none", acc))[2] is None


def test_scores_name_the_metric_and_the_sample_counts(script, tmp_path):
    fid = fake_run(tmp_path / "a", [0.5], scores={"fid": 81.14, "n_fake": 2000, "n_real": 2000})
    fd = fake_run(tmp_path / "b", [0.5], scores={"fd_classifier": 8.543, "n_fake": 1000,
                                                 "n_real": 1000})
    assert script.score_text(fid) == "FID 81.1 (2000 vs 2000)"
    assert script.score_text(fd) == "FD (classifier) 8.54 (1000 vs 1000)"
    assert script.score_text(fake_run(tmp_path / "c", [0.5])) == ""


def test_the_picture_has_a_curve_per_run_in_its_own_colour(script, tmp_path, capsys):
    flat = fake_run(tmp_path / "none", [0.5] * 40, scores={"fid": 50.0, "n_fake": 8,
                                                           "n_real": 8})
    rising = fake_run(tmp_path / "ada", np.linspace(0.5, 1, 40), aug_p=np.linspace(0, 1, 40))
    out = tmp_path / "overfitting.png"
    script.main([f"none={flat}", f"ada={rising}", "--out", str(out), "--title", "t"])
    assert "none: FID 50.0 (8 vs 8)" in capsys.readouterr().out
    image = iio.imread(out)[..., :3].astype(int)
    assert image.shape[:2] == (360, 990)  # figsize (11, 4) at 90 dpi
    blue = (abs(image - [31, 119, 180]).sum(axis=2) < 40).sum()   # C0: none
    orange = (abs(image - [255, 127, 14]).sum(axis=2) < 40).sum()  # C1: ada, in both panels
    assert blue > 200 and orange > blue


def test_a_run_without_steps_csv_is_a_usage_error(script, tmp_path):
    with pytest.raises(SystemExit) as error:
        script.main([f"x={tmp_path}", "--out", str(tmp_path / "o.png")])
    assert error.value.code == 2
