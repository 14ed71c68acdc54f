"""Texture synthesis, parametric and non-parametric.

1. Gram matching: Gatys, Ecker & Bethge 2015, "Texture Synthesis Using Convolutional Neural
   Networks" (NeurIPS). A texture is summarised by the Gram matrices G^l = F^l^T F^l / (H_l W_l)
   of VGG layers conv1_1, pool1, pool2, pool3, pool4; starting from white noise, L-BFGS minimises

       L(x) = sum_{l <= depth} w_l * mean_ij (G^l(x) - G^l(source))_ij^2

   Matching only conv1_1 reproduces colour statistics and pixel-scale noise; each deeper layer
   adds larger structures (the paper's figure 2). The result has the source's statistics but
   no position of it: a new sample, not a crop.

2. Non-parametric sampling: Efros & Leung 1999, "Texture Synthesis by Non-parametric Sampling"
   (ICCV). The output grows from a 3x3 seed; an unfilled pixel p with neighbourhood window
   w(p) (its filled pixels, mask M, Gaussian weights g) takes the centre of a source patch
   chosen at random among those with

       d(P) = sum_k M_k g_k (P_k - w(p)_k)^2 <= (1 + eps) * min_P d(P)          (eps = 0.1)

   Vectorised here: pixels are filled in "onion" batches (the boundary pixels with the most
   filled neighbours at once), and the distances of a whole batch to every source patch are
   one matrix product, d = (M g) (P^2)^T - 2 (M g w) P^T + sum M g w^2, so a 128x128 result takes
   seconds instead of a Python loop per pixel and patch.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError

TEXTURE_LAYERS = ("conv1_1", "pool1", "pool2", "pool3", "pool4")


def texture_layers(depth: str) -> tuple[str, ...]:
    """The layers matched up to `depth` (conv1_1, pool1 .. pool4; block names accepted)."""
    alias = {"block1_conv1": "conv1_1", **{f"block{i}_pool": f"pool{i}" for i in range(1, 5)}}
    depth = alias.get(depth, depth)
    if depth not in TEXTURE_LAYERS:
        raise KerasGenError(f"--depth {depth!r}: choose one of {', '.join(TEXTURE_LAYERS)}")
    return TEXTURE_LAYERS[: TEXTURE_LAYERS.index(depth) + 1]


def gram_texture(source: np.ndarray, size: int | tuple[int, int], depth: str = "pool4", steps: int = 200,
                 seed: int = 0, arch: str = "vgg19", weights="auto", optimizer: str = "lbfgs",
                 extractor=None, progress: bool = False, compile: bool | None = None) -> tuple[np.ndarray, list[dict]]:
    """Synthesise a (size, size, 3) [-1, 1] texture from noise by Gram matching to `source`
    ((H, W, 3) [-1, 1]) over the layers up to `depth`. Returns (image, history); history's
    "style" is the style loss relative to its value at the noise start."""
    from keras_gen.features.vgg import min_image_side, vgg_extractor
    from keras_gen.models.style import gatys

    layers = texture_layers(depth)
    hw = (size, size) if isinstance(size, int) else tuple(size)
    need = min_image_side(layers, arch)
    for what, shape in (("source image", source.shape), ("--size", (*hw, 3))):
        if min(shape[:2]) < need:
            raise KerasGenError(f"{what} is {shape[1]}x{shape[0]} px, too small for layer {depth} (needs at least "
                                f"{need} px a side): use a larger image or a shallower --depth")
    if extractor is None:
        extractor = vgg_extractor(arch, layers, weights, pooling="avg")
    settings = gatys.StyleSettings(alpha=0.0, beta=1.0, steps=steps, optimizer=optimizer, style_layers=layers,
                                   content_layers=(), learning_rate=0.05, compile=compile)
    objective = gatys.StyleObjective(extractor, source, [source], [1.0], settings)
    x0 = np.random.default_rng(seed).uniform(-0.5, 0.5, (1, *hw, 3)).astype(np.float32)
    objective.calibrate(x0)
    bar = gatys.Progress(steps, f"texture {depth}", hide=("tv", "content", "loss")) if progress else None
    x, history = gatys.optimise(objective, x0, steps, optimizer, 0.05,
                                on_step=(lambda step, xs, entry: bar(step, entry)) if bar else None)
    if bar and (not history or history[-1]["step"] < steps):
        bar.close()
    return x[0], history


def _gaussian(window: int) -> np.ndarray:
    r = np.arange(window) - window // 2
    sigma = window / 6.4  # Efros & Leung's choice
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def efros_leung(source: np.ndarray, size: int | tuple[int, int], window: int = 11, eps: float = 0.1,
                seed: int = 0, max_patches: int = 4000, min_known: int = 3, threads: int = 1) -> np.ndarray:
    """Efros-Leung synthesis of a (size, size, 3) image from `source` ((H, W, C) float); every
    output pixel is a source pixel. `max_patches` caps the candidate patches (a random subset
    of the source's windows, for speed on large sources); `threads` limits BLAS threads (one is
    fastest on a loaded machine: the products are small)."""
    if window < 3 or window % 2 == 0:
        raise KerasGenError(f"--window must be an odd number >= 3, got {window}")
    source = np.asarray(source, np.float32)
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if min(source.shape[:2]) < window:
        raise KerasGenError(f"source image is {source.shape[1]}x{source.shape[0]} px, smaller than the "
                            f"{window}x{window} window: use a larger source or a smaller --window")
    rng = np.random.default_rng(seed)
    half, c = window // 2, source.shape[-1]
    patches = np.lib.stride_tricks.sliding_window_view(source, (window, window), axis=(0, 1))
    patches = patches.transpose(0, 1, 3, 4, 2).reshape(-1, window * window * c)  # (M, D), window-major
    if len(patches) > max_patches:
        patches = patches[rng.choice(len(patches), max_patches, replace=False)]
    patches = np.ascontiguousarray(patches)
    centres = patches.reshape(-1, window * window, c)[:, (window * window) // 2]
    stacked = np.ascontiguousarray(np.concatenate([np.square(patches), patches], axis=1).T)  # (2D, M): one product
    gauss = np.repeat(_gaussian(window).reshape(-1), c)  # (D,)

    out = np.zeros((h + 2 * half, w + 2 * half, c), np.float32)
    filled = np.zeros((h + 2 * half, w + 2 * half), bool)
    sy, sx = rng.integers(0, source.shape[0] - 2), rng.integers(0, source.shape[1] - 2)
    cy, cx = half + h // 2 - 1, half + w // 2 - 1
    out[cy : cy + 3, cx : cx + 3] = source[sy : sy + 3, sx : sx + 3]
    filled[cy : cy + 3, cx : cx + 3] = True
    inside = np.zeros_like(filled)
    inside[half : half + h, half : half + w] = True

    from scipy.ndimage import convolve
    from threadpoolctl import threadpool_limits

    kernel = np.ones((3, 3), np.float32)
    with threadpool_limits(threads):  # small products: spinning BLAS threads cost more than they give
        _grow(out, filled, inside, kernel, convolve, window, c, gauss, stacked, centres, eps, min_known, rng)
    return out[half : half + h, half : half + w]


def _grow(out, filled, inside, kernel, convolve, window, c, gauss, stacked, centres, eps, min_known, rng):
    """Fill `out` (padded by window // 2) in onion batches until every pixel of `inside` is set."""
    half = window // 2
    while not filled[inside].all():
        counts = convolve(filled.astype(np.float32), kernel, mode="constant")
        boundary = inside & ~filled & (counts > 0)
        # Onion batch: the boundary pixels with at least `min_known` known neighbours of 8 (all of
        # the ring's when none has as many), so the batches are large and the product efficient.
        ys, xs = np.nonzero(boundary & (counts >= min(min_known, counts[boundary].max())))
        win_view = np.lib.stride_tricks.sliding_window_view(out, (window, window), axis=(0, 1))
        mask_view = np.lib.stride_tricks.sliding_window_view(filled, (window, window))
        targets = win_view[ys - half, xs - half].transpose(0, 2, 3, 1).reshape(len(ys), -1)  # (B, D)
        masks = np.repeat(mask_view[ys - half, xs - half].reshape(len(ys), -1), c, axis=1)
        wts = masks * gauss  # (B, D)
        wts /= wts.sum(axis=1, keepdims=True)
        d = np.concatenate([wts, -2.0 * wts * targets], axis=1) @ stacked + (wts * targets**2).sum(1, keepdims=True)
        best = d.min(axis=1, keepdims=True)
        ok = d <= best + eps * np.abs(best) + 1e-7
        pick = np.argmax(np.where(ok, rng.random(d.shape, np.float32), -1.0), axis=1)
        out[ys, xs] = centres[pick]
        filled[ys, xs] = True
