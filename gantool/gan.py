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
A relativistic loss (``rpgan``) pairs each G update's fakes with D's outputs on the last real
chunk.

With ``augment`` (:mod:`gantool.adaptive`) D sees augmented reals and fakes in every D and G
pass (differentiably, so G's gradient flows through the augmentation), and the penalties are
taken on the augmented inputs. Its draws are seeded by (seed, D step, pass) *without* the
replica id and made for the global batch, this replica's rows sliced out: the same image of the
global batch gets the same transform on any number of replicas. ADA's probability is moved
after every D update from D's outputs on the augmented reals.
"""

import keras
import tensorflow as tf

from gantool import objectives
from gantool.adaptive import Augmenter
from gantool.augment import POLICIES
from gantool.draws import LATENT_DISTRIBUTIONS, sample_latents, step_seed
from gantool.losses import LOSSES
from gantool.models.layers import MinibatchStdDev
from gantool.objectives import pack_samples
from gantool.replica_steps import MultiReplicaSteps

UPDATES = ("simultaneous", "alternating")
LOG_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake")
# logged with --augment: ADA's probability p (0 for diffaugment: not adaptive) and D's
# overfitting signal E[sign(D(aug(x)))] on this step's reals, in [-1, 1]
AUGMENT_LOG_NAMES = ("aug_p", "d_sign_real")
# offsets that separate the random streams drawn within one step
_LATENTS, _NOISE, _MIX, _AUGMENT = 0, 1000, 2000, 3000
__all__ = ["GAN", "LATENT_DISTRIBUTIONS", "LOG_NAMES", "AUGMENT_LOG_NAMES", "pack_samples",
           "sample_latents"]


def has_batch_norm(model):
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


class GAN(MultiReplicaSteps, keras.Model):
    """Trains ``generator`` (latents (N, latent_dim) [+ labels (N,)] -> samples) against
    ``discriminator`` (samples [+ labels] -> logits (N, 1)).

    A batch is a tensor of real samples in model range, an ``(x, labels)`` tuple for conditional
    models, or a dict with ``"x"``, optional ``"y"`` (labels), and optional ``"z"`` (latents
    (N, latent_dim)), ``"g_z"`` (the alternating G steps' fresh latents (N, g_steps,
    latent_dim), the first N / d_steps rows used) and ``"alpha"`` (gradient-penalty
    interpolation weights (N, 1, ...)) to use instead of drawing them, for exact comparisons.

    ``r2_gamma``: weight gamma of the R2 penalty on fakes (gamma/2 * |grad D|^2, beside
    ``r1_gamma``'s on reals). ``augment``: "none", "diffaugment" or "ada", with
    ``augment_policy`` (names of :data:`gantool.augment.POLICIES`) and ADA's ``ada_target``,
    ``ada_kimg`` and ``ada_interval`` (see :class:`gantool.adaptive.Augmenter`); create the GAN
    under the strategy's scope (ADA's variables).
    """

    def __init__(self, generator, discriminator, latent_dim, latent_dist="normal", loss="ns",
                 label_smoothing=0.0, seed=0, d_steps=1, g_steps=1, gp_weight=10.0, r1_gamma=0.0,
                 instance_noise=0.0, total_steps=None, pack=1, conditional=False,
                 update="simultaneous", same_latents=False, r2_gamma=0.0, augment="none",
                 augment_policy=None, ada_target=0.6, ada_kimg=500.0, ada_interval=4, **kwargs):
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
        self.r2_gamma = r2_gamma
        self.augmenter = None if augment == "none" else Augmenter(
            augment, augment_policy or POLICIES, ada_target, ada_kimg, ada_interval)
        self.instance_noise = instance_noise
        self.total_steps = total_steps
        self.pack = pack
        self.conditional = conditional
        self.update = update
        self.same_latents = same_latents
        # Batch norm statistics differ for a mixed real+fake batch, so fuse the two
        # discriminator passes only when D has no batch norm.
        # Minibatch-std groups are runs of group_size rows: a fused batch keeps real and fake
        # groups apart only when the group size divides the per-replica batch (_fuses).
        self.fuse_discriminator = not has_batch_norm(discriminator)
        self.mbstd_groups = [layer.group_size for layer in discriminator.layers
                             if isinstance(layer, MinibatchStdDev)]
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

    def _seed(self, offset, per_replica=True):
        """Seed of stream ``offset`` this D step (see :func:`gantool.draws.step_seed`)."""
        return step_seed(self.seed, self.d_optimizer.iterations, offset, per_replica)

    def penalty_seed(self):
        return self._seed(_MIX)

    def draw_latents(self, batch_size, offset=0):
        """Per-replica latents for this step, seeded by (seed, D step, replica, offset)."""
        return sample_latents((batch_size, self.latent_dim), self.latent_dist,
                              self._seed(_LATENTS + offset))

    def _noise_stddev(self):
        """Instance noise decays linearly from ``instance_noise`` to 0 over training: over
        ``total_steps``, or where that is None (``--time-budget``) as ``self.progress`` (a float32
        variable in [0, 1] that the training loop sets) goes from 0 to 1."""
        if self.total_steps is None:
            return self.instance_noise * tf.maximum(0.0, 1.0 - self.progress)
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

    def augment(self, x, offset):
        """``x`` (N, ...) as D sees it: augmented with ``--augment`` (draws of pass ``offset``
        made for the global batch, this replica's rows kept), else unchanged."""
        if self.augmenter is None:
            return x
        n = tf.shape(x)[0]
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        rows = (replica * n, n * self.distribute_strategy.num_replicas_in_sync)
        return self.augmenter(x, self._seed(_AUGMENT + offset, per_replica=False), rows)

    def discriminate(self, real, fake, labels, offset=0):
        """Logits (N, 1) of D on real and on fake samples (one fused pass when D has no BN), and
        D's inputs (augmented real and fake, (N, ...)); ``offset`` picks the augmentation's
        draws (each pass of a step its own)."""
        real = self.augment(real, offset)
        fake = self.augment(tf.cast(fake, real.dtype), offset + 1)
        if self._fuses(real.shape[0]):
            both_labels = tf.concat([labels, labels], 0) if self.conditional else None
            if self.pack > 1:  # keep packs homogeneous: pack each half, then join
                logits = self._judge_packed_pair(real, fake, both_labels)
            else:
                logits = self._judge(tf.concat([real, fake], 0), both_labels, 0)
            return (*tf.split(logits, 2, axis=0), real, fake)
        return self._judge(real, labels, 0), self._judge(fake, labels, 1), real, fake

    def _fuses(self, batch):
        """Whether D judges real and fake of ``batch`` rows each (static, or None) in one pass
        with the same outputs as two."""
        if not self.fuse_discriminator:
            return False
        return all(batch is not None and batch % (size * max(self.pack, 1)) == 0
                   for size in self.mbstd_groups)

    def _judge_packed_pair(self, real, fake, labels):
        x = tf.concat([pack_samples(real, self.pack), pack_samples(fake, self.pack)], 0)
        if self.instance_noise:
            x = x + self._noise_stddev() * tf.random.stateless_normal(
                tf.shape(x), seed=self._seed(_NOISE), dtype=x.dtype)
        return tf.cast(self.discriminator(x, training=True), tf.float32)

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
            real_logits, fake_logits, real_in, fake_in = self.discriminate(real, fake, labels)
            d_per_example, d_loss = objectives.d_objective(
                self, real_in, fake_in, labels, real_logits, fake_logits, given.get("alpha"))
            g_per_example, g_loss = objectives.g_objective(self, fake_logits, real_logits)
            d_loss = self.d_optimizer.scale_loss(d_loss)
            g_loss = self.g_optimizer.scale_loss(g_loss)
        self._apply(self.d_optimizer, d_loss, tape, self.discriminator.trainable_variables)
        sign_real = self._observe(real_logits)
        self._apply(self.g_optimizer, g_loss, tape, self.generator.trainable_variables)
        del tape
        return self._logs(d_per_example, g_per_example, real_logits, fake_logits, sign_real)

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
                real_logits, fake_logits, real_in, fake_in = self.discriminate(
                    chunk, fake, chunk_labels)
                d_per_example, d_loss = objectives.d_objective(
                    self, real_in, fake_in, chunk_labels, real_logits, fake_logits, alpha)
                d_loss = self.d_optimizer.scale_loss(d_loss)
            self._apply(self.d_optimizer, d_loss, tape, self.discriminator.trainable_variables)
            sign_real = self._observe(real_logits)
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
                fake_logits, g_real_logits = self._judge_for_g(fake, reals[-1], label_chunks[-1],
                                                               offset=10 * (i + 1))
                g_per_example, g_loss = objectives.g_objective(self, fake_logits, g_real_logits)
                g_loss = self.g_optimizer.scale_loss(g_loss)
            self._apply(self.g_optimizer, g_loss, tape, self.generator.trainable_variables)
        return self._logs(d_per_example, g_per_example, real_logits, fake_logits, sign_real)

    def _judge_for_g(self, fake, real, labels, offset):
        """D's logits (N, 1) on ``fake`` for a G update, and on the paired ``real`` chunk when the
        loss is relativistic (else None), through the augmentation of pass ``offset``."""
        if getattr(self.gan_loss, "relativistic", False):
            real_logits, fake_logits, _, _ = self.discriminate(real, fake, labels, offset)
            return fake_logits, real_logits
        return self._judge(self.augment(fake, offset + 1), labels, 1), None

    def _observe(self, real_logits):
        """After a D update with ``--augment``: ADA's update of p; the step's global mean
        sign of D's real outputs (None without augmentation)."""
        if self.augmenter is None:
            return None
        return self.augmenter.observe(real_logits, self.d_optimizer.iterations)

    def _logs(self, d_per_example, g_per_example, real_logits, fake_logits, sign_real=None):
        """Global means of the losses, of D's outputs and of D's accuracy on real and fake
        (:data:`LOG_NAMES`); with ``--augment`` also :data:`AUGMENT_LOG_NAMES`."""
        if self.augmenter is None:
            return objectives.step_logs(self, LOG_NAMES, d_per_example, g_per_example,
                                        real_logits, fake_logits)
        # aug_p: the probability that each operation is applied (DiffAugment: always)
        p = self.augmenter.p.value() if self.augmenter.adaptive else tf.constant(1.0)
        return objectives.step_logs(self, LOG_NAMES + AUGMENT_LOG_NAMES, d_per_example,
                                    g_per_example, real_logits, fake_logits, (p, sign_real))
