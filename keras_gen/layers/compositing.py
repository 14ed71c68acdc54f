"""Laying drawn colours over a plain background through a drawn mask: the second output stream
of Dosovitskiy et al.'s chairs decoder (a segmentation mask beside the colours), and the layered
generators' foreground/background split (LR-GAN, Yang et al. 2017). The background outside the
mask is one learned colour, exactly, so a judge trained on plain backgrounds is not misled by a
background that wanders by a few levels. Used by the chairs decoder and text2img's generator."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_gen")
class MaskComposite(layers.Layer):
    """[colours (B, H, W, C), mask logits (B, H, W, 1)] -> m * colours + (1 - m) * b, m = sigmoid(mask
    logits), b a learned background colour (C,): the shape's colours laid over a plain background
    through the decoder's own segmentation mask (the paper's second output stream)."""

    def build(self, input_shapes):
        self.background = self.add_weight(shape=(int(input_shapes[0][-1]),), name="background", initializer="zeros")

    def call(self, inputs):
        colours, mask_logits = inputs
        mask = ops.sigmoid(mask_logits)
        return mask * colours + (1.0 - mask) * self.background

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]
