"""GAN losses as per-example functions of the discriminator's raw outputs.

Each loss is a :class:`GANLoss`: a pair ``d_loss(real_logits, fake_logits, label_smoothing)``,
``g_loss(fake_logits)`` returning per-example values of shape (N,) (inputs may be (N, 1) or
(N,)), plus metadata the train step needs. A *relativistic* loss (``relativistic`` set) scores
real and fake samples in pairs, so its ``g_loss(fake_logits, real_logits)`` takes D's outputs on
a real batch of the same size as well. The GAN step reduces the per-example values over the
*global* batch (``tf.nn.compute_average_loss``) so gradients are the same on any number of
replicas.

Registered losses (``--loss``), with ``l`` a raw discriminator output, ``r``/``f`` on real/fake
samples, ``s`` the one-sided label smoothing and ``softplus(l) = log(1 + e^l)``:

``ns`` (default)
    Non-saturating GAN (Goodfellow et al. 2014, section 3). D: binary cross-entropy,
    ``(1-s)·softplus(-r) + s·softplus(r) + softplus(f)``; G: ``-log D(G(z)) = softplus(-f)``.
``minimax``
    The original saturating objective. D as ``ns``; G *minimises* ``log(1 - D(G(z)))``
    ``= log(1 - sigmoid(f)) = -softplus(f)``. Its gradient ``-sigmoid(f)`` vanishes when D
    confidently rejects fakes (``f -> -inf``), which is why ``ns`` exists.
``hinge``
    Hinge loss (Lim & Ye 2017; Miyato et al. 2018). D: ``relu(1 - r) + relu(1 + f)``; G: ``-f``.
``lsgan``
    Least squares GAN (Mao et al. 2017, eq. 2 with a=0, b=c=1) on raw outputs, *with* the
    paper's 1/2 factors: D: ``0.5·(r - (1-s))^2 + 0.5·f^2``; G: ``0.5·(f - 1)^2``.
``wgan-gp``
    Wasserstein critic (Gulrajani et al. 2017). Critic: ``f - r``; G: ``-f``. The gradient
    penalty is a separate term (:func:`gantool.penalties.gradient_penalty`), added by the train
    step because ``needs_gradient_penalty`` is set.
``rpgan``
    Relativistic pairing GAN (Jolicoeur-Martineau 2018, RpGAN; the loss of R3GAN, Huang et al.
    2024), real sample i paired with fake sample i: D: ``softplus(f - r)``; G:
    ``softplus(r - f)`` (relativistic: G's loss needs D's outputs on reals too). Only the
    difference ``r - f`` matters, so outputs are scores (``probabilistic`` is not set).
    R3GAN adds zero-centred penalties on both reals and fakes (``--r1`` and ``--r2``).

This module must not import TensorFlow at import time: the CLI lists ``LOSSES.names()`` for
``--help``. TensorFlow is imported inside the functions.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gantool.registry import Registry

LOSSES = Registry("loss")


class ReadOnlyMapping(Mapping):
    """An immutable mapping that, unlike ``types.MappingProxyType``, copies and pickles."""

    __slots__ = ("_data",)

    def __init__(self, data=()):
        self._data = dict(data)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f"{type(self).__name__}({self._data!r})"

    def __reduce__(self):
        return type(self), (self._data,)


@dataclass(frozen=True)
class GANLoss:
    """A GAN objective and what the train step needs to know about it.

    ``d_loss(real_logits, fake_logits, label_smoothing)`` and ``g_loss(fake_logits)`` return
    per-example losses of shape (N,); both accept outputs of shape (N, 1) or (N,).

    ``supports_label_smoothing``
        Whether ``label_smoothing`` means anything (a real *target* exists: ``ns``, ``minimax``,
        ``lsgan``). Losses without it ignore the argument, so callers should reject a non-zero
        ``--label-smoothing`` for them rather than silently drop it.
    ``needs_gradient_penalty``
        The D loss is only correct with a gradient penalty on interpolates added
        (``wgan-gp``: ``gp_weight · gradient_penalty``, see :mod:`gantool.penalties`).
    ``probabilistic``
        The discriminator output is a logit: ``sigmoid(output)`` is D's probability that the
        sample is real, and is what should be logged as D(x) / D(G(z)). Otherwise (``hinge``,
        ``lsgan``, ``wgan-gp``) the raw output is a score and its raw mean should be logged
        (for ``lsgan`` the raw output is regressed onto the targets 0/1, so its mean is already
        on a 0..1-like scale; squashing it with a sigmoid would be wrong).
    ``output_threshold``
        The raw output above which a sample counts as classified real, for accuracies:
        0 on logits (``ns``/``minimax``, i.e. probability 0.5), 0 on scores (``hinge``'s margin
        centre, ``wgan-gp``), 0.5 for ``lsgan`` (midway between its targets 0 and 1). For
        ``wgan-gp`` the critic is only defined up to an additive constant, so its accuracy is
        indicative only.
    ``relativistic``
        ``g_loss(fake_logits, real_logits)`` takes D's outputs on a real batch as well, paired
        example by example with the fakes (``rpgan``); otherwise ``g_loss(fake_logits)``.
    ``recommended``
        Settings the literature uses with this loss, for the caller to apply where the user
        did not choose (read-only mapping; empty = the DCGAN defaults are fine). Keys:
        ``beta1``, ``beta2`` (Adam), ``n_critic`` (D steps per G step), ``gp_weight`` (lambda
        multiplying the gradient penalty).
    ``description``
        One line for ``--help`` and docs.
    """

    d_loss: Callable
    g_loss: Callable
    supports_label_smoothing: bool = True
    needs_gradient_penalty: bool = False
    probabilistic: bool = True
    output_threshold: float = 0.0
    relativistic: bool = False
    recommended: Mapping = field(default_factory=dict, compare=False)
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "recommended", ReadOnlyMapping(self.recommended))

    def output_values(self, logits):
        """Per-example values to log as D(x) / D(G(z)): sigmoid for probabilistic losses,
        the raw output otherwise. Shape (N,)."""
        import tensorflow as tf

        logits = _flat(logits)
        return tf.sigmoid(logits) if self.probabilistic else logits

    def classified_real(self, logits):
        """Per-example booleans, shape (N,): the output is above ``output_threshold``."""
        return _flat(logits) > self.output_threshold


def _flat(logits):
    import tensorflow as tf

    return tf.reshape(logits, [-1])


def _bce(logits, target):
    """Per-example binary cross-entropy of ``logits`` against the constant ``target``."""
    import tensorflow as tf

    logits = _flat(logits)
    labels = tf.fill(tf.shape(logits), tf.cast(target, logits.dtype))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


# -- ns / minimax ---------------------------------------------------------------------------

def ns_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    """-log D(x) (target 1 - smoothing, one-sided) - log(1 - D(G(z)))."""
    return _bce(real_logits, 1.0 - label_smoothing) + _bce(fake_logits, 0.0)


def ns_g_loss(fake_logits):
    """Non-saturating generator loss: -log D(G(z)) = softplus(-f)."""
    return _bce(fake_logits, 1.0)


minimax_d_loss = ns_d_loss


def minimax_g_loss(fake_logits):
    """Saturating generator loss: log(1 - D(G(z))) = log(1 - sigmoid(f)) = -softplus(f).

    G minimises it; the gradient -sigmoid(f) vanishes as D rejects fakes (f -> -inf)."""
    import tensorflow as tf

    return -tf.nn.softplus(_flat(fake_logits))


# -- hinge ----------------------------------------------------------------------------------

def hinge_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    """relu(1 - D(x)) + relu(1 + D(G(z))). ``label_smoothing`` is ignored (no target)."""
    import tensorflow as tf

    return tf.nn.relu(1.0 - _flat(real_logits)) + tf.nn.relu(1.0 + _flat(fake_logits))


def score_g_loss(fake_logits):
    """-D(G(z)): the generator loss of ``hinge`` and ``wgan-gp``."""
    return -_flat(fake_logits)


# -- lsgan ----------------------------------------------------------------------------------

def lsgan_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    """0.5·(D(x) - (1 - smoothing))^2 + 0.5·D(G(z))^2 on raw outputs (Mao et al. eq. 2)."""
    import tensorflow as tf

    real = _flat(real_logits)
    target = 1.0 - tf.cast(label_smoothing, real.dtype)
    return 0.5 * tf.square(real - target) + 0.5 * tf.square(_flat(fake_logits))


def lsgan_g_loss(fake_logits):
    """0.5·(D(G(z)) - 1)^2."""
    import tensorflow as tf

    return 0.5 * tf.square(_flat(fake_logits) - 1.0)


# -- wgan-gp --------------------------------------------------------------------------------

def wgan_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Critic loss D(G(z)) - D(x), without the gradient penalty (added by the train step).
    ``label_smoothing`` is ignored (no target)."""
    return _flat(fake_logits) - _flat(real_logits)


