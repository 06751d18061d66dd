"""GAN losses as per-example functions of discriminator logits.

Each loss is a pair ``(d_loss(real_logits, fake_logits, label_smoothing), g_loss(fake_logits))``
returning per-example values of shape (N,). The GAN step reduces them over the *global* batch
(``tf.nn.compute_average_loss``) so gradients are the same on any number of replicas.
"""

from dataclasses import dataclass
from typing import Callable

from gantool.registry import Registry

LOSSES = Registry("loss")


@dataclass(frozen=True)
class GANLoss:
    d_loss: Callable
    g_loss: Callable


def _bce(logits, target):
    import tensorflow as tf

    logits = tf.reshape(logits, [-1])
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target),
                                                   logits=logits)


def ns_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    """-log D(x) (target 1 - smoothing, one-sided) - log(1 - D(G(z)))."""
    return _bce(real_logits, 1.0 - label_smoothing) + _bce(fake_logits, 0.0)


def ns_g_loss(fake_logits):
    """Non-saturating generator loss: -log D(G(z))."""
    return _bce(fake_logits, 1.0)


LOSSES.register("ns", GANLoss(ns_d_loss, ns_g_loss))
