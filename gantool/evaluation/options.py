"""What an evaluation is asked to do (:class:`EvalOptions`) and what it compares with
(:class:`Reference`): the values passed down, whole, from the entry points."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvalOptions:
    """The settings shared by ``gantool eval`` on a run, on samples, and ``--eval-every``.

    metrics: names for :func:`~gantool.evaluation.metric_names.parse_metrics` ("auto": all
    that apply). n: generated samples, and at most as many real images. real_split: the
    reference split ("train" where the dataset has no such split). seed: the latents' seed.
    inception_weights: a weights.npz path, None for the cached (or downloaded) copy.
    batch_size: images per Inception batch. progress: tqdm bars. use_cache / cache_dir: the
    real-feature cache (None: :func:`~gantool.evaluation.cache.default_cache_dir`).
    features: ``PATH.keras[:LAYER]``: score in that Keras classifier's feature space
    (:mod:`gantool.evaluation.classifier`) instead of FID Inception's; None: Inception.
    """

    metrics: str | tuple = "auto"
    n: int = 10000
    real_split: str = "test"
    seed: int = 0
    inception_weights: str | Path | None = None
    batch_size: int = 50
    progress: bool = True
    use_cache: bool = True
    cache_dir: str | Path | None = None
    features: str | None = None


@dataclass(frozen=True)
class Reference:
    """The real data that samples are compared with: a dataset spec and how to load it
    (``seed``: the loader's seed, e.g. the run's)."""

    dataset: str
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    seed: int = 0

    @classmethod
    def of_run(cls, config):
        """The dataset a run (its :class:`~gantool.config.TrainConfig`) was trained on."""
        return cls(config.dataset, config.data_dir, config.image_size, config.channels,
                   config.seed)
