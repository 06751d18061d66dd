"""Building blocks shared by the architectures: the DCGAN paper's initialisation (weights
N(0, 0.02), batch-norm gamma N(1, 0.02), beta 0) and the other initialisation schemes
(:func:`initializers`, :func:`initialise`), activations, spectral normalisation, label inputs,
PacGAN input shapes and the minibatch standard deviation layer."""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import keras

WEIGHT_STDDEV = 0.02
LABEL_EMBEDDING = 50  # width of the generator's class embedding


def weight_init(seed=None):
    return keras.initializers.RandomNormal(mean=0.0, stddev=WEIGHT_STDDEV, seed=seed)


def gamma_init(seed=None):
    return keras.initializers.RandomNormal(mean=1.0, stddev=WEIGHT_STDDEV, seed=seed)


def batch_norm(synchronized=False, name=None, momentum=0.99, epsilon=1e-3):
    """Batch norm with the paper's init; ``synchronized`` uses global-batch statistics across
    replicas (otherwise each replica normalises with its own share of the batch). ``momentum``
    and ``epsilon`` default to Keras's (and TensorFlow 1's); PyTorch's are 0.9 and 1e-5."""
    return keras.layers.BatchNormalization(
        gamma_initializer=gamma_init(), beta_initializer="zeros", synchronized=synchronized,
        name=name, momentum=momentum, epsilon=epsilon,
    )


# --- initialisation schemes -------------------------------------------------------------------

@dataclass(frozen=True)
class Initializers:
    """One initialisation scheme, as factories of fresh Keras initializers (``seed``: an int,
    or None for the global seed of ``keras.utils.set_random_seed``).

    ``kernel(seed)``: Dense and (transposed) convolution kernels, fans taken from the kernel's
    shape; ``bias(fan_in, seed)``: their biases; ``gamma(seed)``: batch-norm scales (batch-norm
    betas start at 0 in every scheme).
    """

    name: str
    kernel: Callable
    bias: Callable
    gamma: Callable


def _zeros(fan_in=None, seed=None):
    return keras.initializers.Zeros()


def _ones(seed=None):
    return keras.initializers.Ones()


def _torch_kernel(seed=None):
    """kaiming_uniform(a=sqrt(5)): U(-b, b) with b = sqrt(6 / (1 + 5)) * sqrt(3 / fan_in)
    = 1 / sqrt(fan_in), i.e. variance scaling 1/3 over fan_in."""
    return keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform",
                                              seed=seed)


def _torch_bias(fan_in, seed=None):
    bound = 1 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound, seed=seed)


def _glorot_uniform(seed=None):
    return keras.initializers.GlorotUniform(seed=seed)


# dcgan: N(0, 0.02) kernels, zero biases, gamma N(1, 0.02) (Radford et al.);
# glorot-uniform: TensorFlow 1 and Keras layers' defaults (bound sqrt(6 / (fan_in + fan_out)),
# zero biases, gamma 1); torch: PyTorch's nn.Linear/nn.Conv*d defaults (kernel and bias
# U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and nn.BatchNorm*d's (gamma 1).
_SCHEMES = {
    "dcgan": (weight_init, _zeros, gamma_init),
    "glorot-uniform": (_glorot_uniform, _zeros, _ones),
    "torch": (_torch_kernel, _torch_bias, _ones),
}
INIT_SCHEMES = tuple(_SCHEMES)


def initializers(name):
    """The :class:`Initializers` of scheme ``name`` (one of :data:`INIT_SCHEMES`)."""
    if name not in _SCHEMES:
        raise ValueError(f"unknown init {name!r}; choose one of: {', '.join(INIT_SCHEMES)}")
    return Initializers(name, *_SCHEMES[name])


def fan_in(kernel_shape):
    """Inputs per output unit, ``prod(kernel_shape[:-1])``: Dense (in, out) -> in, Conv2D
    (kh, kw, in, out) -> kh*kw*in, Conv2DTranspose (kh, kw, out, in) -> kh*kw*out (as Keras and
    PyTorch both count a transposed convolution's fan-in)."""
    return math.prod(kernel_shape[:-1])


def initialise(model, name, seed=None):
    """Re-draw the weights of a built ``model`` under scheme ``name`` and return it: every kernel
    and bias of its Dense and (transposed) convolution layers, spectral-norm wrapped or not,
    and every batch-norm gamma (beta 0). Embeddings, layer norms and batch-norm statistics
    keep their values. ``seed`` (int): each weight gets its own seed derived from it, the same
    on every worker; None: the global seed. For any architecture this is one line::

        return initialise(keras.Model(inputs, outputs), config.init, seed)
    """
    init = initializers(name)
    counter = itertools.count(1)

    def assign(variable, factory, *args):
        if variable is not None:
            own_seed = None if seed is None else (seed * 7919 + next(counter)) % 2**31
            variable.assign(factory(*args, seed=own_seed)(variable.shape, variable.dtype))

    for layer in model.layers:
        if isinstance(layer, keras.layers.Wrapper):
            layer = layer.layer
        if isinstance(layer, keras.layers.BatchNormalization):
            assign(layer.gamma, init.gamma)
            assign(layer.beta, _zeros)
        elif getattr(layer, "kernel", None) is not None:
            assign(layer.kernel, init.kernel)
            assign(getattr(layer, "bias", None), init.bias, fan_in(layer.kernel.shape))
    return model


