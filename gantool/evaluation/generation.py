"""Samples from a generator, as evaluation scores them: uint8 images or float32 points from
latents drawn from a seed."""

import numpy as np

from gantool.sampling import draw_latents, generate, to_uint8


def generate_images(generator, n, latent_dim, latent_dist="normal", seed=0, chunk=500):
    """``n`` generator samples as uint8 (n, H, W, C), generated ``chunk`` at a time."""
    latents = draw_latents(n, latent_dim, latent_dist, seed)
    return np.concatenate([to_uint8(generate(generator, latents[i:i + chunk], batch_size=chunk))
                           for i in range(0, n, chunk)])


def generate_points(generator, n, latent_dim, latent_dist="normal", seed=0):
    """``n`` generator samples as float32 (n, 2) points."""
    latents = draw_latents(n, latent_dim, latent_dist, seed)
    return generate(generator, latents).astype(np.float32)
