"""Discriminator gradient penalties, per example, differentiable w.r.t. the discriminator.

Both functions return per-example values of shape (N,) (float32) so the train step reduces
them like the losses, over the *global* batch with ``tf.nn.compute_average_loss``. They take
the input gradient with an inner ``tf.GradientTape``; called inside the step's outer tape, the
outer tape records that computation too, so ``outer.gradient(d_loss + weight * penalty,
discriminator.trainable_variables)`` includes the penalty's (second-order) gradient. They work
in a ``tf.distribute`` replica context (each replica penalises its own examples) and in
``tf.function``.

Assumptions, as in the papers: the discriminator treats examples independently (no batch norm
in training mode, which mixes examples and also updates its moving statistics on these extra
calls; layer norm or spectral norm is fine), so the gradient of the summed outputs w.r.t. the
batch is each example's own input gradient. The discriminator is called with
``training=True``; dropout then draws masks independently of the main pass.

This module must not import TensorFlow at import time (TensorFlow is imported inside).
"""

# Added under the square root of the squared norm: keeps the norm's gradient finite where the
# input gradient is exactly 0 (d||g||/dg is undefined there), changing values negligibly.
NORM_EPSILON = 1e-12


def interpolation_alpha(real, seed):
    """Per-example interpolation weights U[0, 1) of shape (N, 1, ..., 1) (rank of ``real``),
    drawn statelessly from ``seed`` (a shape-[2] int tensor) for :func:`gradient_penalty`."""
    import tensorflow as tf

    real = tf.convert_to_tensor(real)
    shape = tf.concat([tf.shape(real)[:1], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
    return tf.random.stateless_uniform(shape, seed=seed, dtype=tf.float32)


def _input_gradients(discriminator, x):
    """Per-example squared L2 norm of d D(x) / d x over all non-batch axes, shape (N,)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = tf.cast(discriminator(x, training=True), tf.float32)
    # D scores each example independently, so d(sum of outputs)/dx is each example's gradient.
    grads = tape.gradient(outputs, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grads = tf.cast(grads, tf.float32)
    rank = grads.shape.rank
    axes = list(range(1, rank)) if rank is not None else tf.range(1, tf.rank(grads))
    return tf.reduce_sum(tf.square(grads), axis=axes)


def gradient_penalty(discriminator, real, fake, alpha):
    """WGAN-GP penalty (Gulrajani et al. 2017): per-example ``(||grad_x̂ D(x̂)||_2 - 1)^2``.

    ``x̂ = alpha * real + (1 - alpha) * fake``, with ``alpha`` uniform on [0, 1] per example,
    shape (N, 1, ..., 1) (see :func:`interpolation_alpha`; passed in so the step draws it
    statelessly). Returns shape (N,), float32. The interpolates are treated as constants
    (no gradient flows to the generator): the penalty is a term of the D loss only; the caller
    multiplies it by lambda (``recommended["gp_weight"]``, 10 in the paper).
    """
    import tensorflow as tf

    real = tf.convert_to_tensor(real)
    fake = tf.cast(fake, real.dtype)
    alpha = tf.cast(alpha, real.dtype)
    interpolates = tf.stop_gradient(alpha * real + (1.0 - alpha) * fake)
    norms = tf.sqrt(_input_gradients(discriminator, interpolates) + NORM_EPSILON)
    return tf.square(norms - 1.0)


def r1_penalty(discriminator, real):
    """R1 penalty (Mescheder et al. 2018): per-example ``||grad_x D(x)||_2^2`` on real data.

    Returns shape (N,), float32; the caller multiplies it by ``gamma / 2``.
    """
    import tensorflow as tf

    real = tf.stop_gradient(tf.convert_to_tensor(real))
    return _input_gradients(discriminator, real)


def r2_penalty(discriminator, fake):
    """R2 penalty (Mescheder et al. 2018; with R1, R3GAN's): per-example ``||grad_x D(x)||_2^2``
    on generated samples ``fake`` (N, ...), held constant (``stop_gradient``: a D-only term).

    Returns shape (N,), float32; the caller multiplies it by ``gamma / 2``.
    """
    import tensorflow as tf

    fake = tf.stop_gradient(tf.convert_to_tensor(fake))
    return _input_gradients(discriminator, fake)
