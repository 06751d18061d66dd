"""2-replica ``mirrored`` check: the same GAN steps on one replica and on two give the same
weights, and how long each takes.

On a GPU machine the first GPU is split into two logical GPUs (so one GPU suffices); ``--cpu``
splits the CPU instead (what ``benchmarks/gpu_check.sh --dry-run`` runs). The model is the
MNIST DCGAN recipe at reduced width with synchronised batch norm (per-replica batch statistics
would differ from one replica's by design). Prints a markdown table.
"""

import argparse
import time

import common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="two logical CPUs instead of GPUs")
    parser.add_argument("--steps", type=int, default=5, help="training steps compared")
    return parser.parse_args(argv)


def logical_devices(tf, kind):
    """Split the first physical ``kind`` device in two; returns the two logical device names."""
    physical = tf.config.list_physical_devices(kind)[0]
    limit = {"memory_limit": 4096} if kind == "GPU" else {}
    tf.config.set_logical_device_configuration(
        physical, [tf.config.LogicalDeviceConfiguration(**limit) for _ in range(2)])
    return [d.name for d in tf.config.list_logical_devices(kind)][:2]


def train(config, strategy, batches, steps):
    """Weights (list of numpy arrays) and seconds after ``steps`` fit() steps."""
    import keras
    import tensorflow as tf

    from gantool.training import build_gan

    keras.backend.clear_session()
    gan = build_gan(config, strategy)
    dataset = tf.data.Dataset.from_tensor_slices(batches).repeat()  # dicts: x and given z
    start = time.perf_counter()
    gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    return [w.numpy() for w in gan.generator.weights + gan.discriminator.weights], seconds


def main(argv=None):
    args = parse_args(argv)
    import gantool  # noqa: F401, I001  (first: gantool's TensorFlow settings)
    import numpy as np
    import tensorflow as tf

    names = logical_devices(tf, "CPU" if args.cpu else "GPU")
    config = common.recipe_config("mnist_dcgan", data_shape=[28, 28, 1], data_kind="image",
                                  batch_size=64, g_filters=16, d_filters=16, sync_bn=True)
    rng = np.random.default_rng(0)
    # latents are given: drawn ones depend on the replica id (each replica draws its own)
    batches = {"x": rng.uniform(-1, 1, (args.steps, 64, 28, 28, 1)).astype(np.float32),
               "z": rng.standard_normal((args.steps, 64, config.latent_dim)).astype(np.float32)}
    one = tf.distribute.OneDeviceStrategy(names[0])
    two = tf.distribute.MirroredStrategy(
        names, cross_device_ops=tf.distribute.ReductionToOneDevice())
    w1, s1 = train(config, one, batches, args.steps)
    w2, s2 = train(config, two, batches, args.steps)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2))
    scale = max(float(np.max(np.abs(a))) for a in w1)
    verdict = "PASS" if diff <= 1e-4 * max(scale, 1.0) else "FAIL"
    common.print_table(
        ["replicas", "devices", f"{args.steps} steps s", "max |w1 - w2|", "verdict"],
        [[1, names[0], common.fmt(s1), "", ""],
         [2, ", ".join(names), common.fmt(s2), f"{diff:.3g}", verdict]])


if __name__ == "__main__":
    main()
