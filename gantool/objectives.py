"""The D and G objectives of the train step (:mod:`gantool.gan`): losses, penalties, logs.

Per-example losses and penalties (shape (N,)) are reduced over the *global* batch with
``tf.nn.compute_average_loss``, so the summed replica gradients equal the single-device ones.
The penalties are taken on the inputs D saw (after augmentation, before packing): R1 on the
(augmented) reals, R2 on the (augmented) fakes, WGAN-GP on interpolates between the two.
"""

import tensorflow as tf

from gantool import penalties


def pack_samples(x, pack):
    """PacGAN packing: (N, ...) -> (N / pack, ...) with the ``pack`` samples of each group joined
    along the last axis (channels for images, coordinates for points)."""
    if pack == 1:
        return x
    shape = tf.shape(x)
    grouped = tf.reshape(x, tf.concat([[shape[0] // pack, pack], shape[1:]], axis=0))
    rank = len(x.shape)
    # (N/p, p, ..., C) -> (N/p, ..., p, C) -> (N/p, ..., p*C)
    perm = [0, *range(2, rank), 1, rank]
    moved = tf.transpose(grouped, perm)
    return tf.reshape(moved, tf.concat([[shape[0] // pack], shape[1:-1], [-1]], axis=0))


def global_average(gan, per_example):
    """Sum of ``per_example`` (N,) over this replica divided by the global batch size."""
    global_batch = tf.shape(per_example)[0] * gan.distribute_strategy.num_replicas_in_sync
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)


def penalty_judge(gan, labels):
    """D as a function of samples only (packing and labels applied), for the penalties."""

    def judge(x, training=True):
        x = pack_samples(x, gan.pack)
        inputs = [x, labels] if gan.conditional else x
        return tf.cast(gan.discriminator(inputs, training=training), tf.float32)

    return judge


def d_objective(gan, real, fake, labels, real_logits, fake_logits, alpha=None):
    """Per-example D loss (N,) (logged) and its global-batch reduction with the penalties
    (optimised). ``real``/``fake``: D's inputs (N, ...) (augmented); logits (N, 1)."""
    per_example = gan.gan_loss.d_loss(real_logits, fake_logits, gan.label_smoothing)
    total = global_average(gan, per_example)
    if not (gan.gp_weight or gan.r1_gamma or gan.r2_gamma):
        return per_example, total
    judge = penalty_judge(gan, labels)
    fake = tf.cast(fake, real.dtype)
    if gan.gp_weight:
        if alpha is None:
            alpha = penalties.interpolation_alpha(real, gan.penalty_seed())
        gp = penalties.gradient_penalty(judge, real, fake, alpha)
        total += gan.gp_weight * global_average(gan, gp)
    if gan.r1_gamma:
        total += 0.5 * gan.r1_gamma * global_average(gan, penalties.r1_penalty(judge, real))
    if gan.r2_gamma:
        total += 0.5 * gan.r2_gamma * global_average(gan, penalties.r2_penalty(judge, fake))
    return per_example, total


def g_objective(gan, fake_logits, real_logits=None):
    """Per-example G loss (N,) and its global-batch reduction; ``real_logits`` (N, 1): D on the
    paired reals, for relativistic losses."""
    if getattr(gan.gan_loss, "relativistic", False):
        per_example = gan.gan_loss.g_loss(fake_logits, real_logits)
    else:
        per_example = gan.gan_loss.g_loss(fake_logits)
    return per_example, global_average(gan, per_example)


def step_logs(gan, names, d_per_example, g_per_example, real_logits, fake_logits, extra=()):
    """Global means of the losses, of D's outputs and of D's accuracy on real and fake, as
    {name: scalar} for ``names``; ``extra``: further scalars, already global, appended."""
    probabilistic = getattr(gan.gan_loss, "probabilistic", True)
    threshold = getattr(gan.gan_loss, "output_threshold", 0.0)
    real_out, fake_out = tf.reshape(real_logits, [-1]), tf.reshape(fake_logits, [-1])
    if probabilistic and threshold == 0.0:  # logits: report probabilities
        real_out, fake_out, threshold = tf.sigmoid(real_out), tf.sigmoid(fake_out), 0.5
    local = tf.stack([
        tf.reduce_mean(d_per_example),
        tf.reduce_mean(g_per_example),
        tf.reduce_mean(real_out),
        tf.reduce_mean(fake_out),
        tf.reduce_mean(tf.cast(real_out > threshold, tf.float32)),
        tf.reduce_mean(tf.cast(fake_out < threshold, tf.float32)),
        *extra,
    ])
    # Every replica holds the same global mean, whatever reduction Keras applies to logs.
    means = tf.distribute.get_replica_context().all_reduce("MEAN", local)
    return {name: means[i] for i, name in enumerate(names)}
