"""Evaluation metrics: pure maths on feature arrays (numpy/scipy, float64) and on images.

Feature extraction (Inception, the domain classifier, VGG) lives in `keras_gen.features`; the
`keras-gen evaluate` command wires extractors to these functions. Importing this package does
not import TensorFlow (only `psnr`/`ssim` do, when called).

`METRICS` maps the short names accepted by `keras-gen evaluate --metrics` to a description.
"""

from keras_gen.metrics.diversity import mean_pairwise_distance, mean_pairwise_distance_per_class
from keras_gen.metrics.fid import fid_from_features, fid_from_statistics, frechet_distance
from keras_gen.metrics.inception_score import inception_score
from keras_gen.metrics.kid import kernel_inception_distance, mmd2_unbiased
from keras_gen.metrics.label_accuracy import per_class_accuracy
from keras_gen.metrics.likelihood import bits_per_dim, independent_pixel_nll
from keras_gen.metrics.memorisation import memorisation
from keras_gen.metrics.precision_recall import precision_recall
from keras_gen.metrics.restoration import (distance_of_layer_terms, perceptual_distance, psnr, rgb_to_y, sr_scores,
                                          ssim, y_psnr, y_ssim)
from keras_gen.metrics.statistics import FeatureStatistics

METRICS = {
    "fid": "Fréchet Inception Distance between real and generated feature Gaussians (lower is better)",
    "kid": "Kernel Inception Distance, unbiased cubic-kernel MMD^2 over subsets: mean, std (lower is better)",
    "is": "Inception Score exp(E KL(p(y|x) || p(y))) over splits: mean and std (higher is better)",
    "pr": "Improved precision (quality) and recall (coverage) from k-NN feature manifolds (higher is better)",
    "mem": "Memorisation: nearest-training-image distance vs. a test-set baseline (ratio << 1: copying)",
    "div": "Diversity: mean pairwise feature distance of generated samples (near 0 means mode collapse)",
    "psnr": "Peak signal-to-noise ratio against ground-truth images, dB (higher is better)",
    "ssim": "Structural similarity against ground-truth images, up to 1 (higher is better)",
    "bpd": "Negative log-likelihood in bits per dimension on 8-bit data (lower is better)",
    "label_acc": "Share of class-conditional samples the domain classifier names as the requested class, per class",
}

__all__ = [
    "METRICS",
    "FeatureStatistics",
    "bits_per_dim",
    "distance_of_layer_terms",
    "fid_from_features",
    "fid_from_statistics",
    "frechet_distance",
    "independent_pixel_nll",
    "inception_score",
    "kernel_inception_distance",
    "mean_pairwise_distance",
    "mean_pairwise_distance_per_class",
    "memorisation",
    "mmd2_unbiased",
    "per_class_accuracy",
    "precision_recall",
    "perceptual_distance",
    "psnr",
    "rgb_to_y",
    "sr_scores",
    "ssim",
    "y_psnr",
    "y_ssim",
]
