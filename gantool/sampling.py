"""Load a run directory back and draw samples from its generator."""

import numpy as np

from gantool import sample_output
from gantool.errors import UsageError

GRID_SUFFIXES = sample_output.GRID_SUFFIXES
LATENT_BLOCK = 4096  # --n latents are drawn in blocks of this many, whatever the batch size


def draw_latents(n, latent_dim, distribution="normal", seed=0):
    """(n, latent_dim) float32 latents from N(0, 1) or U(-1, 1), reproducible from ``seed``."""
    return _draw(np.random.default_rng(seed), (n, latent_dim), distribution)


def _draw(rng, shape, distribution):
    if distribution == "normal":
        return rng.standard_normal(shape).astype(np.float32)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    raise UsageError(f"unknown latent distribution {distribution!r}; choose normal or uniform")


def truncate(latents, rng, distribution="normal", psi=None):
    """The truncation trick, in place: components of ``latents`` outside [-psi, psi] are redrawn
    from ``rng`` until inside (for U(-1, 1) latents this gives U(-psi, psi)). None: unchanged."""
    if psi is None:
        return latents
    outside = np.abs(latents) > psi
    while outside.any():
        latents[outside] = _draw(rng, int(outside.sum()), distribution)
        outside = np.abs(latents) > psi
    return latents


def seed_latents(seeds, latent_dim, distribution="normal", truncation=None):
    """(len(seeds), latent_dim) float32: latent i drawn (and truncated) from its own
    ``default_rng(seeds[i])``, so one seed always gives one image whatever else is drawn."""
    latents = np.empty((len(seeds), latent_dim), np.float32)
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng(int(seed))
        latents[i] = truncate(_draw(rng, (latent_dim,), distribution), rng, distribution,
                              truncation)
    return latents


def iter_latents(n, latent_dim, distribution="normal", seed=0, seeds=None, truncation=None,
                 batch_size=500):
    """Yield ``(start, latents)`` batches (at most ``batch_size``, latent_dim) covering ``n``
    latents (or one per entry of ``seeds``), identical whatever ``batch_size``.

    Without seeds and truncation the stream equals :func:`draw_latents` ``(n, ..., seed)``;
    truncation redraws within blocks of :data:`LATENT_BLOCK` from the same generator.
    """
    if seeds is not None:
        for start in range(0, len(seeds), batch_size):
            yield start, seed_latents(seeds[start:start + batch_size], latent_dim, distribution,
                                      truncation)
        return
    rng = np.random.default_rng(seed)
    buffer, drawn, start = np.zeros((0, latent_dim), np.float32), 0, 0
    while start < n:
        size = min(batch_size, n - start)
        while len(buffer) < size:
            block = _draw(rng, (min(LATENT_BLOCK, n - drawn), latent_dim), distribution)
            drawn += len(block)
            buffer = np.concatenate([buffer, truncate(block, rng, distribution, truncation)])
        yield start, buffer[:size]
        buffer, start = buffer[size:], start + size


def random_latents(n, latent_dim, distribution="normal", seed=0, seeds=None, truncation=None):
    """All of :func:`iter_latents` at once: (n or len(seeds), latent_dim) float32."""
    return np.concatenate([z for _, z in iter_latents(n, latent_dim, distribution, seed, seeds,
                                                      truncation, batch_size=LATENT_BLOCK)])


def slerp(a, b, t):
    """Spherical interpolation between latents ``a`` and ``b`` (D,) at ``t`` (T,) -> (T, D)."""
    a, b, t = np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(t)[:, None]
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    mixed = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    return mixed.astype(np.float32)