def initialised(model, config, net, drawn_as_dcgan=False):
    """``model`` under scheme ``config.init`` (:func:`initialise`, seeded 2 * seed + ``net``: 0
    for the generator, 1 for the discriminator). ``drawn_as_dcgan``: the builder's layers already
    draw the dcgan scheme (mlp, dcgan), so ``--init dcgan`` keeps those weights as they were."""
    if drawn_as_dcgan and config.init == "dcgan":
        return model
    return initialise(model, config.init, 2 * config.seed + net)


@keras.saving.register_keras_serializable(package="gantool")
class LogitDifference(keras.layers.Layer):
    """(N, 2) scores of a two-way softmax over (fake, real) -> (N, 1) logit ``real - fake``.
    Softmax cross-entropy on the pair equals sigmoid cross-entropy on this logit, so a
    discriminator ending in Dense(2) and a softmax loss (as MXNet's tutorials write it) keeps its
    parameters and its function under gantool's one-logit losses."""

    def call(self, scores):
        return scores[:, 1:] - scores[:, :1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


@keras.saving.register_keras_serializable(package="gantool")
class MinibatchStdDev(keras.layers.Layer):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN section 3): (N, H, W, C) ->
    (N, H, W, C + 1), the extra map (constant over H, W) holding, for each sample, the std over
    its group of every feature, averaged over H, W and C (>= 0; sqrt(epsilon) for a group of
    one). Groups are runs of ``group_size`` consecutive samples (i and j share one when
    i // group_size == j // group_size), so a real batch and a fake batch of such a size
    joined in one call keep their own groups; the batch is one group when N is smaller than
    ``group_size`` or not divisible by it. N is the batch the layer sees: under tf.distribute,
    each replica's own share. Any N, static or not; computed in float32."""

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size, self.epsilon = int(group_size), float(epsilon)

    def call(self, x):
        import tensorflow as tf

        features = tf.cast(x, tf.float32)
        shape = tf.shape(features)
        n, size = shape[0], self.group_size
        group = tf.where((n >= size) & (n % size == 0), size, n)
        grouped = tf.reshape(features, tf.stack([-1, group, shape[1], shape[2], shape[3]]))
        deviation = grouped - tf.reduce_mean(grouped, axis=1, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(deviation), axis=1) + self.epsilon)
        per_group = tf.reduce_mean(std, axis=[1, 2, 3])  # (N / group,)
        per_sample = tf.repeat(per_group, group)  # (N,): sample i gets group i // group
        stat = tf.broadcast_to(per_sample[:, None, None, None],
                               tf.stack([n, shape[1], shape[2], 1]))
        return tf.concat([x, tf.cast(stat, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


def discriminator_model(samples, label, features, config):
    """mlp's and dcgan's discriminator from its ``features`` (N, F): the (projection) logits
    (N, 1) as a Model of ``samples`` [and ``label``], under ``config.init``."""
    logits = projection_logits(features, label, config)
    inputs = [samples, label] if config.conditional else samples
    model = keras.Model(inputs, logits, name="discriminator")
    return initialised(model, config, 1, drawn_as_dcgan=True)


def activation(name, leaky_slope):
    """A Keras activation layer for ``leaky_relu`` (with ``leaky_slope``), ``relu`` or ``tanh``."""
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=leaky_slope)
    if name in ("relu", "tanh"):
        return keras.layers.Activation(name)
    raise ValueError(f"unknown activation {name!r}; choose one of: leaky_relu, relu, tanh")


def discriminator_layer(layer, config):
    """``layer`` wrapped in spectral normalisation when ``config.spectral_norm``."""
    return keras.layers.SpectralNormalization(layer) if config.spectral_norm else layer


def discriminator_input_shape(config, data_shape):
    """D's input: ``pack`` samples joined along the last axis (PacGAN), else ``data_shape``."""
    return (*data_shape[:-1], data_shape[-1] * config.pack)


def label_input():
    """An int32 class-id input of shape (N,)."""
    return keras.Input((), dtype="int32", name="label")


def with_label_embedding(z, label, config):
    """Concatenate latents (N, latent_dim) with a learned class embedding (N, LABEL_EMBEDDING)."""
    embedded = keras.layers.Embedding(config.num_classes, LABEL_EMBEDDING,
                                      embeddings_initializer=weight_init(),
                                      name="label_embedding")(label)
    return keras.layers.Concatenate()([z, embedded])


def projection_logits(features, label, config):
    """Projection discriminator (Miyato & Koyama 2018): psi(h) + <embed(y), h>, shape (N, 1)."""
    # explicitly named: auto-named Dense layers would clash with the mlp's "dense_{i}" names
    # when a second model is built in the same process
    name = "logits" if label is None else "unconditional_logit"
    unconditional = discriminator_layer(
        keras.layers.Dense(1, kernel_initializer=weight_init(), dtype="float32", name=name),
        config,
    )(features)
    if label is None:
        return unconditional
    embedded = keras.layers.Embedding(config.num_classes, features.shape[-1],
                                      embeddings_initializer=weight_init(),
                                      name="class_projection")(label)
    projection = keras.layers.Dot(axes=1, dtype="float32")([embedded, features])
    return keras.layers.Add(name="logits", dtype="float32")([unconditional, projection])
