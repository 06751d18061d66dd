"""Scores during training (``--eval-every``): a Keras callback that evaluates the generator
that sampling sees, i.e. the moving-average weights when the run trains with ``--ema``."""

import math

import keras

from gantool.errors import UsageError
from gantool.evaluation import extraction
from gantool.evaluation.generation import generate_images, generate_points
from gantool.evaluation.metric_names import DEFAULT_EVAL_N, check_count, check_n, parse_metrics
from gantool.evaluation.options import EvalOptions, Reference
from gantool.evaluation.reference import real_features
from gantool.evaluation.scoring import score_features, score_points


class Evaluator(keras.callbacks.Callback):
    """Scores ``sampler()`` every ``config.eval_every`` epochs (and after the last one).

    state: the training state (``epochs``, ``interrupted``, ``epoch_extras``). config: the
    run's TrainConfig with ``data_kind`` set. sampler: a
    :class:`~gantool.sampling.SamplingGenerator`, called at each evaluation for the model to
    score. ``config.eval_n`` samples per evaluation (default 500 images / 2500 points), from
    fixed latents drawn from ``config.seed + 2``. Images: FID against up to as many real
    images of the run's dataset (split "test", else train), whose features are computed (or
    read from the cache) in :meth:`prepare`, called by ``on_train_begin``; missing Inception
    weights raise WeightsUnavailable there. ring/grid: the mode metrics of the points. Scores
    go to ``state.epoch_extras[epoch]`` (1-based) as ``eval_fid`` (>= 0) or ``eval_modes``
    (0..M), ``eval_hq_pct`` (0..100), ``eval_reverse_kl`` (>= 0, inf without high-quality
    points), plus ``eval_n``, and into the epoch ``logs``. Put it before the callback that
    writes ``metrics.csv``, so that its ``on_epoch_end`` finds the scores.
    """

    def __init__(self, state, config, sampler, progress=True):
        super().__init__()
        every = config.eval_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UsageError(f"--eval-every must be a whole number >= 1, got {every!r}")
        if config.data_kind not in DEFAULT_EVAL_N:
            raise ValueError(f"config.data_kind must be 'image' or 'points', got "
                             f"{config.data_kind!r} (set it from the loaded data first)")
        self.state = state
        self.config = config
        self.sampler = sampler
        self.kind = config.data_kind
        self.metrics = ("fid",) if self.kind == "image" else parse_metrics(
            "auto", self.kind, config.dataset)
        self.every = every
        self.n = DEFAULT_EVAL_N[self.kind] if config.eval_n is None else config.eval_n
        check_n(self.n, self.metrics, "--eval-n")
        self.options = EvalOptions(metrics=self.metrics, n=self.n, seed=config.seed + 2,
                                   inception_weights=config.inception_weights,
                                   progress=progress)
        self.real = None
        self.weights = None
        self.history = []  # (epoch, scores) pairs
        if getattr(state, "epoch_extras", None) is None:
            state.epoch_extras = {}

    def on_train_begin(self, logs=None):
        self.prepare()

    def prepare(self):
        """Resolve the Inception weights and compute (or read cached) real features; a
        no-op for toy runs and when done already. Call it early to fail before training."""
        if self.kind != "image" or self.real is not None:
            return
        self.weights = extraction.resolve(self.options.inception_weights)
        self.real, self.real_info = real_features(Reference.of_run(self.config), self.options,
                                                  self.weights)
        check_count(len(self.real), self.metrics, f"dataset {self.config.dataset!r}")

    def scores_for_epoch(self, epoch):
        """The ``eval_*`` scores of the sampled generator (``epoch`` is 1-based)."""
        generator = self.sampler()
        sample = dict(n=self.n, latent_dim=self.config.latent_dim,
                      latent_dist=self.config.latent_dist, seed=self.options.seed)
        if self.kind == "image":
            fake = extraction.extract_features(generate_images(generator, **sample),
                                               self.weights, self.options,
                                               f"eval features (epoch {epoch})")
            scores = {"eval_fid": score_features(self.real, fake, ("fid",))["fid"]}
        else:
            toy = score_points(generate_points(generator, **sample), self.config.dataset)
            kl = toy["reverse_kl"]
            scores = {"eval_modes": toy["modes_covered"], "eval_hq_pct": toy["high_quality_pct"],
                      "eval_reverse_kl": math.inf if kl is None else kl}
        return {**scores, "eval_n": self.n}

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if self.state.interrupted or (epoch % self.every and epoch != self.state.epochs):
            return
        scores = self.scores_for_epoch(epoch)
        self.state.epoch_extras[epoch] = scores
        self.history.append((epoch, scores))
        if logs is not None:
            logs.update(scores)
