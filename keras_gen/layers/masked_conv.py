"""Masked convolutions and the gated PixelCNN block: van den Oord et al. 2016, "Pixel Recurrent
Neural Networks" (masks A and B) and "Conditional Image Generation with PixelCNN Decoders"
(gated block with vertical and horizontal stacks).

An autoregressive image model factorises p(x) over sub-pixels in raster order, red before green
before blue within a pixel:
    p(x) = prod_i p(x_{i,R} | x_{<i}) p(x_{i,G} | x_{<i}, x_{i,R}) p(x_{i,B} | x_{<i}, x_{i,R}, x_{i,G})
so the output for (pixel i, sub-pixel c) may depend only on pixels before i and, at pixel i, on
sub-pixels before c. Convolutions enforce that by multiplying their kernels by a constant 0/1
mask (exported to ONNX as a constant multiply before Conv; no custom op):

    mask "A" / "B"   rows above the centre and, in the centre row, columns left of it; at the
                     centre tap, feature channels are split into `channel_groups` contiguous
                     groups (R, G, B) and output group g sees input groups < g (A, the first
                     layer: nothing of the current sub-pixel) or <= g (B, later layers)
    mask "vertical"  rows up to and including the centre row, every column and channel

The gated block (fig. 2 of the conditional PixelCNN paper) keeps two stacks:
    v' = gate(W_v * v + c_v)                   vertical: n x n kernel, rows <= current
    h' = h + W_1 gate(W_h * h + W_vh shift(W_v * v [+ c_v]) + c_h)   horizontal: 1 x n, mask A/B
    gate(y) = tanh(y_1) * sigmoid(y_2)          (y split in two halves along channels)
where shift() moves the vertical pre-activations down one row, so the horizontal stack at row i
sees only rows < i through it: the vertical stack covers the whole region above (no blind spot,
unlike the masked 3x3 stacks of the first paper) and nothing of row i leaks into it.

c_v, c_h condition both gates (f and g halves) of both stacks on a class (the paper's V^T h,
eq. 4), in one of two ways:
    num_classes          c_v = c_h = V^T h, a learned per-class vector (eq. 4 with a one-hot h):
                         the same at every position
    condition_channels   c_v = V_v * s, c_h = V_h * s (1x1 convolutions, eq. 5), s (B, H, W, E) a
                         map given as the block's third input: location-dependent conditioning,
                         a per-class map s = m(h) lets the class say where strokes go. c_v is
                         added before the shifted vertical pre-activations feed the horizontal
                         stack (the [+ c_v]), so the last block's, whose vertical output no
                         layer reads, still conditions its horizontal gate
The condition carries no pixel values, so its convolutions need no mask.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_gen.errors import KerasGenError

MASK_TYPES = ("A", "B", "vertical")


def channel_group(index: np.ndarray, channels: int, groups: int) -> np.ndarray:
    """Group of each of `channels` feature channels split into `groups` contiguous blocks."""
    return (np.asarray(index) * groups) // channels


def build_mask(kernel_size: tuple, in_channels: int, filters: int, mask_type: str, channel_groups: int = 1,
               output_copies: int = 1) -> np.ndarray:
    """The 0/1 mask (kh, kw, in, out) of a masked convolution (module docstring). The outputs
    are `output_copies` consecutive copies of one grouping (a gate's two halves)."""
    kh, kw = kernel_size
    centre_row, centre_col = kh // 2, kw // 2
    mask = np.zeros((kh, kw, in_channels, filters), np.float32)
    if mask_type == "vertical":
        mask[:centre_row + 1] = 1.0
        return mask
    mask[:centre_row] = 1.0
    mask[centre_row, :centre_col] = 1.0
    per_copy = filters // output_copies
    in_group = channel_group(np.arange(in_channels), in_channels, channel_groups)[:, None]
    out_group = channel_group(np.arange(filters) % per_copy, per_copy, channel_groups)[None, :]
    sees = in_group < out_group if mask_type == "A" else in_group <= out_group
    mask[centre_row, centre_col] = sees.astype(np.float32)
    return mask


@keras.saving.register_keras_serializable(package="keras_gen")
class MaskedConv2D(keras.layers.Layer):
    """A stride-1 'same' convolution whose kernel is multiplied by a constant causal mask."""

    def __init__(self, filters: int, kernel_size, mask_type: str = "B", channel_groups: int = 1,
                 output_copies: int = 1, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        if mask_type not in MASK_TYPES:
            raise KerasGenError(f"MaskedConv2D mask_type must be one of {MASK_TYPES}, got {mask_type!r}.")
        kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if any(k < 1 or k % 2 == 0 for k in kernel_size):
            raise KerasGenError(f"MaskedConv2D needs odd kernel sizes (a centre tap), got {kernel_size}.")
        per_copy = int(filters) // int(output_copies)
        if int(filters) % int(output_copies) or (mask_type != "vertical" and per_copy < int(channel_groups)):
            raise KerasGenError(f"MaskedConv2D: {filters} filters in {output_copies} copies cannot hold "
                                f"{channel_groups} channel groups; use more filters.")
        self.filters, self.kernel_size, self.mask_type = int(filters), kernel_size, mask_type
        self.channel_groups, self.output_copies, self.use_bias = int(channel_groups), int(output_copies), bool(use_bias)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        if self.mask_type != "vertical" and in_channels < self.channel_groups:
            raise KerasGenError(f"MaskedConv2D: {in_channels} input channels cannot hold {self.channel_groups} groups.")
        self.mask = build_mask(self.kernel_size, in_channels, self.filters, self.mask_type, self.channel_groups,
                               self.output_copies)
        self.kernel = self.add_weight(shape=self.mask.shape, name="kernel", initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros") if self.use_bias else None

    def call(self, x):
        kernel = ops.convert_to_tensor(self.kernel)  # in the compute dtype (float16 under mixed precision)
        y = ops.conv(x, kernel * ops.convert_to_tensor(self.mask, kernel.dtype), strides=1, padding="same")
        return y + self.bias if self.use_bias else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "mask_type": self.mask_type, "channel_groups": self.channel_groups,
                "output_copies": self.output_copies, "use_bias": self.use_bias}


def gate(y):
    """tanh(y_1) * sigmoid(y_2), y split in two halves along the channels."""
    first, second = ops.split(y, 2, axis=-1)
    return ops.tanh(first) * ops.sigmoid(second)


def shift_down(x):
    """x moved down one row (zeros enter at the top): row i then holds what row i - 1 saw."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package="keras_gen")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated layer: [v, h] (+ label) -> [v', h'] (module docstring).

    `first=True` is the input layer: its horizontal convolution uses mask A and it has no
    residual connection (h is the image, not `filters` wide). `num_classes` adds a learned
    per-class bias to both stacks' gate pre-activations (the paper's V^T h with a one-hot h; the
    third input is the label); `condition_channels` adds 1x1 convolutions of a condition map
    (B, H, W, E), one per stack (eq. 5; the third input is the map). At most one of the two.
    """

    def __init__(self, filters: int, kernel_size: int, first: bool = False, channel_groups: int = 1,
                 num_classes: int | None = None, condition_channels: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.first = int(filters), int(kernel_size), bool(first)
        self.channel_groups = int(channel_groups)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.condition_channels = None if condition_channels is None else int(condition_channels)
        if self.num_classes and self.condition_channels:
            raise KerasGenError("GatedPixelCNNBlock takes a per-class bias (num_classes) or a condition map "
                                "(condition_channels), not both.")
        k, f = self.kernel_size, self.filters
        self.vertical = MaskedConv2D(2 * f, (k, k), "vertical", name="vertical")
        self.horizontal = MaskedConv2D(2 * f, (1, k), "A" if first else "B", self.channel_groups, output_copies=2,
                                       name="horizontal")
        # The shifted vertical stack sees only rows above, so every group may read it: no mask.
        self.vertical_to_horizontal = keras.layers.Conv2D(2 * f, 1, name="vertical_to_horizontal")
        self.horizontal_out = MaskedConv2D(f, 1, "B", self.channel_groups, name="horizontal_out")
        self.class_bias = (keras.layers.Embedding(self.num_classes, 2 * f, name="class_bias")
                           if self.num_classes else None)
        self.vertical_condition = self.horizontal_condition = None
        if self.condition_channels:  # V_v * s and V_h * s: each stack its own projection, both gate halves
            self.vertical_condition = keras.layers.Conv2D(2 * f, 1, use_bias=False, name="vertical_condition")
            self.horizontal_condition = keras.layers.Conv2D(2 * f, 1, use_bias=False, name="horizontal_condition")

    def build(self, input_shapes):
        v_shape, h_shape = input_shapes[0], input_shapes[1]
        self.vertical.build(v_shape)
        self.horizontal.build(h_shape)
        self.vertical_to_horizontal.build((*v_shape[:-1], 2 * self.filters))
        self.horizontal_out.build((*h_shape[:-1], self.filters))
        if self.class_bias is not None:
            self.class_bias.build((None,))
        if self.vertical_condition is not None:
            condition_shape = (*v_shape[:-1], self.condition_channels)
            self.vertical_condition.build(condition_shape)
            self.horizontal_condition.build(condition_shape)

    def call(self, inputs):
        v, h = inputs[0], inputs[1]  # (B, H, W, Cv), (B, H, W, Ch)
        v_pre = self.vertical(v)  # (B, H, W, 2F): rows <= i
        if self.vertical_condition is not None:  # before the horizontal stack reads it: the last block's is used too
            v_pre = v_pre + self.vertical_condition(inputs[2])  # (B, H, W, 2F): where, for this class
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(shift_down(v_pre))  # rows < i, row i left of j
        if self.class_bias is not None:
            bias = ops.reshape(self.class_bias(ops.cast(inputs[2], "int32")), (-1, 1, 1, 2 * self.filters))
            v_pre, h_pre = v_pre + bias, h_pre + bias
        if self.horizontal_condition is not None:
            h_pre = h_pre + self.horizontal_condition(inputs[2])
        h_out = self.horizontal_out(gate(h_pre))
        return [gate(v_pre), h_out if self.first else h + h_out]

    def compute_output_shape(self, input_shapes):
        v_shape = input_shapes[0]
        return [(*v_shape[:-1], self.filters), (*v_shape[:-1], self.filters)]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "first": self.first, "channel_groups": self.channel_groups, "num_classes": self.num_classes,
                "condition_channels": self.condition_channels}
