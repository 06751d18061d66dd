"""Augmentation of D's inputs inside the train step: DiffAugment, and ADA's adaptive probability.

``diffaugment`` (Zhao et al. 2020) applies the policy's operations (:mod:`gantool.augment`) to
every real and fake image D sees. ``ada`` (Karras et al. 2020, adaptive discriminator
augmentation) applies each operation to each image with a probability ``p`` that the step tunes
from D's overfitting signal ``r_t = E[sign(D(aug(x)))]`` on reals:

- every D step adds the sum of the signs of D's real outputs and their count (all-reduced over
  replicas, so every replica holds the same totals) to two accumulators;
- every ``interval`` D steps (D optimizer iterations divisible by ``interval``),
  ``p <- clip(p + sign(r_t - target) * images / (kimg * 1000), 0, 1)`` with ``images`` the
  count accumulated over the interval (global batch x interval), and the accumulators restart.
  So ``p`` can move from 0 to 1 in ``kimg`` thousand images.

``p`` and the accumulators are non-trainable float32 variables (:attr:`Augmenter.variables`)
that the run's checkpoint saves, so a resumed run continues with the same ``p`` bitwise. They
are created with ``ONLY_FIRST_REPLICA`` aggregation: assigned in the replica context, each
replica computes the same value and the first one's is kept.
"""

import tensorflow as tf

from gantool.augment import POLICIES, diff_augment

AUGMENTS = ("none", "diffaugment", "ada")


class Augmenter:
    """What the step applies to D's inputs: ``kind`` "diffaugment" or "ada" with ``policy`` (a
    tuple of :data:`gantool.augment.POLICIES` names). ADA's ``target`` (in (0, 1)), ``kimg``
    (> 0) and ``interval`` (D steps >= 1) are its heuristic's settings. Create it under the
    distribution strategy's scope (its variables must be mirrored)."""

    def __init__(self, kind="diffaugment", policy=POLICIES, target=0.6, kimg=500.0, interval=4):
        if kind not in AUGMENTS[1:]:
            raise ValueError(f"unknown augment {kind!r}; choose one of: {', '.join(AUGMENTS)}")
        self.kind = kind
        self.policy = tuple(policy)
        self.target, self.kimg, self.interval = float(target), float(kimg), int(interval)
        self.variables = []
        if kind == "ada":
            self.p = self._variable("ada_p")
            self.sign_sum = self._variable("ada_sign_sum")
            self.count = self._variable("ada_count")
            self.variables = [self.p, self.sign_sum, self.count]

    @staticmethod
    def _variable(name):
        return tf.Variable(0.0, dtype=tf.float32, trainable=False, name=name,
                           aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    @property
    def adaptive(self):
        return self.kind == "ada"

    def __call__(self, x, seed, rows=None):
        """Augmented images, same shape (N, H, W, C) and dtype; ``seed`` (2,) ints, ``rows``
        (this replica's first row, global batch size) as in :func:`gantool.augment.diff_augment`.
        """
        p = self.p.value() if self.adaptive else None
        return diff_augment(x, seed, self.policy, p=p, rows=rows)

    def observe(self, real_logits, d_iterations):
        """ADA's update after a D step: accumulate ``sign(real_logits)`` (N, 1) and, when
        ``d_iterations`` (the D optimizer's, after the step) is a multiple of ``interval``,
        move ``p``. Returns the step's global mean sign of D's real outputs (float32 scalar)."""
        signs = tf.sign(tf.reshape(tf.cast(real_logits, tf.float32), [-1]))
        local = tf.stack([tf.reduce_sum(signs), tf.cast(tf.size(signs), tf.float32)])
        sums = tf.distribute.get_replica_context().all_reduce("SUM", local)
        if not self.adaptive:
            return sums[0] / sums[1]
        total, count = self.sign_sum + sums[0], self.count + sums[1]
        due = tf.equal(tf.math.floormod(tf.cast(d_iterations, tf.int64), self.interval), 0)
        r_t = total / count
        step = tf.sign(r_t - self.target) * count / (self.kimg * 1000.0)
        moved = tf.clip_by_value(self.p + step, 0.0, 1.0)
        self.p.assign(tf.where(due, moved, self.p))
        self.sign_sum.assign(tf.where(due, 0.0, total))
        self.count.assign(tf.where(due, 0.0, count))
        return sums[0] / sums[1]
