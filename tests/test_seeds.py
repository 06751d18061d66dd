"""The seeds' networks as recipes (examples/seeds/, --arch layers): parameter counts equal the
tutorials', layer specs are checked field by field, and the three initialisation schemes."""

import numpy as np
import pytest

from gantool.config import TrainConfig, read_toml
from gantool.errors import UsageError
from gantool.models import build_models
from tests.conftest import EXAMPLES

SEEDS = EXAMPLES / "seeds"


def _counts(model):
    """(trainable, non-trainable) parameter counts, as Keras's summary prints them."""
    return (sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            sum(int(np.prod(w.shape)) for w in model.non_trainable_weights))


# Expected counts from the seeds' code: dense in*out + out (bias); conv k*k*in*out (+ out with
# bias); batch norm 4 * channels, half of it (moving mean and variance) non-trainable.
EXPECTED = {
    # 000 (TF1): G 100*128+128 = 12,928; 128*784+784 = 101,136 -> 114,064.
    #            D 784*128+128 = 100,480; 128*1+1 = 129 -> 100,609.
    "000_tf1_vanilla_mnist": ([28, 28, 1], (114_064, 0), (100_609, 0)),
    # 001 sine (PyTorch): G 2*16+16 = 48; 16*32+32 = 544; 32*2+2 = 66 -> 658.
    #   D 2*256+256 = 768; 256*128+128 = 32,896; 128*64+64 = 8,256; 64+1 = 65 -> 41,985.
    "001_torch_sine": ([2], (658, 0), (41_985, 0)),
    # 001 MNIST: G 100*256+256 = 25,856; 256*512+512 = 131,584; 512*1024+1024 = 525,312;
    #   1024*784+784 = 803,600 -> 1,486,352. D 784*1024+1024 = 803,840; 1024*512+512 = 524,800;
    #   512*256+256 = 131,328; 256+1 = 257 -> 1,460,225.
    "001_torch_mnist": ([28, 28, 1], (1_486_352, 0), (1_460_225, 0)),
    # 002 (Keras), as the seed's summaries print: G dense 100*12544+12544 = 1,266,944;
    #   BN 4*(256+128+64+32) = 1,920, 960 of it non-trainable; transposed convolutions without
    #   bias 5*5*256*128 = 819,200, 5*5*128*64 = 204,800, 5*5*64*32 = 51,200; conv 5*5*32*1 =
    #   800 -> 2,344,864 total, 2,343,904 trainable. D 5*5*1*64 = 1,600; 5*5*64*128 = 204,800;
    #   6272+1 = 6,273 -> 212,673.
    "002_keras_dcgan_mnist": ([28, 28, 1], (2_343_904, 960), (212_673, 0)),
    # 003 (MXNet): G 2*2+2 = 6. D 2*5+5 = 15; 5*3+3 = 18; 3*2+2 = 8 -> 41 (its Dense(2)
    #   softmax scores kept; two_class_logit has no parameters).
    "003_mxnet_gaussian": ([2], (6, 0), (41, 0)),
    # 004 (TF1): G 100*8192+8192 = 827,392; 5*5*512*256+256 = 3,277,056; 5*5*256*128+128 =
    #   819,328; 5*5*128*3+3 = 9,603; BN gammas+betas 2*(512+256+128) = 1,792 -> 4,935,171
    #   trainable, moving statistics 1,792 non-trainable.
    #   D 5*5*3*64+64 = 4,864; 5*5*64*128+128 = 204,928; 5*5*128*256+256 = 819,456;
    #   4096+1 = 4,097; BN 2*(128+256) = 768 -> 1,034,113 trainable, 768 non-trainable.
    "004_tf1_dcgan_svhn": ([32, 32, 3], (4_935_171, 1_792), (1_034_113, 768)),
}


