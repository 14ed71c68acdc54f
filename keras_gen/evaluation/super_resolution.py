"""Super-resolution scored the papers' way, for `keras-gen evaluate` and benchmarks/restoration.py
alike (one copy of the measure):

    pictures     full-size high-resolution images: `sr_holdout` (chelsea, coffee and the brick
                 texture, in no training set) or the test split of any source at full size (the
                 bundled photos' test split is chelsea and coffee, the textures' brick)
    degradation  each picture cropped to a multiple of the scale (`modcrop`) and made
                 low-resolution by MATLAB's bicubic (keras_gen/data/degradations.degrade)
    upscaling    a network through keras_gen/core/upscaling.upscale_image, as `keras-gen upscale`
                 runs it (tiles with the network's receptive radius, a grey network on the luma
                 of a colour picture, bicubic chroma); the baseline is MATLAB's bicubic x s
    measures     Y-PSNR and Y-SSIM (BT.601 luma, `scale` pixels shaved), RGB PSNR over the same
                 crop (keras_gen.metrics.sr_scores) and the VGG feature distance
                 (keras_gen.metrics.perceptual_distance, the offline hed VGG16 weights, so every
                 machine measures the same), the mean over pictures

The outputs are rounded to uint8 before they are scored, as a saved image is.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from keras_gen.errors import KerasGenError

SR_HOLDOUT = "sr_holdout"
FIDELITY = ("y_psnr", "y_ssim", "rgb_psnr")  # higher is better
VGG_DISTANCE = "vgg_distance"  # lower is better
VGG_LAYERS = "vgg_layers"  # the distance's term per VGG16 layer (its mean is the distance)
VGG_WEIGHTS = "hed"
BICUBIC = "bicubic (MATLAB imresize)"


def sr_pictures(data: str = SR_HOLDOUT, channels: int = 3, min_side: int = 1, data_dir=None,
                limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """[(name, uint8 (H, W, channels))] of full-size high-resolution pictures: `sr_holdout`, or
    the test split of `data` at full size (sources without a full size at their default image
    size, at least `min_side`)."""
    from keras_gen.data.degradations import full_size_images, sr_holdout

    if data == SR_HOLDOUT:
        pictures = sr_holdout(int(channels))
    else:
        found = full_size_images(data, "test", channels, min_side, data_dir)
        pictures = [(f"{data}:test:{i}", image) for i, image in enumerate(found)]
    pictures = [(name, image) for name, image in pictures if min(image.shape[:2]) >= min_side]
    if not pictures:
        raise KerasGenError(f"the test split of {data!r} holds no picture of at least {min_side} px a side to score "
                            f"super-resolution on; pass --data {SR_HOLDOUT} (chelsea, coffee, brick at full size).")
    return pictures[:limit] if limit else pictures


def bicubic_upscaler(scale: int) -> Callable:
    """The papers' baseline as a runner: uint8 (h, w, C) -> uint8 (s h, s w, C), MATLAB's bicubic."""
    from keras_gen.core.resize import imresize

    return lambda low: imresize(low, scale)


def network_upscaler(upscale: Callable, scale: int, channels: int, margin: int, tile: int | None = None) -> Callable:
    """A network as a runner (uint8 -> uint8), through keras-gen upscale's rules: `upscale` maps
    float [-1, 1] (N, h, w, channels) -> (N, s h, s w, channels); `margin` is its receptive radius."""
    from keras_gen.core.images import from_uint8, to_uint8
    from keras_gen.core.upscaling import DEFAULT_TILE, upscale_image

    def run(low):
        return to_uint8(upscale_image(upscale, from_uint8(low), scale, channels, "auto", tile or DEFAULT_TILE, margin))

    return run


def upscale_pictures(run: Callable, pictures, scale: int) -> dict:
    """Each picture degraded x`scale` and restored by `run`: {"names", "targets", "outputs"
    (uint8 lists), "seconds" (of `run` alone)}."""
    from keras_gen.data.degradations import degrade, modcrop

    names, targets, outputs, seconds = [], [], [], 0.0
    for name, picture in pictures:
        high = modcrop(picture, scale)
        low = degrade(high, scale)
        started = time.perf_counter()
        restored = np.asarray(run(low))
        seconds += time.perf_counter() - started
        if restored.shape != high.shape:
            raise KerasGenError(f"x{scale} of a {low.shape[1]}x{low.shape[0]} px picture came back {restored.shape[1]}x"
                                f"{restored.shape[0]} px, not {high.shape[1]}x{high.shape[0]}.")
        names.append(name), targets.append(high), outputs.append(restored)
    return {"names": names, "targets": targets, "outputs": outputs, "seconds": seconds}


def sr_measures(upscaled: dict, scale: int, vgg: bool = True, fidelity: bool = True) -> dict:
    """The measures (module docstring) of `upscale_pictures`' result: the mean of each over the
    pictures, and "per_image" [{image, y_psnr, ...}]; `fidelity` the PSNRs and SSIM, `vgg` the
    VGG feature distance, with its terms per VGG layer ("vgg_layers" {layer: term}, per image
    and their mean: the distance is the mean of the terms)."""
    from keras_gen.metrics import distance_of_layer_terms, perceptual_distance, sr_scores

    names, outputs, targets = upscaled["names"], upscaled["outputs"], upscaled["targets"]
    per_image = [{"image": name} for name in names]
    by_shape: dict[tuple, list[int]] = {}  # pictures of one shape are scored as one batch
    for i, high in enumerate(targets):
        by_shape.setdefault(high.shape, []).append(i)
    for indices in by_shape.values():
        restored, high = np.stack([outputs[i] for i in indices]), np.stack([targets[i] for i in indices])
        scores = sr_scores(restored, high, scale, per_image=True) if fidelity else {}
        layers = perceptual_distance(restored, high, weights=VGG_WEIGHTS, per_image=True, per_layer=True) if vgg \
            else {}
        if vgg:
            scores[VGG_DISTANCE] = distance_of_layer_terms(layers)
        for j, i in enumerate(indices):
            per_image[i].update({k: float(v[j]) for k, v in scores.items()})
            if vgg:
                per_image[i][VGG_LAYERS] = {name: float(v[j]) for name, v in layers.items()}
    keys = [*(FIDELITY if fidelity else ()), *((VGG_DISTANCE,) if vgg else ())]
    means = {k: float(np.mean([p[k] for p in per_image])) for k in keys}
    if vgg:
        means[VGG_LAYERS] = {name: float(np.mean([p[VGG_LAYERS][name] for p in per_image]))
                             for name in per_image[0][VGG_LAYERS]}
    return {**means, "per_image": per_image}


def score_upscaler(run: Callable, pictures, scale: int, vgg: bool = True) -> dict:
    """`sr_measures` of `run` on `pictures` x`scale`, with the seconds `run` took."""
    upscaled = upscale_pictures(run, pictures, scale)
    return {**sr_measures(upscaled, scale, vgg), "seconds": upscaled["seconds"]}


__all__ = ["BICUBIC", "FIDELITY", "SR_HOLDOUT", "VGG_DISTANCE", "VGG_LAYERS", "bicubic_upscaler", "network_upscaler",
           "score_upscaler", "sr_measures", "sr_pictures", "upscale_pictures"]
