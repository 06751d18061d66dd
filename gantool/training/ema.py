"""``--ema-kimg``: the generator's moving average with a half-life in images (StyleGAN2-ADA's
``ema_kimg``, with its ramp-up), instead of ``--ema``'s fixed decay.

Keras's optimizer keeps the average (``use_ema``) with ``ema_momentum``, a Python float baked
into the traced step. :class:`HalfLifeEmaAdam` computes the decay inside the step from the
optimizer's own update counter instead, so it changes over training, is the same on every
replica and on resume (no extra state), and the averages stay where Keras keeps them (the
optimizer's ``average`` slots), so checkpoints and :func:`gantool.sampling.load_generator`
find them as with ``--ema``.
"""

import keras
import tensorflow as tf

DEFAULT_RAMPUP = 0.05  # StyleGAN2-ADA's ema_rampup


def half_life_decay(updates, images_per_update, half_life_kimg, rampup):
    """The EMA decay of G's update number ``updates`` (0-based: updates done before it), as a
    float32 tensor in [0, 1): ``0.5 ** (images_per_update / half_life)`` where the half-life in
    images is ``half_life_kimg * 1000``, or with ``rampup`` > 0 at most ``images seen * rampup``
    (images seen = ``updates * images_per_update``). Works on scalars or arrays of ``updates``."""
    images = tf.constant(float(images_per_update), tf.float32)
    half_life = tf.constant(half_life_kimg * 1000.0, tf.float32)
    if rampup:
        seen = tf.cast(updates, tf.float32) * images
        half_life = tf.minimum(half_life, seen * rampup)
    return tf.pow(tf.constant(0.5, tf.float32), images / tf.maximum(half_life, 1e-8))


class HalfLifeEmaAdam(keras.optimizers.Adam):
    """Adam keeping the moving average of the weights it updates with the decay of
    :func:`half_life_decay` at each update (``images_per_update``: G's global batch)."""

    def __init__(self, *args, half_life_kimg, images_per_update, rampup=DEFAULT_RAMPUP,
                 **kwargs):
        super().__init__(*args, use_ema=True, **kwargs)
        self.half_life_kimg = float(half_life_kimg)
        self.images_per_update = int(images_per_update)
        self.rampup = float(rampup)

    def ema_decay(self):
        """This update's decay (float32 scalar tensor), from ``self.iterations``."""
        return half_life_decay(self.iterations, self.images_per_update, self.half_life_kimg,
                               self.rampup)

    def _update_model_variables_moving_average(self, trainable_variables):
        # Keras's own update (keras/src/optimizers/base_optimizer.py), with this decay
        decay = self.ema_decay()
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                not_first_step = tf.cast(tf.not_equal(self.iterations, 0), var.dtype)
                momentum = not_first_step * tf.cast(decay, var.dtype)
                average.assign(momentum * average + (1 - momentum) * var)

    def get_config(self):
        return {**super().get_config(), "half_life_kimg": self.half_life_kimg,
                "images_per_update": self.images_per_update, "rampup": self.rampup}


def short_run_warning(decay, g_updates):
    """A one-line warning (or None) when ``--ema DECAY`` averages over more G updates than the
    run makes: Keras's average starts from the initial weights, which then keep a weight of
    ``decay ** g_updates`` in it (0.999 over 600 updates: 55%), and samples look untrained."""
    if not decay or not g_updates:
        return None
    kept = decay ** g_updates
    if kept < 0.05:
        return None
    return (f"warning: --ema {decay:g} averages over about {1 / (1 - decay):.0f} generator updates "
            f"and this run makes {g_updates}: the initial weights keep {100 * kept:.0f}% of the "
            "average; use a smaller decay, or --ema-kimg K (its ramp-up starts the average short)")
