"""Project images into a run's latent space: find latents whose samples reproduce them.

Adam on the latents, from several random starts per image (the best kept), minimising the
pixel mean squared error plus ``feature_weight`` times the squared distance between the
discriminator's penultimate features of the sample and of the image (a perceptual term that
the GAN itself learned). Images are uint8 (N, H, W, C) of the run's data shape; the model
works in [-1, 1].
"""

from pathlib import Path

import numpy as np

from gantool import rundir, sample_output, viz
from gantool.errors import UsageError
from gantool.sampling import draw_latents, generate, load_generator, to_uint8


def load_images(paths, data_shape):
    """Read image files as uint8 (N, H, W, C) of ``data_shape``: channels converted (grey or
    RGB), centre-cropped and resized (bicubic) to H x W."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    h, w, c = data_shape
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = ImageOps.fit(image.convert("L" if c == 1 else "RGB"), (w, h),
                                     method=Image.Resampling.BICUBIC)
                images.append(np.asarray(image, np.uint8).reshape(h, w, c))
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise UsageError(f"cannot read image {path}: {e}") from None
    return np.stack(images)


def discriminator_features(run):
    """A model from the run's discriminator input to its penultimate features (the input of
    its last weight layer), with the checkpoint's weights; None where D takes labels or packs
    samples (then only the pixel loss is used)."""
    import keras
    import tensorflow as tf

    from gantool.models import ARCHITECTURES

    config = run.config
    if config.conditional or config.pack != 1:
        return None
    discriminator = ARCHITECTURES.get(config.arch).build_discriminator(
        config, tuple(config.data_shape))
    try:
        tf.train.Checkpoint(discriminator=discriminator).restore(
            run.checkpoint).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise UsageError(f"checkpoint {run.checkpoint}: cannot load the discriminator: "
                         f"{str(e).splitlines()[0]}") from None
    last = [layer for layer in discriminator.layers if layer.trainable_weights][-1]
    return keras.Model(discriminator.inputs, last.input)


def project(run, images, steps=200, restarts=4, lr=0.05, feature_weight=0.1, seed=0, ema=None):
    """Latents (N, latent_dim) float32 whose samples best reproduce uint8 ``images``
    (N, H, W, C), and each image's pixel MSE in [-1, 1] units (N,)."""
    import keras
    import tensorflow as tf

    config = run.config
    if config.data_kind == "points" or config.conditional:
        raise UsageError("project needs an unconditional image run")
    generator = load_generator(run, ema=ema)
    features = discriminator_features(run) if feature_weight else None
    n = len(images)
    target = tf.constant(np.tile(images.astype(np.float32) / 127.5 - 1.0, (restarts, 1, 1, 1)))
    target_features = features(target, training=False) if features is not None else None
    z = tf.Variable(draw_latents(restarts * n, config.latent_dim, config.latent_dist, seed))
    optimizer = keras.optimizers.Adam(learning_rate=lr)

    def losses():
        samples = tf.cast(generator(z, training=False), tf.float32)
        pixel = tf.reduce_mean(tf.square(samples - target), axis=[1, 2, 3])
        if features is None:
            return pixel, pixel
        drift = tf.reduce_mean(tf.square(features(samples, training=False) - target_features),
                               axis=-1)
        return pixel, pixel + feature_weight * drift

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(losses()[1])
        optimizer.apply_gradients([(tape.gradient(loss, z), z)])

    for _ in range(steps):
        step()
    pixel = losses()[0].numpy().reshape(restarts, n)
    best = pixel.argmin(axis=0)
    latents = z.numpy().reshape(restarts, n, -1)[best, np.arange(n)]
    return latents, pixel[best, np.arange(n)]


def project_files(run, paths, out, interpolation_steps=16, scale=None, **options):
    """Project the image files ``paths`` and write into folder ``out``: ``NNN.png`` (each
    reconstruction), ``comparison.png`` (images over reconstructions), ``latents.npy``
    (N, latent_dim) float32, ``projection.json`` (MSEs) and, for two or more images,
    ``interpolation.gif`` between the first two projections. Returns the folder."""
    from gantool.animation import walk_frames

    out = Path(out)
    sample_output.prepare_location(out, "folder")
    images = load_images(paths, tuple(run.config.data_shape))
    latents, mse = project(run, images, **options)
    generator = load_generator(run, ema=options.get("ema"))
    reconstructions = to_uint8(generate(generator, latents))
    width = len(str(len(images) - 1))
    for i, image in enumerate(reconstructions):
        sample_output.save_image(out / f"{i:0{width}d}.png", image)
    grid = viz.image_grid(np.concatenate([images, reconstructions]), ncols=len(images))
    sample_output.save_image(out / "comparison.png",
                             viz.upscale(grid, scale or viz.default_scale(grid.shape[1])))
    rundir.save_array(out / "latents.npy", latents.astype(np.float32))
    rundir.write_json(out / "projection.json",
                      {"images": [str(p) for p in paths], "mse": [float(m) for m in mse]})
    if len(images) >= 2:
        frames = walk_frames(generator, run.config, latents[None, :2], interpolation_steps,
                             scale=scale)
        with rundir.atomic_path(out / "interpolation.gif") as tmp:
            viz.write_gif(tmp, frames, fps=8)
    return out
