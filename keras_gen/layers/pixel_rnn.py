"""The recurrent layers of PixelRNN: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel
Recurrent Neural Networks" (sec. 3.1 Row LSTM, 3.2 Diagonal BiLSTM, 3.3 residual connections).

Both are LSTMs over the image whose gates, for hidden state h and cell c, are
    [o, f, i, g] = sigma(K^ss * h_prev + K^is * x)     (g with tanh instead of sigma)
    c = f . c_prev + i . g,    h = o . tanh(c)                                   (eq. 3)
with K^is an input-to-state and K^ss a state-to-state convolution; they differ in what
"previous" is, and so in their receptive field:

    RowLSTM          one row at a time, top to bottom. K^is is a 1 x k convolution of the row
                     masked like PixelCNN's mask B (pixels left of j, and j's own earlier
                     sub-pixels); K^ss a 1-D convolution of width k over the previous row's
                     states. Pixel (i, j) sees a triangle above it (and, through the layer below,
                     its row's left part): fast, a blind spot at the sides.
    DiagonalLSTM     one diagonal at a time. The input map is skewed (row i shifted right by i),
                     so that (i - 1, j) and (i, j - 1) both sit in the previous column; K^ss is a
                     2 x 1 column convolution over it, K^is a masked 1 x 1. The state at (i, j)
                     sees every pixel above and to the left.
    DiagonalBiLSTM   a left-to-right and a right-to-left DiagonalLSTM (the latter on the
                     mirrored map); the right-to-left output is shifted down one row before the
                     two are added, so (i, j) sees the input at every position of the rows above
                     and at (i, <= j) of its own row: no blind spot. That is every earlier
                     *pixel* only if the input carries each pixel at some position of its own
                     row. After a mask-A convolution, pixel (i, j) is carried from (i, j + 1) on
                     and a row's last pixel at no position of its row, so PixelRNN runs these
                     layers one zero column wider (keras_gen/models/autoregressive/pixelrnn.py,
                     border_column).

Each layer is residual: x (B, H, W, F) -> LSTM with `units` states -> a masked 1 x 1
convolution back to F features, added to x. Features are split into `channel_groups`
contiguous groups (R, G, B) through every masked convolution and every gate, so sub-pixel c
sees only sub-pixels < c of its own pixel (keras_gen/layers/masked_conv.py). The recurrences
are unrolled over the image's rows (or diagonals): the image size is fixed when the layer is
built, and the graph exports to ONNX as plain convolutions and elementwise ops.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_gen.errors import KerasGenError
from keras_gen.layers.masked_conv import MaskedConv2D, shift_down

FORGET_BIAS = 1.0  # added to the forget gate's pre-activation: the cell keeps its state at the start


def lstm_update(gates, cell):
    """gates (..., 4u) as [o, f, i, g] and the previous cell -> (h, c) (eq. 3)."""
    o, f, i, g = ops.split(gates, 4, axis=-1)
    cell = ops.sigmoid(f + FORGET_BIAS) * cell + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(cell), cell


def skew(x):
    """(B, H, W, C) -> (B, H, W + H - 1, C), row i shifted right by i (zeros elsewhere): pad each
    row with H zeros, flatten, drop the last H values and fold at width W + H - 1."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    x = ops.pad(x, [[0, 0], [0, 0], [0, height], [0, 0]])
    x = ops.reshape(x, (-1, height * (width + height), channels))[:, :height * (width + height - 1)]
    return ops.reshape(x, (-1, height, width + height - 1, channels))


def unskew(x, width: int):
    """The inverse of `skew`: (B, H, W + H - 1, C) -> (B, H, W, C)."""
    height, channels = x.shape[1], x.shape[3]
    x = ops.reshape(x, (-1, height * (width + height - 1), channels))
    x = ops.pad(x, [[0, 0], [0, height], [0, 0]])
    return ops.reshape(x, (-1, height, width + height, channels))[:, :, :width]


def _check_units(units: int, channel_groups: int):
    if units < channel_groups:
        raise KerasGenError(f"PixelRNN needs at least one LSTM unit per colour channel: units >= {channel_groups}, "
                            f"got {units}.")


