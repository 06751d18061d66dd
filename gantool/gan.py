"""The GAN as one ``keras.Model``: a generator, a discriminator and a custom ``train_step``.

The step is written for ``tf.distribute``: per-example losses are reduced over the *global*
batch (so summed replica gradients equal single-device gradients), latent vectors are drawn
with stateless ops seeded by (seed, step, replica id) (so replicas draw different latents and a
resumed run draws the same ones), and logged values are all-reduced to true global means.
"""

import keras
import tensorflow as tf

from gantool.losses import LOSSES

LATENT_DISTRIBUTIONS = ("normal", "uniform")
LOG_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake")


def sample_latents(shape, distribution, seed):
    """Latent vectors of ``shape``: N(0, 1) or U(-1, 1), drawn statelessly from ``seed`` (2 ints)."""
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


class GAN(keras.Model):
    """Trains ``generator`` (latents (N, latent_dim) -> samples) against ``discriminator``
    (samples -> logits (N, 1)).

    A batch is either a tensor of real samples in model range or a dict with ``"x"`` and,
    optionally, ``"z"`` (latent vectors to use instead of drawing them, for exact comparisons).
    """

    def __init__(self, generator, discriminator, latent_dim, latent_dist="normal", loss="ns",
                 label_smoothing=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.latent_dist = latent_dist
        self.loss_name = loss
        self.gan_loss = LOSSES.get(loss)
        self.label_smoothing = label_smoothing
        self.seed = seed
        # Batch norm statistics differ for a mixed real+fake batch, so fuse the two
        # discriminator passes only when D has no batch norm.
        self.fuse_discriminator = not has_batch_norm(discriminator)
        self.built = True

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(optimizer=g_optimizer, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_optimizers(self):
        """Create optimizer slots eagerly (lazy creation fails inside a distributed step)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def draw_latents(self, batch_size):
        """Per-replica latents, seeded by (seed, step) with the replica id folded in."""
        step = tf.cast(self.d_optimizer.iterations, tf.int32)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.constant(self.seed, tf.int32), step]), replica)
        return sample_latents((batch_size, self.latent_dim), self.latent_dist, seed)

    def discriminate(self, real, fake):
        if self.fuse_discriminator:
            fake = tf.cast(fake, real.dtype)
            logits = self.discriminator(tf.concat([real, fake], axis=0), training=True)
            return tf.split(logits, 2, axis=0)
        return (self.discriminator(real, training=True),
                self.discriminator(fake, training=True))

    def train_step(self, data):
        data, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        real, latents = (data["x"], data.get("z")) if isinstance(data, dict) else (data, None)
        batch_size = tf.shape(real)[0]
        if latents is None:
            latents = self.draw_latents(batch_size)
        global_batch = batch_size * self.distribute_strategy.num_replicas_in_sync

        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator(latents, training=True)
            real_logits, fake_logits = self.discriminate(real, fake)
            real_logits = tf.cast(real_logits, tf.float32)
            fake_logits = tf.cast(fake_logits, tf.float32)
            d_per_example = self.gan_loss.d_loss(real_logits, fake_logits, self.label_smoothing)
            g_per_example = self.gan_loss.g_loss(fake_logits)
            d_loss = tf.nn.compute_average_loss(d_per_example, global_batch_size=global_batch)
            g_loss = tf.nn.compute_average_loss(g_per_example, global_batch_size=global_batch)
            # Loss scaling for float16 (a no-op otherwise); the optimizers unscale gradients.
            d_scaled = self.d_optimizer.scale_loss(d_loss)
            g_scaled = self.g_optimizer.scale_loss(g_loss)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads = tape.gradient(d_scaled, d_vars)
        g_grads = tape.gradient(g_scaled, g_vars)
        del tape
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))

        d_real = tf.sigmoid(tf.reshape(real_logits, [-1]))
        d_fake = tf.sigmoid(tf.reshape(fake_logits, [-1]))
        local = tf.stack([
            tf.reduce_mean(d_per_example),
            tf.reduce_mean(g_per_example),
            tf.reduce_mean(d_real),
            tf.reduce_mean(d_fake),
            tf.reduce_mean(tf.cast(d_real > 0.5, tf.float32)),
            tf.reduce_mean(tf.cast(d_fake < 0.5, tf.float32)),
        ])
        # Every replica holds the same global mean, whatever reduction Keras applies to logs.
        means = tf.distribute.get_replica_context().all_reduce("MEAN", local)
        return {name: means[i] for i, name in enumerate(LOG_NAMES)}
