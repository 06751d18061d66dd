"""The GAN as one ``keras.Model``: a generator, a discriminator and a custom ``train_step``.

The step is written for ``tf.distribute``: per-example losses are reduced over the *global*
batch (so summed replica gradients equal single-device gradients), random draws (latents,
instance noise, penalty interpolation) use stateless ops seeded by (seed, D step, replica id)
(so replicas draw differently and a resumed run draws the same), and logged values are
all-reduced to true global means.

With one D and one G step per iteration and ``update="simultaneous"`` (the default) both
networks are updated from the same forward pass (simultaneous gradient steps, one generator
forward). With ``update="alternating"`` or ``d_steps`` > 1 (e.g. WGAN-GP's n_critic) each batch
holds ``d_steps`` real chunks: one D update per chunk, then ``g_steps`` G updates through the
updated D, each with fresh latents, or (``same_latents``) with the last D update's latents.
"""

import keras
import tensorflow as tf

from gantool import penalties
from gantool.losses import LOSSES

LATENT_DISTRIBUTIONS = ("normal", "uniform")
UPDATES = ("simultaneous", "alternating")
LOG_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake")
# offsets that separate the random streams drawn within one step
_LATENTS, _NOISE, _MIX = 0, 1000, 2000


def sample_latents(shape, distribution, seed):
    """Latent vectors of ``shape``: N(0, 1) or U(-1, 1), drawn statelessly from ``seed``
    (2 ints)."""
    if distribution == "normal":
        return tf.random.stateless_normal(shape, seed=seed)
    if distribution == "uniform":
        return tf.random.stateless_uniform(shape, seed=seed, minval=-1.0, maxval=1.0)
    raise ValueError(
        f"unknown latent distribution {distribution!r}; choose one of: "
        f"{', '.join(LATENT_DISTRIBUTIONS)}"
    )


def has_batch_norm(model):
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


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