@keras.saving.register_keras_serializable(package="keras_gen")
class RowLSTM(layers.Layer):
    """Residual Row LSTM layer (module docstring): (B, H, W, F) -> (B, H, W, F)."""

    def __init__(self, units: int, kernel_size: int = 3, channel_groups: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units, self.kernel_size, self.channel_groups = int(units), int(kernel_size), int(channel_groups)
        _check_units(self.units, self.channel_groups)
        self.input_to_state = MaskedConv2D(4 * self.units, (1, self.kernel_size), "B", self.channel_groups,
                                           output_copies=4, name="input_to_state")
        # The previous row is all past: every group may read all of it, no mask.
        self.state_to_state = layers.Conv1D(4 * self.units, self.kernel_size, padding="same", use_bias=False,
                                            name="state_to_state")
        self.output_conv = None

    def build(self, input_shape):
        batch, height, width, features = input_shape
        self.input_to_state.build(input_shape)
        self.state_to_state.build((batch, width, self.units))
        self.output_conv = MaskedConv2D(features, 1, "B", self.channel_groups, name="output")
        self.output_conv.build((batch, height, width, self.units))

    def call(self, x):
        gates_in = self.input_to_state(x)  # (B, H, W, 4u): row i's own context, masked
        state = ops.zeros_like(gates_in[:, 0, :, :self.units])  # (B, W, u)
        cell, rows = state, []
        for row in range(x.shape[1]):  # unrolled: H steps, each a 1-D convolution of the last row
            state, cell = lstm_update(gates_in[:, row] + self.state_to_state(state), cell)
            rows.append(state)
        return x + self.output_conv(ops.stack(rows, axis=1))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "kernel_size": self.kernel_size,
                "channel_groups": self.channel_groups}


@keras.saving.register_keras_serializable(package="keras_gen")
class DiagonalLSTM(layers.Layer):
    """One direction of the Diagonal BiLSTM, left to right: (B, H, W, F) -> states (B, H, W, u).
    `masked=False` reads the whole input pixel (the right-to-left pass, whose output is shifted
    down a row: everything it reads is then in the past)."""

    def __init__(self, units: int, channel_groups: int = 1, masked: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.channel_groups, self.masked = int(units), int(channel_groups), bool(masked)
        _check_units(self.units, self.channel_groups)
        self.input_to_state = (MaskedConv2D(4 * self.units, 1, "B", self.channel_groups, output_copies=4,
                                            name="input_to_state") if self.masked
                               else layers.Conv2D(4 * self.units, 1, name="input_to_state"))
        # (i - 1, j) and (i, j - 1) in the previous skewed column: rows i - 1 and i, causal padding
        self.state_to_state = layers.Conv1D(4 * self.units, 2, padding="causal", use_bias=False,
                                            name="state_to_state")

    def build(self, input_shape):
        self.input_to_state.build(input_shape)
        self.state_to_state.build((input_shape[0], input_shape[1], self.units))

    def call(self, x):
        width = x.shape[2]
        gates_in = skew(self.input_to_state(x))  # (B, H, W + H - 1, 4u); zeros off the image
        state = ops.zeros_like(gates_in[:, :, 0, :self.units])  # (B, H, u): one skewed column
        cell, columns = state, []
        for column in range(gates_in.shape[2]):
            state, cell = lstm_update(gates_in[:, :, column] + self.state_to_state(state), cell)
            columns.append(state)
        return unskew(ops.stack(columns, axis=2), width)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "channel_groups": self.channel_groups,
                "masked": self.masked}


@keras.saving.register_keras_serializable(package="keras_gen")
class DiagonalBiLSTM(layers.Layer):
    """Residual Diagonal BiLSTM layer (module docstring): (B, H, W, F) -> (B, H, W, F)."""

    def __init__(self, units: int, channel_groups: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units, self.channel_groups = int(units), int(channel_groups)
        self.left_to_right = DiagonalLSTM(self.units, self.channel_groups, masked=True, name="left_to_right")
        self.right_to_left = DiagonalLSTM(self.units, self.channel_groups, masked=False, name="right_to_left")
        self.output_conv = None

    def build(self, input_shape):
        self.left_to_right.build(input_shape)
        self.right_to_left.build(input_shape)
        self.output_conv = MaskedConv2D(input_shape[-1], 1, "B", self.channel_groups, name="output")
        self.output_conv.build((*input_shape[:-1], self.units))

    def call(self, x):
        forward = self.left_to_right(x)  # (B, H, W, u): rows <= i, columns <= j
        backward = ops.flip(self.right_to_left(ops.flip(x, axis=2)), axis=2)  # rows <= i, columns >= j
        return x + self.output_conv(forward + shift_down(backward))  # backward now from rows < i only

    def get_config(self):
        return {**super().get_config(), "units": self.units, "channel_groups": self.channel_groups}