def class_rows(n, num_classes):
    """Labels (n,) for a grid with one row per class, and the grid's column count."""
    columns = max(1, n // num_classes)
    return (np.arange(n) // columns % num_classes).astype(np.int32), columns


def generate(generator, latents, labels=None, batch_size=500):
    """Run the generator in inference mode over latents (N, latent_dim) -> float32 (N, ...).

    A conditional generator also takes int32 class ids (N,); without them it gets a balanced
    mix of classes. Batches go through one traced function per generator (see
    :func:`inference_function`).
    """
    conditional = len(generator.inputs) == 2
    if conditional and labels is None:
        embedding = generator.get_layer("label_embedding")
        labels = (np.arange(len(latents)) % embedding.input_dim).astype(np.int32)
    run = inference_function(generator)
    outputs = []
    for i in range(0, len(latents), batch_size):
        inputs = (latents[i:i + batch_size],)
        if conditional:
            inputs += (labels[i:i + batch_size],)
        outputs.append(run(*inputs).numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)


def inference_function(generator):
    """``generator(inputs, training=False)`` as a ``tf.function`` traced once for any batch size
    (cached per generator; it reads the variables, so later weight changes are seen).

    One trace serves every batch size and every call (sample grids each epoch, eval's chunks).
    At batches of 500 on a CPU it is as fast as calling the model eagerly
    (benchmarks/step_profile.py, section 4); it saves Python dispatch per layer on small batches.
    """
    run = getattr(generator, "_gantool_inference", None)
    if run is None:
        import tensorflow as tf

        signature = [tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype)
                     for tensor in generator.inputs]

        def forward(*inputs):
            outputs = generator(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
            return tf.cast(outputs, tf.float32)

        run = tf.function(forward, input_signature=signature)
        generator._gantool_inference = run
    return run


def uses_ema(config, ema=None):
    """The one rule for which weights are sampled: a run trained with ``--ema`` or
    ``--ema-kimg`` is sampled with its moving-average weights unless ``ema`` is False; other
    runs with their live weights."""
    return bool(config.ema or config.ema_kimg) and ema is not False


class SamplingGenerator:
    """The generator that sampling sees during training (sample grids, ``--eval-every``).

    Calling it returns a model with the weights :func:`uses_ema` chooses: ``generator`` itself,
    or a clone holding the moving averages that ``g_optimizer`` (built with ``use_ema``) keeps,
    refreshed at each call so that training is untouched.
    """

    def __init__(self, generator, g_optimizer, config, ema=None):
        self.generator = generator
        self.g_optimizer = g_optimizer
        self.use_ema = uses_ema(config, ema)
        self._clone = None

    def __call__(self):
        if not self.use_ema:
            return self.generator
        if self._clone is None:
            import keras

            self._clone = keras.models.clone_model(self.generator)
        return copy_ema_weights(self.generator, self.g_optimizer, self._clone)


def copy_ema_weights(generator, optimizer, target):
    """Load ``generator``'s weights into ``target`` (a same-architecture model), then replace its
    trainable weights by the moving averages kept by ``optimizer`` (built with ``use_ema``)."""
    target.set_weights(generator.get_weights())
    # Read the averages rather than call optimizer.finalize_variable_values(target...): under
    # tf.distribute that assigns through the strategy, which refuses the clone's plain variables.
    averages = dict(zip(map(id, optimizer._trainable_variables),
                        optimizer._model_variables_moving_average))
    for live, copy in zip(generator.trainable_variables, target.trainable_variables):
        copy.assign(np.asarray(averages[id(live)]))
    return target


def to_uint8(images):
    """Model-range images in [-1, 1] -> uint8 in [0, 255]."""
    return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def load_generator(run, ema=None):
    """Rebuild the generator of ``run`` (a :class:`~gantool.rundir.Run`) from its config and load
    its checkpoint's weights: the moving averages where :func:`uses_ema` says so."""
    from gantool.models import ARCHITECTURES
    config = run.config
    generator = ARCHITECTURES.get(config.arch).build_generator(config, tuple(config.data_shape))
    optimizer = None
    if uses_ema(config, ema):
        import keras

        optimizer = keras.optimizers.Adam(use_ema=True, ema_momentum=config.ema or 0.99)
        optimizer.build(generator.trainable_variables)
    restore_generator(generator, run.checkpoint, optimizer)
    if optimizer is not None:
        optimizer.finalize_variable_values(generator.trainable_variables)
    return generator


def restore_generator(generator, prefix, g_optimizer=None):
    """Load the generator's weights (and, if given, its optimizer, e.g. for the EMA weights)
    from checkpoint ``prefix``, or the newest intact one before it where it is damaged."""
    import tensorflow as tf

    from gantool.training.checkpoints import newest_intact

    prefix = newest_intact(prefix)  # a damaged one: the newest intact one before it, warned
    parts = {"generator": generator}
    if g_optimizer is not None:
        parts["g_optimizer"] = g_optimizer
    try:
        status = tf.train.Checkpoint(**parts).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise UsageError(f"checkpoint {prefix} does not fit the generator described by the run's "
                         f"config.json (another architecture?): {str(e).splitlines()[0]}") from None


def sample(run, n=64, seed=0, out="samples.png", batch_size=500, class_id=None, ema=None,
           seeds=None, truncation=None, scale=None, progress=False):
    """Draw ``n`` samples (or one per entry of ``seeds``) from ``run`` (a
    :class:`~gantool.rundir.Run`) and write them to ``out``; returns the written paths.

    ``out`` ending in .png/.jpg: one grid image, upscaled by ``scale`` (None: at least 512
    pixels wide; 2-D data: a scatter over real points); ``.npy``: uint8 images (N, H, W, C) or
    float32 points (N, 2), streamed batch by batch, plus a scatter PNG for points; anything
    else: a folder of numbered PNGs (2-D data: points.npy and scatter.png in it). See
    :mod:`gantool.sample_output` for the checks made before generating. ``truncation``: latent
    components outside [-PSI, PSI] are redrawn (:func:`truncate`). Conditional runs:
    ``class_id`` draws that class only; otherwise one grid row per class. Batches of
    ``batch_size`` do not change the images.
    """
    n = len(seeds) if seeds is not None else n
    if n < 1:
        raise UsageError(f"--n must be at least 1, got {n}")
    config = run.config
    labels_for, columns = _labels(config, n, class_id)
    target = sample_output.plan(out, n, config, run.path, columns, scale)
    generator = load_generator(run, ema=ema)

    def batches():
        for start, latents in iter_latents(n, config.latent_dim, config.latent_dist, seed,
                                           seeds, truncation, batch_size):
            outputs = generate(generator, latents, labels_for(start, len(latents)), batch_size)
            yield outputs if config.data_kind == "points" else to_uint8(outputs)

    return sample_output.write(target, batches(), progress=progress and n > batch_size)


def _labels(config, n, class_id):
    """``(labels_for, columns)``: ``labels_for(start, size)`` gives the int32 class ids of
    samples ``start..start+size`` (None for unconditional runs); ``columns`` of a grid."""
    if not config.conditional:
        if class_id is not None:
            raise UsageError("--class needs a run trained with --conditional")
        return (lambda start, size: None), None
    if class_id is not None:
        if not 0 <= class_id < config.num_classes:
            raise UsageError(f"--class {class_id} is out of range; this run has classes "
                             f"0..{config.num_classes - 1}")
        return (lambda start, size: np.full(size, class_id, np.int32)), None
    columns = max(1, n // config.num_classes)  # as class_rows(n, num_classes)

    def labels_for(start, size):  # class_rows' labels, one batch at a time
        return (np.arange(start, start + size) // columns % config.num_classes).astype(np.int32)

    return labels_for, columns