def test_every_seed_recipe_is_counted():
    assert {p.stem for p in SEEDS.glob("*.toml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_networks_have_the_tutorials_parameter_counts(name):
    data_shape, g_counts, d_counts = EXPECTED[name]
    path = SEEDS / f"{name}.toml"
    config = TrainConfig.from_dict({**read_toml(path), "data_shape": data_shape},
                                   source=str(path))
    generator, discriminator = build_models(config)
    assert _counts(generator) == g_counts
    assert _counts(discriminator) == d_counts
    assert tuple(generator.output_shape[1:]) == tuple(data_shape)
    assert tuple(discriminator.output_shape[1:]) == (1,)


def test_seed_002_counts_are_the_printed_ones():
    generator, discriminator = build_models(TrainConfig.from_dict(
        {**read_toml(SEEDS / "002_keras_dcgan_mnist.toml"), "data_shape": [28, 28, 1]}))
    assert generator.count_params() == 2_344_864
    assert discriminator.count_params() == 212_673


def test_two_class_logit_is_the_softmax_score_difference():
    config = TrainConfig.from_dict({**read_toml(SEEDS / "003_mxnet_gaussian.toml"),
                                    "data_shape": [2]})
    _, discriminator = build_models(config)
    x = np.random.default_rng(0).standard_normal((5, 2)).astype("float32")
    scores = discriminator.get_layer("d5_dense")(discriminator.get_layer("d4_tanh")(
        discriminator.get_layer("d3_dense")(discriminator.get_layer("d2_tanh")(
            discriminator.get_layer("d1_dense")(x)))))
    np.testing.assert_allclose(discriminator(x).numpy(),
                               scores.numpy()[:, 1:] - scores.numpy()[:, :1], atol=1e-6)


# --- the spec is checked when the config is made -----------------------------------------------

G_OK = [{"type": "dense", "units": 8}, {"type": "relu"}, {"type": "to_data"}]


def _config(generator=G_OK, **values):
    return TrainConfig.from_dict({"arch": "layers", "generator": generator, **values},
                                 source="recipe.toml")


@pytest.mark.parametrize("layer,expected", [
    ({"type": "conv_transpose", "filters": 8, "kernel": 5, "stride": 0},
     "generator layer 2 (conv_transpose): stride 0 is not accepted; expected a whole number"),
    ({"type": "conv", "filters": 8, "kernel": 3, "strides": 2},
     "generator layer 2 (conv): unknown field 'strides'; conv takes filters, kernel, stride"),
    ({"type": "dense"}, "generator layer 2 (dense): field 'units' is missing"),
    ({"type": "dense", "units": "128"}, "generator layer 2 (dense): units '128' is not accepted"),
    ({"type": "leaky_relu", "slope": -1.0}, "generator layer 2 (leaky_relu): slope -1.0"),
    ({"type": "dropout", "rate": 1.0}, "generator layer 2 (dropout): rate 1.0 is not accepted"),
    ({"type": "conv", "filters": 8, "kernel": 3, "padding": "full"},
     "generator layer 2 (conv): padding 'full' is not accepted; expected one of same, valid"),
    ({"type": "dense2"}, "generator layer 2: type 'dense2' is not accepted; expected one of"),
])
def test_a_bad_field_names_the_layer_and_the_field(layer, expected):
    with pytest.raises(UsageError, match="^recipe.toml: ") as error:
        _config([G_OK[0], layer, *G_OK[1:]])
    assert expected in str(error.value)


@pytest.mark.parametrize("value", [[], {"type": "dense"}, [3], "[{type = 'dense'"])
def test_the_spec_must_be_a_list_of_tables(value):
    with pytest.raises(UsageError, match="generator"):
        _config(value)


def test_the_spec_is_normalised_and_survives_config_json():
    config = _config(discriminator='[{type = "flatten"}, {type = "dense", units = 1}]')
    assert config.generator[0] == {"type": "dense", "units": 8, "bias": True}
    assert config.discriminator[1] == {"type": "dense", "units": 1, "bias": True}
    assert TrainConfig.from_saved(config.to_dict()).to_dict() == config.to_dict()


def test_a_bad_spec_is_exit_code_2_before_training(tmp_path, capsys):
    from gantool.cli import main

    recipe = tmp_path / "bad.toml"
    recipe.write_text('arch = "layers"\ndataset = "sine"\n[[generator]]\ntype = "dense"\n'
                      'units = 2\n[[generator]]\ntype = "conv"\nfilters = 1\nkernel = 0\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(recipe), "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "generator layer 2 (conv): kernel 0 is not accepted" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("generator,discriminator,expected", [
    ([{"type": "dense", "units": 3}], None, "the generator must end in the data's shape (N, 2)"),
    (G_OK, [{"type": "dense", "units": 4}], "discriminator must end in one logit per sample"),
    (G_OK, [{"type": "conv", "filters": 4, "kernel": 3}, {"type": "dense", "units": 1}],
     "discriminator layer 1 (conv) cannot take input of shape (N, 2)"),
])
def test_shapes_that_do_not_fit_are_usage_errors(generator, discriminator, expected):
    values = {"discriminator": discriminator} if discriminator else {}
    with pytest.raises(UsageError) as error:
        build_models(_config(generator, data_shape=[2], **values))
    assert expected in str(error.value)


def test_conditional_pack_and_spectral_norm():
    import keras

    config = _config(data_shape=[2], conditional=True, num_classes=3, spectral_norm=True)
    generator, discriminator = build_models(config)
    labels = np.array([0, 1, 2], np.int32)
    fake = generator([np.zeros((3, 100), np.float32), labels])
    assert discriminator([fake.numpy(), labels]).shape == (3, 1)
    assert any(isinstance(layer, keras.layers.SpectralNormalization)
               for layer in discriminator.layers)
    _, packed = build_models(_config(data_shape=[2], pack=2, batch_size=8))
    assert packed.input_shape == (None, 4)
    with pytest.raises(UsageError, match="must be dense with units = 1"):
        build_models(_config(data_shape=[2], conditional=True, num_classes=3,
                             discriminator=[{"type": "dense", "units": 1}, {"type": "tanh"}]))


# --- initialisation schemes --------------------------------------------------------------------

# G: (N, 64) -> dense 1024 (kernel 64 x 1024) -> (4, 4, 64) -> BN 64 -> transposed conv 32, 4x4,
# stride 2 (kernel (4, 4, 32, 64): fan-in 4*4*32 = 512, fan-out 4*4*64 = 1024) -> (8, 8, 32).
# D: conv 128, 3x3 on 32 channels (fan-in 288, fan-out 1152) -> BN 128 -> flatten -> dense 1.
INIT_G = [{"type": "dense", "units": 1024}, {"type": "reshape", "shape": [4, 4, 64]},
          {"type": "batch_norm"}, {"type": "conv_transpose", "filters": 32, "kernel": 4,
                                   "stride": 2}]
INIT_D = [{"type": "conv", "filters": 128, "kernel": 3}, {"type": "batch_norm"},
          {"type": "flatten"}, {"type": "dense", "units": 1}]


def _init_models(init, seed=0):
    return build_models(_config(INIT_G, discriminator=INIT_D, init=init, seed=seed,
                                latent_dim=64, data_shape=[8, 8, 32]))


def _weights(models, kind, name):
    return [getattr(layer, name).numpy() for model in models for layer in model.layers
            if type(layer).__name__ == kind]


def test_glorot_uniform_is_tensorflow_1s_default():
    models = _init_models("glorot-uniform")
    (dense, _), (transposed,) = _weights(models, "Dense", "kernel"), _weights(
        models, "Conv2DTranspose", "kernel")
    for kernel, fans in ((dense, 64 + 1024), (transposed, 512 + 1024)):
        bound = np.sqrt(6 / fans)
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
        assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    for kind, name in (("Dense", "bias"), ("Conv2D", "bias"), ("BatchNormalization", "beta")):
        assert not any(np.any(w) for w in _weights(models, kind, name))
    assert all(np.all(g == 1) for g in _weights(models, "BatchNormalization", "gamma"))


def test_torch_is_pytorchs_default():
    models = _init_models("torch")
    for kind, fan_in in (("Dense", 64), ("Conv2DTranspose", 512), ("Conv2D", 288)):
        kernel, bias = _weights(models, kind, "kernel")[0], _weights(models, kind, "bias")[0]
        bound = 1 / np.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and the bias's bound
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
        assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
        assert np.abs(bias).max() <= bound and np.abs(bias).max() > 0.5 * bound
    assert all(np.all(g == 1) for g in _weights(models, "BatchNormalization", "gamma"))
    assert not any(np.any(b) for b in _weights(models, "BatchNormalization", "beta"))


def test_dcgan_is_the_papers():
    models = _init_models("dcgan")
    kernels = np.concatenate([w.ravel() for kind in ("Dense", "Conv2D", "Conv2DTranspose")
                              for w in _weights(models, kind, "kernel")])
    assert kernels.std() == pytest.approx(0.02, rel=0.03) and abs(kernels.mean()) < 1e-3
    gammas = np.concatenate(_weights(models, "BatchNormalization", "gamma"))
    assert gammas.mean() == pytest.approx(1, abs=0.01) and gammas.std() == pytest.approx(
        0.02, rel=0.25)
    assert not any(np.any(b) for b in _weights(models, "Dense", "bias"))


def test_initialisation_follows_the_seed_and_the_schemes_agree():
    from gantool.cli.train import train
    from gantool.models import layers
    from gantool.training.build import validate_step

    choices = next(p for p in train.params if p.name == "init").type.choices
    assert tuple(choices) == layers.INIT_SCHEMES
    first, again, other = (_init_models("torch", seed)[0].get_weights() for seed in (1, 1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    with pytest.raises(UsageError, match="^unknown init 'he'; choose one of: dcgan, "):
        validate_step(_config(init="he"))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_every_architecture_takes_init(arch):
    """--init is common: glorot-uniform gives batch-norm gamma 1 and kernels within Glorot's
    bound; the default (dcgan) keeps the builders' own N(0, 0.02) draws."""
    own = ({"g_hidden": [16], "d_hidden": [16]} if arch == "mlp"
           else {"g_filters": 4, "d_filters": 4})
    config = TrainConfig.create(arch=arch, data_shape=[16, 16, 1], latent_dim=8, **own)
    import keras

    keras.utils.set_random_seed(0)  # mlp and dcgan draw dcgan weights from the global seed
    default = build_models(config)
    keras.utils.set_random_seed(0)
    again = build_models(config)
    assert all(np.array_equal(a, b) for a, b in zip(default[0].get_weights(),
                                                    again[0].get_weights()))
    glorot = build_models(config.replace(init="glorot-uniform"))
    for model in glorot:
        for layer in model.layers:
            if type(layer).__name__ == "BatchNormalization":
                assert np.all(layer.gamma.numpy() == 1)
            elif getattr(layer, "kernel", None) is not None:
                shape = layer.kernel.shape
                receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
                bound = np.sqrt(6 / (receptive * (shape[-2] + shape[-1])))
                assert np.abs(layer.kernel.numpy()).max() <= bound + 1e-7
    kernels = [w for w in default[0].get_weights() if w.ndim > 1]
    assert np.concatenate([k.ravel() for k in kernels]).std() == pytest.approx(0.02, rel=0.1)


# update, g_latents, init, adam_epsilon and sample_every_steps as each seed's code does them
SEED_TRAINING = {
    "000_tf1_vanilla_mnist": ("alternating", "same", "glorot-uniform", 1e-8, None),
    "001_torch_sine": ("alternating", "fresh", "torch", 1e-8, None),
    "001_torch_mnist": ("alternating", "fresh", "torch", 1e-8, None),
    "002_keras_dcgan_mnist": ("alternating", "fresh", "dcgan", 1e-7, None),
    "003_mxnet_gaussian": ("alternating", "same", "dcgan", 1e-8, None),
    "004_tf1_dcgan_svhn": ("simultaneous", "fresh", "glorot-uniform", 1e-8, 100),
}


@pytest.mark.parametrize("name", sorted(SEED_TRAINING))
def test_seed_recipes_train_as_their_seeds(name):
    from gantool.training.build import validate_step

    path = SEEDS / f"{name}.toml"
    config = TrainConfig.from_dict(read_toml(path), source=str(path))
    validate_step(config)
    assert (config.update, config.g_latents, config.init, config.adam_epsilon,
            config.sample_every_steps) == SEED_TRAINING[name]
    assert "TODO" not in path.read_text()


# --- --summary, --dry-run summaries, --sample-every-steps ---------------------------------------


def test_summary_prints_both_networks_and_writes_nothing(tmp_path, capsys):
    from gantool.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(SEEDS / "001_torch_sine.toml"), "--summary",
              "--out", str(tmp_path / "run")])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert 'Model: "generator"' in out and 'Model: "discriminator"' in out
    assert "Total params: 658" in out and "Total params: 41,985" in out
    assert out.count("Non-trainable params: 0") == 2
    assert not (tmp_path / "run").exists()


def test_sample_every_steps_writes_step_grids_that_the_gif_uses(tmp_path, capsys):
    from gantool import animation
    from gantool.cli import main

    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--arch", "mlp", "--dataset", "ring", "--g-hidden", "8", "--d-hidden", "8",
              "--latent-dim", "2", "--batch-size", "8", "--steps-per-epoch", "3", "--epochs",
              "2", "--sample-every-steps", "2", "--no-tensorboard", "--quiet", "--dry-run",
              "--out", str(run_dir)])
    assert exit_info.value.code in (0, None)
    assert "Total params" in capsys.readouterr().out  # --dry-run prints the summaries
    names = sorted(p.name for p in (run_dir / "samples").glob("step_*"))
    # --dry-run: 2 epochs of 2 steps; every 2 steps: after steps 2 and 4
    assert names == ["step_0000002.npy", "step_0000002.png", "step_0000004.npy",
                     "step_0000004.png"]
    assert [t for t, _ in animation.sample_epochs(run_dir)] == ["step 2", "step 4"]
