"""VDSR: Kim, Lee & Lee 2016, "Accurate Image Super-Resolution Using Very Deep Convolutional
Networks" (CVPR).

The network sees the low-resolution image interpolated to the output size (bicubic, MATLAB's:
keras_gen/core/resize.py), ILR, and learns only what interpolation misses (sec. 3.1):

    r = HR - ILR,    f = D 3x3 convolutions (D = 20, 64 filters, ReLU),    SR = ILR + f(ILR)
    L = mean (SR - HR)^2   (the paper's 1/2 ||r - f(x)||^2, up to the factor)

Residual learning lets a high learning rate train a deep plain network (SGD, momentum 0.9,
weight decay 1e-4, rate 0.1 divided by 10 every 20 epochs), kept stable by adjustable gradient
clipping (sec. 3.3): each gradient is clipped to [-theta/gamma, theta/gamma], gamma the current
rate, so a step moves a weight by at most theta whatever the rate. One network serves several
scales (sec. 4.2: trained on x2, x3 and x4 mixed, it matches the single-scale networks): the
training examples draw their scale (keras_gen/data/degradations.py), and a request says which
(`scale`, one the network was trained for).

Exported, the network takes the low-resolution image and the scale: the bicubic interpolation is
part of the graph (keras_gen/core_tf/resize.py: Range, Floor and Gather ops, exact in ONNX), so
the SavedModel, model.onnx and the numpy edge loop give the same images at any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from keras_gen import inputs as kinds
from keras_gen.core_tf.resize import bicubic_upscale_tf
from keras_gen.errors import KerasGenError
from keras_gen.keras_adapter import replica_gradient_scale
from keras_gen.layers.sr_blocks import build_vdsr
from keras_gen.models.base import ModelOptions, option
from keras_gen.models.restoration.common import SCALES, SuperResolutionModel, psnr_of_mse

OPTIMIZERS = ("sgd", "adam")


def parse_scales(text: str) -> tuple[int, ...]:
    try:
        scales = tuple(sorted({int(part) for part in str(text).split(",") if part.strip()}))
    except ValueError:
        scales = ()
    if not scales or not set(scales) <= set(SCALES):
        raise KerasGenError(f"scales takes some of {', '.join(map(str, SCALES))} separated by commas (2,3,4), "
                            f"got {text!r}.")
    return scales


@keras.saving.register_keras_serializable(package="keras_gen")
class VDSR(SuperResolutionModel):
    """A deep plain network on the interpolated image, learning the residual (module docstring)."""

    interpolated_input = True

    @dataclass
    class Options(ModelOptions):
        scales: str = option("2,3,4", "the scales trained together, one drawn per example (Kim et al.: 2,3,4); the "
                             "training patch (--image-size) must be a multiple of each")
        depth: int = option(20, "convolution layers (Kim et al. 20)", min=2)
        filters: int = option(64, "filters of each hidden layer (Kim et al. 64)", min=1)
        optimizer: str = option("sgd", "sgd (the paper's: momentum 0.9, weight decay) or adam", choices=OPTIMIZERS)
        learning_rate: float = option(0.1, "the initial rate (Kim et al. 0.1 with SGD; 1e-3 suits adam)", min=0.0,
                                      min_exclusive=True)
        momentum: float = option(0.9, "SGD's momentum (Kim et al. 0.9)", min=0.0, max=0.999)
        weight_decay: float = option(1e-4, "SGD's weight decay (Kim et al. 1e-4)", min=0.0)
        clip: float = option(0.01, "theta of the adjustable gradient clipping: each gradient is clipped to "
                             "[-theta/gamma, theta/gamma], gamma the current rate; 0 is off", min=0.0)
        decay_steps: int = option(0, "the rate is divided by 10 every this many steps (Kim et al.: every 20 of "
                                  "80 epochs); 0 keeps it", min=0)
        augment_patches: bool = option(True, "flip and rotate each training patch (Kim et al. rotate and flip)")

    harness_options = {"scales": "2,4", "depth": 3, "filters": 4}
    harness_image_size = 16

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.vdsr = build_vdsr(self.channels, o.depth, o.filters)
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.built = True

    def scales(self):
        return parse_scales(self.options.scales)

    def default_optimizers(self):
        o = self.options
        rate = o.learning_rate if not o.decay_steps else keras.optimizers.schedules.ExponentialDecay(
            o.learning_rate, o.decay_steps, 0.1, staircase=True)
        if o.optimizer == "adam":
            return {"vdsr": keras.optimizers.Adam(rate)}
        return {"vdsr": keras.optimizers.SGD(rate, momentum=o.momentum, weight_decay=o.weight_decay or None)}

    @property
    def metrics(self):
        return [self.mse_tracker, self.psnr_tracker]

    def current_rate(self):
        """gamma: the rate of the coming update (the schedule's, at the optimizer's step)."""
        o = self.options
        if not o.decay_steps:
            return tf.constant(o.learning_rate, tf.float32)
        steps = tf.cast(self.optimizers["vdsr"].iterations, tf.float32)
        return o.learning_rate * tf.pow(0.1, tf.floor(steps / o.decay_steps))

    def restore(self, inputs):
        """Interpolated images -> ILR + f(ILR), in [-1, 1]."""
        return tf.clip_by_value(inputs + self.vdsr(inputs, training=False), -1.0, 1.0)

    def train_step(self, data):
        interpolated, high = data  # (B, H, W, C) both: ILR and HR
        variables = self.variables_for("vdsr")
        with tf.GradientTape() as tape:
            mse = tf.reduce_mean(tf.square(interpolated + self.vdsr(interpolated, training=True) - high))
        scale = replica_gradient_scale()  # the replicas' gradients are summed (see apply_gradients)
        grads = tape.gradient(mse, variables) if scale == 1.0 else \
            tape.gradient(mse, variables, output_gradients=tf.fill(tf.shape(mse), tf.cast(scale, mse.dtype)))
        if self.options.clip:
            bound = self.options.clip / self.current_rate()  # adjustable clipping: theta / gamma
            grads = [tf.clip_by_value(g, -bound, bound) for g in grads]
        self.apply_optimizer("vdsr", grads)
        self.mse_tracker.update_state(mse)
        self.psnr_tracker.update_state(psnr_of_mse(mse))
        return {m.name: m.result() for m in self.metrics}

    # -- the request: a low-resolution image and a scale ------------------------------------------
    def input_specs(self):
        scales = self.scales()
        return [kinds.image((None, None, self.channels), name="image"),
                kinds.option("scale", scales[0], scales[0], scales[-1], "int32",
                             f"up-scaling factor, one the network was trained for: {', '.join(map(str, scales))}")]

    def generate(self, image, scale=None):
        """Low-resolution images (B, h, w, C) -> (B, s h, s w, C): bicubic x s, plus the residual."""
        if scale is None:
            scale = self.default_scale
        elif not tf.is_tensor(scale) or tf.executing_eagerly():  # a value: say now if it was never trained
            self.check_scale(int(np.asarray(scale)))
        interpolated = bicubic_upscale_tf(image, tf.cast(scale, tf.int32))
        return self.restore(interpolated)

    def receptive_radius(self) -> int:
        # depth 3x3 layers at the output resolution (depth pixels there, depth / 2 input pixels at
        # x2 and fewer at larger scales), the bicubic's two taps each side, and one to spare
        return self.options.depth // 2 + 3
