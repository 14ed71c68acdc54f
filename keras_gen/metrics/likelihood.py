"""Bits per dimension: negative log-likelihood of images, normalised so models compare.

For an image with D = H * W * C values and negative log-likelihood NLL (in nats),

    bits/dim = NLL / (D ln 2)

(e.g. van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
section 5.1). The number is defined for the *discrete* data, 8-bit values x in {0, ..., 255}^D:
a model that puts probability 1/256 on every value scores exactly 8 bits/dim.

Discrete models (PixelCNN's 256-way softmax, discretised logistic mixtures, a VAE decoder with
a discretised likelihood) give that NLL directly: `continuous=False`.

Continuous models (flows, Gaussian decoders) give a *density* p_y over the library's image
range, y = x / 127.5 - 1 in [-1, 1] (`keras_gen.images.from_uint8`). Densities depend on the
scale of the variable, so before comparing, change variables back to the 8-bit scale
x = 127.5 (y + 1): for a density, p_x(x) = p_y(y) |dy/dx|^D = p_y(y) / 127.5^D, hence

    -ln p_x(x) = -ln p_y(y) + D ln 127.5        (nats)
    bits/dim   = NLL_y / (D ln 2) + log2(127.5) = NLL_y / (D ln 2) + 6.994...

which `continuous=True` applies. On the 8-bit scale the bins have width 1, so a density there
is comparable with discrete probabilities; it is an upper bound on the discrete model's
bits/dim (a valid likelihood bound) when the model was trained and evaluated on uniformly
dequantised data y = (x + u) / 127.5 - 1, u ~ U[0, 1)^D (Theis, van den Oord & Bethge 2016,
"A note on the evaluation of generative models", section 3.1). Check: a uniform density on
[-1, 1]^D has NLL_y = D ln 2, i.e. 1 + log2(127.5) = log2(255) bits/dim - the uniform density
over [0, 255] on the 8-bit scale.

A trivial baseline to read a model's figure against (`independent_pixel_nll`): every value
position d gets its own categorical distribution over the 256 levels, fitted to the training
images with add-alpha smoothing and ignoring every other position:

    p_d(v)  = (count_d(v) + alpha) / (N + 256 alpha)
    NLL(x)  = -sum_d ln p_d(x_d)                       (nats, discrete)

A model that captures any dependence between pixels should beat it.
"""

from __future__ import annotations

import math

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import check_finite

UINT8_SCALE = 127.5  # x_uint8 = UINT8_SCALE * (y + 1) for library images y in [-1, 1]


def _num_dims(num_dims) -> int:
    if isinstance(num_dims, (tuple, list)):
        num_dims = math.prod(int(d) for d in num_dims)
    if isinstance(num_dims, bool) or not isinstance(num_dims, (int, np.integer)) or num_dims < 1:
        raise KerasGenError(
            f"num_dims must be a positive integer (H * W * C) or an image shape (H, W, C), got {num_dims!r}."
        )
    return int(num_dims)


def bits_per_dim(nll_nats, num_dims, continuous: bool = False):
    """Bits per dimension from a per-image negative log-likelihood in nats.

    nll_nats: scalar or array of per-image NLLs (summed over the image's values, natural log).
    num_dims: values per image, D = H * W * C (or the shape (H, W, C)).
    continuous: True if the NLL is of a density over [-1, 1] library images; adds the
        change-of-variables term D ln 127.5 (see the module docstring). False for discrete
        likelihoods over the 256 levels.
    Returns a float for a scalar input, else an array of the same shape.
    """
    d = _num_dims(num_dims)
    try:
        nll = np.asarray(nll_nats, np.float64)
    except (TypeError, ValueError) as exc:
        raise KerasGenError(f"nll_nats must be numeric, got {nll_nats!r}.") from exc
    check_finite(nll, "negative log-likelihoods")
    if continuous:
        nll = nll + d * math.log(UINT8_SCALE)
    bpd = nll / (d * math.log(2.0))
    return float(bpd) if bpd.ndim == 0 else bpd


def independent_pixel_nll(train_uint8, test_uint8, alpha: float = 1.0) -> np.ndarray:
    """Per-image NLL in nats (M,) of `test_uint8` (M, H, W, C) under independent per-position
    256-level histograms of `train_uint8` (N, H, W, C), add-`alpha` smoothed (module docstring)."""
    train, test = np.asarray(train_uint8), np.asarray(test_uint8)
    if train.dtype != np.uint8 or test.dtype != np.uint8:
        raise KerasGenError(f"independent_pixel_nll takes uint8 images, got {train.dtype} and {test.dtype}; "
                            "convert with keras_gen.images.to_uint8.")
    if train.ndim < 2 or train.shape[1:] != test.shape[1:] or not len(train) or not len(test):
        raise KerasGenError(f"train and test images must be non-empty with equal shapes, got {train.shape} and "
                            f"{test.shape}.")
    if not alpha > 0:
        raise KerasGenError(f"alpha must be positive (it keeps unseen values possible), got {alpha!r}.")
    n, d = len(train), int(np.prod(train.shape[1:]))
    offsets = 256 * np.arange(d)  # position d's histogram occupies bins [256 d, 256 d + 256)
    counts = np.bincount((train.reshape(n, d) + offsets).ravel(), minlength=256 * d).reshape(d, 256)
    log_p = np.log(counts + alpha) - np.log(n + 256 * alpha)  # (D, 256)
    return -log_p.ravel()[test.reshape(len(test), d) + offsets].sum(axis=1)
