"""ESPCN: Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network".

Every convolution runs at the low resolution, and the last one makes r^2 C channels that a
periodic shuffle (depth-to-space) arranges into the r-times larger image (sec. 2.2):

    f1 = tanh(W1 * I_LR), 5x5, 64        f2 = tanh(W2 * f1), 3x3, 32
    I_SR = PS(W3 * f2), 3x3, r^2 C        L = mean (I_SR - I_HR)^2

(tanh at the output here, for images in [-1, 1]). About 20 k parameters at x3 on one channel:
the cheapest network of the family, and the one whose up-sampling layer is the whole point, so
`--set upsample=transpose|resize` compares the three ways on the same network.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen.layers.sr_blocks import build_espcn
from keras_gen.models.base import option
from keras_gen.models.restoration.common import SuperResolutionModel, SuperResolutionOptions, psnr_of_mse


@keras.saving.register_keras_serializable(package="keras_gen")
class ESPCN(SuperResolutionModel):
    """Three convolutions at the low resolution and one sub-pixel layer (module docstring)."""

    @dataclass
    class Options(SuperResolutionOptions):
        scale: int = option(3, "the up-scaling factor (Shi et al. report x2, x3, x4; x3 first)", choices=(2, 3, 4))
        filters: int = option(64, "filters of the first layer; the second has half (Shi et al. 64, 32)", min=2)
        learning_rate: float = option(1e-3, "Adam (Shi et al. use SGD from 0.01 down to 1e-4)", min=0.0,
                                      min_exclusive=True)

    harness_options = {"scale": 2, "filters": 4}
    harness_image_size = 16

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.espcn = build_espcn(self.channels, o.scale, o.filters, o.upsample)
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.built = True

    def default_optimizers(self):
        return {"espcn": keras.optimizers.Adam(self.options.learning_rate)}

    @property
    def metrics(self):
        return [self.mse_tracker, self.psnr_tracker]

    def train_step(self, data):
        low, high = data
        with tf.GradientTape() as tape:
            mse = tf.reduce_mean(tf.square(self.espcn(low, training=True) - high))
        self.apply_gradients("espcn", tape, mse)
        self.mse_tracker.update_state(mse)
        self.psnr_tracker.update_state(psnr_of_mse(mse))
        return {m.name: m.result() for m in self.metrics}

    def generate(self, image):
        return self.espcn(image, training=False)

    def receptive_radius(self) -> int:
        return 2 + 1 + 1 + 1  # 5x5, 3x3, the up-sampling's 3x3, one to spare