# -- rpgan ----------------------------------------------------------------------------------

def rpgan_d_loss(real_logits, fake_logits, label_smoothing=0.0):
    """softplus(D(G(z_i)) - D(x_i)) per pair i. ``label_smoothing`` is ignored (no target)."""
    import tensorflow as tf

    return tf.nn.softplus(_flat(fake_logits) - _flat(real_logits))


def rpgan_g_loss(fake_logits, real_logits):
    """softplus(D(x_i) - D(G(z_i))) per pair i: fakes should out-score their paired reals."""
    import tensorflow as tf

    return tf.nn.softplus(_flat(real_logits) - _flat(fake_logits))


LOSSES.register("ns", GANLoss(
    ns_d_loss, ns_g_loss,
    description="non-saturating GAN: D binary cross-entropy, G minimises -log D(G(z))"))
LOSSES.register("minimax", GANLoss(
    minimax_d_loss, minimax_g_loss,
    description="original saturating GAN: G minimises log(1 - D(G(z)))"))
LOSSES.register("hinge", GANLoss(
    hinge_d_loss, score_g_loss, supports_label_smoothing=False, probabilistic=False,
    description="hinge: D relu(1 - D(x)) + relu(1 + D(G(z))), G -D(G(z))"))
LOSSES.register("lsgan", GANLoss(
    lsgan_d_loss, lsgan_g_loss, probabilistic=False, output_threshold=0.5,
    description="least squares GAN (targets 0/1 on raw outputs, with 1/2 factors)"))
LOSSES.register("wgan-gp", GANLoss(
    wgan_d_loss, score_g_loss, supports_label_smoothing=False, needs_gradient_penalty=True,
    probabilistic=False,
    recommended={"beta1": 0.0, "beta2": 0.9, "n_critic": 5, "gp_weight": 10.0},
    description="Wasserstein critic with gradient penalty (Gulrajani et al. 2017)"))
LOSSES.register("rpgan", GANLoss(
    rpgan_d_loss, rpgan_g_loss, supports_label_smoothing=False, probabilistic=False,
    relativistic=True,
    description="relativistic pairing GAN: D softplus(D(G(z)) - D(x)), G softplus(D(x) - D(G(z)))"))
