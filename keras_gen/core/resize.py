"""Bicubic resizing as MATLAB's `imresize` does it: what super-resolution papers degrade their
images with and upsample their baselines with (Kim et al. 2016, Ledig et al. 2017, and the
Set5/Set14 low-resolution inputs everyone scores on). Numpy, no TensorFlow: the edge runs it
(VDSR's interpolated input, the chroma of `keras-gen upscale --colour y`); the TF twin in
keras_gen/core_tf/resize.py builds the same matrices.

The algorithm of MATLAB's `imresize(A, scale, 'bicubic')` (its `contributions` function), one
dimension at a time, each a matrix W (out, in) applied to the rows or the columns:

    h(x)  = Keys' cubic, a = -0.5 (Keys 1981):  1.5|x|^3 - 2.5|x|^2 + 1      for |x| <= 1
                                                -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2   for 1 < |x| <= 2
    antialiasing (scale s < 1):  h_s(x) = s h(s x), support 4 / s: the kernel is stretched to
                                 the output's pixel spacing, a low-pass filter before sampling
    u = (o + 1/2) / s - 1/2      the input coordinate of output pixel o (pixel centres aligned)
    W[o, i] = h_s(u - i) over the ceil(4 / s) + 2 input pixels around u, normalised to sum 1
    borders: an index outside [0, in) is mirrored, edge pixel repeated (MATLAB's 'symmetric')

MATLAB resizes the dimension with the smaller scale first (rows first when equal) and, for a
uint8 image, rounds to uint8 after each dimension (its mex keeps the input's class); `imresize`
here does both (`rounding="uint8"`), or keeps float64 throughout (`rounding=None`, what MATLAB
does on a double image, e.g. VDSR's `im2double` pipeline). How this differs from what Python
code usually calls bicubic is measured in docs/BENCHMARKS.md (restoration section): Pillow's
BICUBIC and `tf.image.resize(antialias=True)` use the same kernel and stretching but renormalise
the kernel at the border instead of mirroring, and OpenCV's INTER_CUBIC uses a = -0.75 without
antialiasing.
"""

from __future__ import annotations

import types
from functools import lru_cache

import numpy as np

from keras_gen.core.errors import KerasGenError

KERNEL_WIDTH = 4.0  # Keys' cubic is zero beyond |x| = 2
ROUNDINGS = ("uint8", None)


def cubic(x, xp=np):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's `cubic`)."""
    absx = xp.abs(x)
    absx2, absx3 = absx * absx, absx * absx * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * xp.where(absx <= 1.0, 1.0, 0.0)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * xp.where((absx > 1.0) & (absx <= 2.0), 1.0, 0.0)
    return near + far


def mirror_index(index, length: int, xp=np):
    """Indices outside [0, length) reflected with the edge repeated: -1 -> 0, -2 -> 1, length ->
    length - 1 (MATLAB's aux = [1:in, in:-1:1] lookup), for any distance."""
    period = 2 * length
    index = index % period  # numpy's and TF's floor modulo: non-negative for a positive period
    return xp.where(index >= length, period - 1 - index, index)


@lru_cache(maxsize=64)
def _matrix_cached(in_length: int, out_length: int, scale: float, antialias: bool) -> np.ndarray:
    kernel_width = KERNEL_WIDTH / scale if (scale < 1.0 and antialias) else KERNEL_WIDTH
    stretch = scale if (scale < 1.0 and antialias) else 1.0
    u = (np.arange(out_length, dtype=np.float64) + 0.5) / scale - 0.5  # (out,)
    left = np.floor(u - kernel_width / 2.0)  # MATLAB's floor(u - w/2), its 1-based u and index both shifted by 1
    taps = int(np.ceil(kernel_width)) + 2
    index = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # (out, taps)
    weights = stretch * cubic(stretch * (u[:, None] - index))
    weights = weights / weights.sum(axis=1, keepdims=True)
    matrix = np.zeros((out_length, in_length), np.float64)
    rows = np.repeat(np.arange(out_length), taps)
    np.add.at(matrix, (rows, mirror_index(index.astype(np.int64), in_length).ravel()), weights.ravel())
    matrix.flags.writeable = False
    return matrix


def resize_matrix(in_length: int, out_length: int, scale: float | None = None, antialias: bool = True) -> np.ndarray:
    """W (out_length, in_length), float64: one dimension of a bicubic resize (module docstring).
    `scale` defaults to out / in; MATLAB uses the scale it is given (1/4 for a 4x reduction), the
    same number when out = in / 4 exactly."""
    in_length, out_length = int(in_length), int(out_length)
    if in_length < 1 or out_length < 1:
        raise KerasGenError(f"cannot resize {in_length} pixels to {out_length}: both must be at least 1.")
    scale = out_length / in_length if scale is None else float(scale)
    return _matrix_cached(in_length, out_length, scale, bool(antialias))


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """MATLAB's output size for a scale factor: ceil(scale * side)."""
    return int(np.ceil(scale * height - 1e-9)), int(np.ceil(scale * width - 1e-9))


def _round_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's conversion to uint8: round half away from zero, saturate to [0, 255]."""
    return np.clip(np.floor(x + 0.5), 0, 255)


