"""ProGAN's blocks (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", sections 3-4.2) and its growth schedule.

- Equalised learning rate (4.1): weights are drawn from N(0, 1) and scaled at run time by He's
  constant, w_hat = w * gain / sqrt(fan_in), so that Adam's per-weight step size means the same
  change for every layer: `EqualizedDense`, `EqualizedConv2D` (in `equalized.py`, shared with
  StyleGAN, as are `PixelNorm` and `MinibatchStdDev`).
- Pixel-wise feature normalisation in G (4.2): b = a / sqrt(mean_j a_j^2 + 1e-8) over channels
  at each pixel: `PixelNorm`.
- Minibatch standard deviation (3): the standard deviation of each feature at each pixel over
  the minibatch, averaged to one number and appended to D's input as a constant feature map,
  so D can see a batch's (lack of) variation: `MinibatchStdDev` (the paper's whole-batch form;
  the official code groups 4 samples).
- Fade-in (3, figure 2): a new resolution is blended in, alpha going 0 -> 1. With every block
  built up front, both networks take a level of detail lod in [0, K - 1] (0: the full resolution,
  K - 1: 4 x 4) and blend at the resolution of stage s, whose lod is k = K - 1 - s, with
  t = clip(lod - k, 0, 1), the official code's `lerp_clip`:  out = a + (b - a) t  (a: the new,
  finer path, b: the coarser one): `LodBlend`.
  Stage s (resolution 4 * 2^s) fading in at alpha is lod = K - s - alpha, so t = 1 - alpha at
  its level: alpha 0 is the coarser stage alone, alpha 1 the new one alone.

The schedule (`growth_state`): stage 0 for P images, then each further stage fades in over P
images and is stable for P more (the paper's 800k each); the last stage stays.
"""

from __future__ import annotations


import keras
import numpy as np
import tensorflow as tf
from keras import ops




@keras.saving.register_keras_serializable(package="keras_gen")
class LodBlend(keras.layers.Layer):
    """[a (finer path), b (coarser path), lod (B, 1)] -> a + (b - a) * clip(lod - level, 0, 1)."""

    def __init__(self, level: int, **kwargs):
        super().__init__(**kwargs)
        self.level = int(level)

    def call(self, inputs):
        finer, coarser, lod = inputs
        t = ops.reshape(ops.clip(ops.cast(lod, finer.dtype) - self.level, 0.0, 1.0), (-1, 1, 1, 1))
        return finer + (coarser - finer) * t

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "level": self.level}


def pixelate(images, factor_log2: int):
    """Average 2^k x 2^k blocks and repeat them back: images at lod k, same size (B, S, S, C)."""
    if factor_log2 == 0:
        return images
    factor = 2 ** factor_log2
    pooled = tf.nn.avg_pool2d(images, factor, factor, "VALID")
    return tf.repeat(tf.repeat(pooled, factor, axis=1), factor, axis=2)


def reals_at_lod(images, lod, stages: int):
    """Real images as D sees them at `lod` (a scalar): lerp(P_f(x), P_{f+1}(x), lod - f), f = floor(lod),
    with P_k the 2^k pixelation, i.e. the official code's FadeLOD and UpscaleLOD as hat weights
    max(0, 1 - |lod - k|) over every k (a static graph; no branch on lod)."""
    lod = tf.cast(lod, images.dtype)
    out = tf.zeros_like(images)
    for k in range(stages):
        out += tf.maximum(0.0, 1.0 - tf.abs(lod - k)) * pixelate(images, k)
    return out


def growth_state(images_seen, phase_images: int, stages: int):
    """(stage, alpha) after `images_seen` real images: stage 0 for one phase of P images, then
    for each stage s >= 1 a fade-in phase (alpha = fraction of it done) and a stable phase
    (alpha = 1); the last stage stays. TensorFlow or numpy integers alike."""
    module = tf if tf.is_tensor(images_seen) else np
    phase = images_seen // phase_images
    fraction = module.cast(images_seen % phase_images, module.float32) / float(phase_images) if module is tf \
        else np.float32((images_seen % phase_images) / phase_images)
    stage = module.minimum((phase + 1) // 2, stages - 1)
    fading = (phase % 2 == 1) & (phase < 2 * stages - 1)
    alpha = module.where(fading, fraction, module.ones_like(fraction))
    return (module.cast(stage, module.int32) if module is tf else int(stage)), alpha


def lod_of(stage, alpha, stages: int):
    """lod = K - stage - alpha: K - 1 at stage 0 (4 x 4), 0 once the last stage is in."""
    return float(stages) - tf.cast(stage, tf.float32) - alpha
