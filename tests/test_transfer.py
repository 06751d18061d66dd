"""Transfer learning: ``train --init-from RUN_OR_CHECKPOINT`` and ``--freeze-d N``."""

import contextlib
import io
import json

import numpy as np
import pytest
import tensorflow as tf

from gantool import rundir
from gantool.cli import main

TINY = ["--arch", "dcgan", "--dataset", "shapes", "--max-examples", "32", "--g-filters", "4",
        "--d-filters", "4", "--latent-dim", "8", "--batch-size", "8", "--steps-per-epoch", "2",
        "--epochs", "1", "--no-tensorboard", "--quiet", "--grid-size", "4"]


def invoke(args):
    """``gantool ARGS`` in-process: ``(exit code, stderr)``."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
    return code, err.getvalue()


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A tiny dcgan run on shapes with --ema (the run others start from)."""
    out = tmp_path_factory.mktemp("transfer") / "source"
    code, err = invoke(["train", *TINY, "--ema", "0.9", "--seed", "1", "--out", out])
    assert code == 0, err
    return out


def _tensors(prefix, network):
    """{checkpoint key: array} of ``network``'s ("generator"/"discriminator") weights: its own
    keys, and its trainable weights, which the checkpoint files under its optimizer's keys."""
    reader = tf.train.load_checkpoint(str(prefix))
    optimizer = f"{network[0]}_optimizer/_trainable_variables/"
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith((network + "/", optimizer))}


def _matches(weights, tensors):
    """For each weight array, whether some checkpoint tensor equals it exactly."""
    return [any(w.shape == t.shape and np.array_equal(w, t) for t in tensors.values())
            for w in weights]


def test_init_from_starts_from_the_source_weights(source_run, tmp_path):
    from conftest import make_config

    from gantool.distribute import make_strategy
    from gantool.training.build import build_gan
    from gantool.training.transfer import load_init_weights, resolve_init_from

    prefix = rundir.latest_checkpoint(rundir.checkpoint_dir(source_run))
    config = make_config(arch="dcgan", dataset="shapes", g_filters=4, d_filters=4, latent_dim=8,
                         data_shape=[32, 32, 3], data_kind="image", seed=5, ema=0.99,
                         init_from=str(source_run))
    config = resolve_init_from(config)
    assert config.init_from == str(prefix)
    gan = build_gan(config, make_strategy("default"))
    assert not all(_matches([w.numpy() for w in gan.generator.weights],
                            _tensors(prefix, "generator")))  # a fresh G differs
    load_init_weights(gan, config)
    for network in (gan.generator, gan.discriminator):
        assert all(_matches([w.numpy() for w in network.weights], _tensors(prefix, network.name)))
    # both runs use --ema: the moving averages are the source's (as `sample` reads them)
    from gantool.sampling import load_generator

    theirs = load_generator(rundir.Run.open(source_run), ema=True).trainable_variables
    ours = gan.g_optimizer._model_variables_moving_average
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    live = [v.numpy() for v in gan.generator.trainable_variables]
    assert any(not np.array_equal(a.numpy(), b) for a, b in zip(ours, live))


def test_freeze_d_keeps_the_first_layer_and_config_records_the_source(source_run, tmp_path):
    out = tmp_path / "tuned"
    code, err = invoke(["train", *TINY, "--init-from", source_run, "--freeze-d", "1",
                        "--max-examples", "16", "--seed", "2", "--lr", "0.01", "--out", out])
    assert code == 0, err
    saved = json.loads((out / "config.json").read_text())
    source_prefix = rundir.latest_checkpoint(rundir.checkpoint_dir(source_run))
    assert saved["init_from"] == str(source_prefix) and saved["freeze_d"] == 1
    from gantool.training.transfer import weight_layers

    before, after = (weight_layers(_discriminator(run)) for run in (source_run, out))
    assert all(np.array_equal(a, b) for a, b in zip(before[0].get_weights(),
                                                   after[0].get_weights()))
    changed = [not all(np.array_equal(a, b) for a, b in zip(x.get_weights(), y.get_weights()))
               for x, y in zip(before[1:], after[1:])]
    assert changed and all(changed)


def test_freeze_d_without_init_from_keeps_convolutions_and_batch_norm_statistics(tmp_path):
    """--freeze-d 3 on a fresh dcgan D (conv, conv, batch norm, conv, batch norm, dense): the
    first three weight layers, the batch norm's moving mean and variance included, end training
    exactly as they started (ckpt-0); D's optimiser holds slots for the others only."""
    out = tmp_path / "frozen"
    code, err = invoke(["train", *TINY, "--freeze-d", "3", "--epochs", "2", "--lr", "0.01",
                        "--seed", "3", "--out", out])
    assert code == 0, err
    from gantool.training.transfer import weight_layers

    first = rundir.checkpoint_dir(out) / f"{rundir.CHECKPOINT_PREFIX}0"
    last = rundir.latest_checkpoint(rundir.checkpoint_dir(out))
    assert rundir.step_of(last) == 4
    before, after = (weight_layers(_discriminator(out, prefix)) for prefix in (first, last))
    names = [type(layer).__name__ for layer in before]
    assert names[:3] == ["Conv2D", "Conv2D", "BatchNormalization"] and len(names) > 3
    for x, y in zip(before[:3], after[:3]):
        assert all(np.array_equal(a, b) for a, b in zip(x.get_weights(), y.get_weights()))
    assert len(before[2].get_weights()) == 4  # gamma, beta and the moving statistics
    changed = [not all(np.array_equal(a, b) for a, b in zip(x.get_weights(), y.get_weights()))
               for x, y in zip(before[3:], after[3:])]
    assert all(changed)
    reader = tf.train.load_checkpoint(str(last))
    slots = {k.split("/")[2] for k in reader.get_variable_to_shape_map()
             if k.startswith("d_optimizer/_trainable_variables/")}
    assert len(slots) == sum(len(layer.trainable_weights) for layer in before[3:])


def _discriminator(run_dir, checkpoint=None):
    """The run's discriminator with the weights of ``checkpoint`` (default: its latest)."""
    from gantool.models import ARCHITECTURES

    run = rundir.Run.open(run_dir)
    config = run.config
    model = ARCHITECTURES.get(config.arch).build_discriminator(config, tuple(config.data_shape))
    tf.train.Checkpoint(discriminator=model).restore(
        str(checkpoint or run.checkpoint)).expect_partial()
    return model


@pytest.mark.parametrize("change, named", [(["--g-filters", "8"], "g-filters"),
                                           (["--latent-dim", "6"], "latent-dim"),
                                           (["--freeze-d", "99"], "--freeze-d 99")])
def test_mismatched_networks_are_usage_errors(source_run, tmp_path, change, named):
    args = [*TINY, "--init-from", source_run, *change, "--out", tmp_path / "bad"]
    code, err = invoke(["train", *args])
    assert code == 2 and named in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("Error")]) == 1


def test_init_from_a_missing_run_is_a_usage_error(tmp_path):
    code, err = invoke(["train", *TINY, "--init-from", tmp_path / "nowhere",
                        "--out", tmp_path / "r"])
    assert code == 2 and "nowhere" in err