class GAN(keras.Model):
    """Trains ``generator`` (latents (N, latent_dim) [+ labels (N,)] -> samples) against
    ``discriminator`` (samples [+ labels] -> logits (N, 1)).

    A batch is a tensor of real samples in model range, an ``(x, labels)`` tuple for conditional
    models, or a dict with ``"x"``, optional ``"y"`` (labels), and optional ``"z"`` (latents
    (N, latent_dim)), ``"g_z"`` (the alternating G steps' fresh latents (N, g_steps,
    latent_dim), the first N / d_steps rows used) and ``"alpha"`` (gradient-penalty
    interpolation weights (N, 1, ...)) to use instead of drawing them, for exact comparisons.
    """

    def __init__(self, generator, discriminator, latent_dim, latent_dist="normal", loss="ns",
                 label_smoothing=0.0, seed=0, d_steps=1, g_steps=1, gp_weight=10.0, r1_gamma=0.0,
                 instance_noise=0.0, total_steps=None, pack=1, conditional=False,
                 update="simultaneous", same_latents=False, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.latent_dist = latent_dist
        self.loss_name = loss
        self.gan_loss = LOSSES.get(loss)
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.d_steps = d_steps
        self.g_steps = g_steps
        self.gp_weight = gp_weight if self.gan_loss.needs_gradient_penalty else 0.0
        self.r1_gamma = r1_gamma
        self.instance_noise = instance_noise
        self.total_steps = total_steps
        self.pack = pack
        self.conditional = conditional
        self.update = update
        self.same_latents = same_latents
        # Batch norm statistics differ for a mixed real+fake batch, so fuse the two
        # discriminator passes only when D has no batch norm.
        self.fuse_discriminator = not has_batch_norm(discriminator)
        self.built = True

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        # Keras's fit() ends with optimizer.finalize_variable_values(model weights), which would
        # overwrite the live generator with its EMA: give Keras the D optimizer (never EMA).
        super().compile(optimizer=d_optimizer, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_optimizers(self):
        """Create optimizer slots eagerly (lazy creation fails inside a distributed step)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    # --- random draws --------------------------------------------------------------------------

    def _seed(self, offset):
        step = tf.cast(self.d_optimizer.iterations, tf.int32)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.stack([tf.constant(self.seed, tf.int32), step])
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
        return tf.random.experimental.stateless_fold_in(seed, offset)

    def draw_latents(self, batch_size, offset=0):
        """Per-replica latents for this step, seeded by (seed, D step, replica, offset)."""
        return sample_latents((batch_size, self.latent_dim), self.latent_dist,
                              self._seed(_LATENTS + offset))

    def _noise_stddev(self):
        """Instance noise decays linearly from ``instance_noise`` to 0 over training."""
        step = tf.cast(self.d_optimizer.iterations, tf.float32) / self.d_steps
        return self.instance_noise * tf.maximum(0.0, 1.0 - step / float(self.total_steps))

    # --- networks ------------------------------------------------------------------------------

    def generate(self, latents, labels, training):
        inputs = [latents, labels] if self.conditional else latents
        return self.generator(inputs, training=training)

    def _judge(self, x, labels, offset):
        if self.instance_noise:
            x = x + self._noise_stddev() * tf.random.stateless_normal(
                tf.shape(x), seed=self._seed(_NOISE + offset), dtype=x.dtype)
        x = pack_samples(x, self.pack)
        inputs = [x, labels] if self.conditional else x
        return tf.cast(self.discriminator(inputs, training=True), tf.float32)

    def discriminate(self, real, fake, labels):
        """Logits (N, 1) of D on real and on fake samples (one fused pass when D has no BN)."""
        fake = tf.cast(fake, real.dtype)
        if self.fuse_discriminator:
            both_labels = tf.concat([labels, labels], 0) if self.conditional else None
            if self.pack > 1:  # keep packs homogeneous: pack each half, then join
                logits = self._judge_packed_pair(real, fake, both_labels)
            else:
                logits = self._judge(tf.concat([real, fake], 0), both_labels, 0)
            return tf.split(logits, 2, axis=0)
        return self._judge(real, labels, 0), self._judge(fake, labels, 1)

    def _judge_packed_pair(self, real, fake, labels):
        x = tf.concat([pack_samples(real, self.pack), pack_samples(fake, self.pack)], 0)
        if self.instance_noise:
            x = x + self._noise_stddev() * tf.random.stateless_normal(
                tf.shape(x), seed=self._seed(_NOISE), dtype=x.dtype)
        return tf.cast(self.discriminator(x, training=True), tf.float32)

    # --- losses --------------------------------------------------------------------------------

    def _global_batch(self, per_replica_examples):
        return per_replica_examples * self.distribute_strategy.num_replicas_in_sync

    def _d_objective(self, real, fake, labels, real_logits, fake_logits, alpha=None):
        """Per-example D loss (logged) and its global-batch reduction with penalties (optimised)."""
        per_example = self.gan_loss.d_loss(real_logits, fake_logits, self.label_smoothing)
        global_batch = self._global_batch(tf.shape(per_example)[0])
        total = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        if self.gp_weight or self.r1_gamma:
            judge = self._penalty_judge(labels)
            if self.gp_weight:
                if alpha is None:
                    alpha = penalties.interpolation_alpha(real, self._seed(_MIX))
                gp = penalties.gradient_penalty(judge, real, tf.cast(fake, real.dtype), alpha)
                total += self.gp_weight * tf.nn.compute_average_loss(
                    gp, global_batch_size=self._global_batch(tf.shape(gp)[0]))
            if self.r1_gamma:
                r1 = penalties.r1_penalty(judge, real)
                total += 0.5 * self.r1_gamma * tf.nn.compute_average_loss(
                    r1, global_batch_size=self._global_batch(tf.shape(r1)[0]))
        return per_example, total

    def _penalty_judge(self, labels):
        """D as a function of samples only (packing and labels applied), for the penalties."""

        def judge(x, training=True):
            x = pack_samples(x, self.pack)
            inputs = [x, labels] if self.conditional else x
            return tf.cast(self.discriminator(inputs, training=training), tf.float32)

        return judge

    def _g_objective(self, fake_logits):
        per_example = self.gan_loss.g_loss(fake_logits)
        total = tf.nn.compute_average_loss(
            per_example, global_batch_size=self._global_batch(tf.shape(per_example)[0]))
        return per_example, total

    # --- the step ------------------------------------------------------------------------------

    def _unpack(self, data):
        """-> (real, labels or None, given random draws: {"z": latents, "alpha": GP weights})."""
        data, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(data, dict):
            given = {k: data[k] for k in ("z", "g_z", "alpha") if k in data}
            return data["x"], data.get("y"), given
        return data, y, {}

    def _apply(self, optimizer, scaled_loss, tape, variables):
        """One optimizer update from a loss already passed through ``optimizer.scale_loss``
        inside ``tape`` (float16 loss scaling; a no-op otherwise). The optimizer unscales."""
        optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))

    def train_step(self, data):
        real, labels, given = self._unpack(data)
        if self.d_steps == 1 and self.g_steps == 1 and self.update == "simultaneous":
            return self._simultaneous_step(real, labels, given)
        return self._alternating_step(real, labels, given)

    def _simultaneous_step(self, real, labels, given):
        latents = given.get("z")
        if latents is None:
            latents = self.draw_latents(tf.shape(real)[0])
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generate(latents, labels, training=True)
            real_logits, fake_logits = self.discriminate(real, fake, labels)
            d_per_example, d_loss = self._d_objective(real, fake, labels, real_logits,
                                                      fake_logits, given.get("alpha"))
            g_per_example, g_loss = self._g_objective(fake_logits)
            d_loss = self.d_optimizer.scale_loss(d_loss)
            g_loss = self.g_optimizer.scale_loss(g_loss)
        self._apply(self.d_optimizer, d_loss, tape, self.discriminator.trainable_variables)
        self._apply(self.g_optimizer, g_loss, tape, self.generator.trainable_variables)
        del tape
        return self._logs(d_per_example, g_per_example, real_logits, fake_logits)

    def _chunks(self, value):
        """``value`` split into ``d_steps`` chunks along the batch (Nones for None)."""
        return [None] * self.d_steps if value is None else tf.split(value, self.d_steps)

    def _alternating_step(self, real, labels, given):
        """``d_steps`` D updates (one per real chunk), then ``g_steps`` G updates through the
        updated D, on fresh latents or (``same_latents``) the last D update's."""
        reals = tf.split(real, self.d_steps)
        label_chunks = self._chunks(labels if self.conditional else None)
        given_z, alphas = self._chunks(given.get("z")), self._chunks(given.get("alpha"))
        for chunk, chunk_labels, latents, alpha in zip(reals, label_chunks, given_z, alphas):
            if latents is None:
                latents = self.draw_latents(tf.shape(chunk)[0])
            with tf.GradientTape() as tape:
                fake = self.generate(latents, chunk_labels, training=True)
                real_logits, fake_logits = self.discriminate(chunk, fake, chunk_labels)
                d_per_example, d_loss = self._d_objective(chunk, fake, chunk_labels,
                                                          real_logits, fake_logits, alpha)
                d_loss = self.d_optimizer.scale_loss(d_loss)
            self._apply(self.d_optimizer, d_loss, tape, self.discriminator.trainable_variables)
        d_latents = latents
        for i in range(self.g_steps):
            if self.same_latents:
                latents = d_latents
            elif "g_z" in given:
                latents = given["g_z"][:tf.shape(reals[-1])[0], i]
            else:
                latents = self.draw_latents(tf.shape(reals[-1])[0], offset=1 + i)
            with tf.GradientTape() as tape:
                fake = self.generate(latents, label_chunks[-1], training=True)
                fake_logits = self._judge(fake, label_chunks[-1], 1)
                g_per_example, g_loss = self._g_objective(fake_logits)
                g_loss = self.g_optimizer.scale_loss(g_loss)
            self._apply(self.g_optimizer, g_loss, tape, self.generator.trainable_variables)
        return self._logs(d_per_example, g_per_example, real_logits, fake_logits)

    def _logs(self, d_per_example, g_per_example, real_logits, fake_logits):
        """Global means of the losses, of D's outputs and of D's accuracy on real and fake."""
        probabilistic = getattr(self.gan_loss, "probabilistic", True)
        threshold = getattr(self.gan_loss, "output_threshold", 0.0)
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
        ])
        # Every replica holds the same global mean, whatever reduction Keras applies to logs.
        means = tf.distribute.get_replica_context().all_reduce("MEAN", local)
        return {name: means[i] for i, name in enumerate(LOG_NAMES)}
