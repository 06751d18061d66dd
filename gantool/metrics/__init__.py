"""GAN evaluation metrics: FID, KID, precision/recall on FID Inception features, and
mode metrics for the 2-D toy distributions. TensorFlow is imported only when a function
that needs it runs."""

from .features import extract_features
from .fid import feature_statistics, fid_from_features, frechet_distance
from .inception import (
    WeightsUnavailable,
    build_fid_inception,
    default_weights_path,
    preprocess_for_inception,
    resolve_weights,
)
from .kid import kernel_inception_distance
from .prd import precision_recall
from .toy import grid_modes, mode_metrics, ring_modes, toy_mode_metrics

__all__ = [
    "WeightsUnavailable", "build_fid_inception", "default_weights_path", "extract_features",
    "feature_statistics", "fid_from_features", "frechet_distance", "grid_modes",
    "kernel_inception_distance", "mode_metrics", "precision_recall", "preprocess_for_inception",
    "resolve_weights", "ring_modes", "toy_mode_metrics",
]