def imresize(images, scale: float | None = None, size=None, antialias: bool = True, rounding: str | None = "uint8"):
    """Images (H, W, C) or (N, H, W, C) resized by `scale` (or to `size` = (height, width)) with
    MATLAB's bicubic (module docstring).

    uint8 images come back as uint8, rounded after each dimension when `rounding="uint8"` (MATLAB
    on uint8) or once at the end with `rounding=None`; float images stay float64 (MATLAB on
    doubles: nothing is rounded or clipped, so interpolation may overshoot the range)."""
    if rounding not in ROUNDINGS:
        raise KerasGenError(f"rounding must be 'uint8' or None, got {rounding!r}.")
    array = np.asarray(images)
    single = array.ndim == 3
    batch = array[None] if single else array
    if batch.ndim != 4:
        raise KerasGenError(f"imresize takes (H, W, C) or (N, H, W, C) images, got shape {array.shape}.")
    is_uint8 = batch.dtype == np.uint8
    height, width = batch.shape[1:3]
    if (scale is None) == (size is None):
        raise KerasGenError("imresize takes a scale or a size, one of the two.")
    if size is None:
        out_h, out_w = output_size(height, width, scale)
        scales = (float(scale), float(scale))
    else:
        out_h, out_w = int(size[0]), int(size[1])
        scales = (out_h / height, out_w / width)
    rows = resize_matrix(height, out_h, scales[0], antialias)
    cols = resize_matrix(width, out_w, scales[1], antialias)
    x = batch.astype(np.float64)
    # MATLAB's order: the dimension with the smaller scale first, rows first when equal
    for dim in ((1, 2) if scales[0] <= scales[1] else (2, 1)):
        x = np.einsum("oh,bhwc->bowc", rows, x) if dim == 1 else np.einsum("ow,bhwc->bhoc", cols, x)
        if is_uint8 and rounding == "uint8":
            x = _round_uint8(x)
    if is_uint8:
        x = _round_uint8(x).astype(np.uint8)
    return x[0] if single else x


# Input pixels a bicubic upscale reads for one output pixel: MATLAB's ceil(4) + 2 (two weigh 0).
UPSCALE_TAPS = int(KERNEL_WIDTH) + 2


NUMPY = types.SimpleNamespace(
    name="numpy", float32=lambda v: np.asarray(v, np.float32), int32=lambda v: np.asarray(v, np.int32),
    arange=lambda n: np.arange(int(n), dtype=np.float32), floor=np.floor, abs=np.abs, where=np.where,
    sum=lambda x, axis: np.sum(x, axis=axis, keepdims=True), take=lambda x, index, axis: np.take(x, index, axis=axis))


def upscale_taps(length, scale, xp=NUMPY):
    """(index (out, TAPS) int32, weight (out, TAPS) float32) of a bicubic x`scale` (integer) of
    `length` pixels: output pixel o = sum_k weight[o, k] * input[index[o, k]], mirrored borders.
    The same rule as `resize_matrix`, written over an array module (`NUMPY`, or the TF namespace
    of keras_gen/core_tf/resize.py) in float32, so the edge and a graph compute the same numbers
    for any size a request brings."""
    scale = xp.float32(scale)
    length = xp.int32(length)
    out = xp.arange(xp.int32(scale) * length)  # float32 (out,)
    u = (out + 0.5) / scale - 0.5
    left = xp.floor(u - KERNEL_WIDTH / 2.0)
    index = left[:, None] + xp.arange(UPSCALE_TAPS)[None, :]  # float32 (out, TAPS), small whole numbers
    weight = cubic(u[:, None] - index, xp)
    weight = weight / xp.sum(weight, 1)
    # mirrored like `mirror_index`; the offset keeps the modulo's operand non-negative (tf2onnx
    # turns a floor modulo of a negative number into a truncated remainder)
    period = 2 * length
    index = (xp.int32(index) + 2 * period) % period
    return xp.where(index >= length, period - 1 - index, index), weight


def apply_taps(images, index, weight, axis: int, xp=NUMPY):
    """Images (N, H, W, C) resized along `axis` (1: rows, 2: columns) by (index, weight) taps."""
    gathered = xp.take(images, index, axis)  # axis 1: (N, out, TAPS, W, C); axis 2: (N, H, out, TAPS, C)
    if axis == 1:
        return xp.sum(gathered * weight[None, :, :, None, None], 2)[:, :, 0]
    return xp.sum(gathered * weight[None, None, :, :, None], 3)[:, :, :, 0]


def bicubic_upscale(images, scale: int) -> np.ndarray:
    """float images (N, H, W, C) -> (N, sH, sW, C) float32, bicubic x`scale` (an integer) without
    rounding or clipping: VDSR's interpolated input and the chroma of Y-only upscaling, at the
    edge. keras_gen.core_tf.resize.bicubic_upscale_tf is its graph twin (the same taps)."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise KerasGenError(f"bicubic_upscale takes (N, H, W, C) images, got shape {images.shape}.")
    if isinstance(scale, bool) or int(scale) != scale or int(scale) < 1:
        raise KerasGenError(f"bicubic_upscale takes a whole scale of at least 1, got {scale!r}.")
    x = apply_taps(images, *upscale_taps(images.shape[1], int(scale)), axis=1)
    return apply_taps(x, *upscale_taps(images.shape[2], int(scale)), axis=2).astype(np.float32)


__all__ = ["KERNEL_WIDTH", "NUMPY", "UPSCALE_TAPS", "apply_taps", "bicubic_upscale", "cubic", "imresize",
           "mirror_index", "output_size", "resize_matrix", "upscale_taps"]
