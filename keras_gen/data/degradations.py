"""The degradation module: low-resolution inputs made the way super-resolution papers make them,
training patches drawn from any image source, and the held-out set the restoration benchmark
scores on. The measure (Y-channel PSNR/SSIM with the border shaved) is keras_gen.metrics.
restoration's `sr_scores`.

    LR  = imresize(HR, 1 / s, 'bicubic')      MATLAB's antialiased bicubic, on the uint8 image,
                                              rounded after each dimension (keras_gen/core/resize.py)
    ILR = imresize(LR, s, 'bicubic')          VDSR's input: LR interpolated back to HR's size, in
                                              float (Kim et al. run their pipeline on doubles)

as Kim et al. 2016 (VDSR) and Ledig et al. 2017 (SRResNet/SRGAN) make their inputs, with HR
cropped to a multiple of s first (MATLAB's `modcrop`) so LR is exactly HR / s.

A model of the data kind "degraded" (keras_gen/data/training_data.py) declares a `Degradation`
(its scales, whether its input is interpolated back to the target's size) and trains on
(input, target) pairs drawn here from any image source at the source's own resolution:

    bundled photos, textures   the full-size pictures (not the data set's resized crops), less
                               the `sr_holdout` pictures, which form the test split instead
    a folder of images         each file at its own size, split as the folder is
    digits, shapes, tfds:NAME  the images at the source's default size (or the patch's, if larger)

Each training example is a random patch of the target's size (every position of every image
equally likely), a random scale among the declared ones, and, with `augment`, one of the eight
flips and 90-degree rotations (EDSR's augmentation; flips only for non-square patches). Batch b
of a seed is a function of (seed, split, b) alone, so a resumed run sees what an uninterrupted
one sees.

`sr_holdout()`: two photos and one texture at full size that no model trains on (they are the
bundled sources' test split here): chelsea (fur, 300x451), coffee (smooth gradients and edges,
400x600) and brick (a regular texture, aliasing-prone, 512x512, grey).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from keras_gen.core.images import convert_channels, from_uint8
from keras_gen.core.resize import imresize
from keras_gen.errors import KerasGenError

SR_HOLDOUT = (("photos", "chelsea"), ("photos", "coffee"), ("textures", "brick"))
PICTURE_SOURCES = ("photos", "textures")


@dataclass(frozen=True)
class Degradation:
    """How a model's training inputs are made from its targets (module docstring).

    scales       the down-scaling factors, one drawn per example (VDSR trains x2, x3, x4 mixed)
    interpolate  the input is bicubic-upsampled back to the target's size (VDSR's ILR); else it
                 is the low-resolution image itself, 1/scale of the target's sides (one scale)
    augment      random flips and 90-degree rotations of each patch
    """

    scales: tuple = (4,)
    interpolate: bool = False
    augment: bool = True

    def __post_init__(self):
        scales = tuple(int(s) for s in self.scales)
        if not scales or min(scales) < 1:
            raise KerasGenError(f"a degradation needs scales of at least 1, got {self.scales!r}.")
        if not self.interpolate and len(set(scales)) > 1:
            raise KerasGenError("low-resolution inputs of several scales differ in size: a model trained on mixed "
                                "scales takes its input interpolated back to the target's size (interpolate=True).")
        object.__setattr__(self, "scales", scales)

    def input_shape(self, target_shape) -> tuple:
        """(H, W, C) of the input for a target of (H, W, C)."""
        height, width, channels = target_shape
        multiple = int(np.lcm.reduce(self.scales))
        if height % multiple or width % multiple:
            raise KerasGenError(f"the target patch ({height}x{width}) must be a multiple of {multiple} px a side to "
                                f"be down-scaled by {', '.join(map(str, self.scales))} exactly: pass such an "
                                "--image-size.")
        if self.interpolate:
            return tuple(target_shape)
        return height // self.scales[0], width // self.scales[0], channels


# -- the degradation itself --------------------------------------------------------------------
def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) or (N, H, W, C) cropped at the bottom and right to multiples of `scale` (MATLAB's
    modcrop, the papers' first step)."""
    image = np.asarray(image)
    height, width = image.shape[-3:-1]
    return image[..., :height - height % scale, :width - width % scale, :]


def degrade(high: np.ndarray, scale: int) -> np.ndarray:
    """uint8 images (H, W, C) or (N, H, W, C), sides multiples of `scale` -> the uint8 low-
    resolution images, MATLAB's imresize(high, 1/scale, 'bicubic')."""
    high = np.asarray(high)
    if high.dtype != np.uint8:
        raise KerasGenError(f"degrade takes uint8 images (the papers degrade 8-bit files), got {high.dtype}.")
    height, width = high.shape[-3:-1]
    if height % scale or width % scale:
        raise KerasGenError(f"a {height}x{width} image is not a multiple of x{scale}: modcrop it first.")
    return imresize(high, size=(height // scale, width // scale), rounding="uint8")


def interpolated(low: np.ndarray, scale: int) -> np.ndarray:
    """uint8 low-resolution images -> float32 [-1, 1]-scaled images `scale` x larger, bicubic in
    float (VDSR's ILR; values may overshoot [-1, 1] a little, as interpolation does)."""
    low = np.asarray(low)
    height, width = low.shape[-3:-1]
    up = imresize(low.astype(np.float64), size=(height * scale, width * scale), rounding=None)
    return (up / 127.5 - 1.0).astype(np.float32)


# -- the held-out set ----------------------------------------------------------------------------
def sr_holdout(channels: int | None = None) -> list[tuple[str, np.ndarray]]:
    """[(name, uint8 (H, W, C) at full size)] of the pictures no model trains on; `channels`
    converts them (the grey texture to RGB for a colour model), None keeps each one's own."""
    from keras_gen.data.bundled import _picture

    out = []
    for source, name in SR_HOLDOUT:
        image = _picture(source, name)
        out.append((f"{source}:{name}", convert_channels(image, channels) if channels else image.copy()))
    return out


# -- where patches come from ---------------------------------------------------------------------
@lru_cache(maxsize=8)
def _full_size_images(source: str, split: str, channels: int, min_side: int, data_dir) -> tuple:
    """The uint8 images (each (H, W, channels)) of one split of `source` at full size; see the
    module docstring for what that is per source."""
    from keras_gen.data.loading import describe, load_arrays, resolve_source
    from keras_gen.images import to_uint8

    kind, name = resolve_source(source)
    if kind == "bundled" and name in PICTURE_SOURCES:
        from keras_gen.data.bundled import PHOTOS, TEXTURES, _picture

        held = {n for s, n in SR_HOLDOUT if s == name}
        names = [n for n in (PHOTOS if name == "photos" else TEXTURES) if (n in held) == (split == "test")]
        images = [_picture(name, n) for n in names]
    elif kind == "folder":
        from keras_gen.data import folders

        index = folders.scan_folder(name)
        chosen = index.splits[split]
        if len(chosen) == 0:
            raise KerasGenError(f"the {split!r} split of {str(index.root)!r} is empty: add images to the folder.")
        images = []
        for i in chosen:
            try:
                images.append(folders.decode_image(index.root / index.files[i], None))
            except Exception:  # unreadable and too-small files are skipped, as the loaders do
                continue
    else:
        size = max(describe(source, data_dir=data_dir).default_image_size, min_side)
        arrays, _, _ = load_arrays(source, split, image_size=size, channels=channels, data_dir=data_dir)
        images = list(to_uint8(arrays))
    return tuple(np.ascontiguousarray(convert_channels(image, channels)) for image in images)


def full_size_images(source, split: str, channels: int, min_side: int = 1, data_dir=None) -> list[np.ndarray]:
    """The uint8 images (H, W, channels) of one split of `source` at full size (the module
    docstring says what that is per source; a source without one at its default image size, at
    least `min_side`)."""
    return list(_full_size_images(str(source), split, int(channels), int(min_side), data_dir))


class PatchSource:
    """Random (input, target) training pairs from the full-size images of one split of a source."""

    def __init__(self, source, split: str, target_shape, degradation: Degradation, data_dir=None):
        self.target_shape = tuple(int(d) for d in target_shape)
        self.degradation = degradation
        self.input_shape = degradation.input_shape(self.target_shape)
        height, width, channels = self.target_shape
        found = _full_size_images(str(source), split, channels, max(height, width), data_dir)
        self.images = [image for image in found if image.shape[0] >= height and image.shape[1] >= width]
        if not self.images:
            largest = max((f"{i.shape[0]}x{i.shape[1]}" for i in found), default="none")
            raise KerasGenError(f"no {split} image of {source!r} holds a {height}x{width} patch (the largest is "
                                f"{largest}): pass a smaller --image-size or larger images.")
        positions = np.array([(i.shape[0] - height + 1) * (i.shape[1] - width + 1) for i in self.images], np.float64)
        self.image_weights = positions / positions.sum()  # every patch position equally likely
        self.split = split

    def batch(self, index: int, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(inputs float32 (B, *input_shape), targets float32 (B, *target_shape)) in [-1, 1]: batch
        `index` of `seed`, the same numbers every time."""
        from keras_gen.data.common import SPLITS

        height, width, _ = self.target_shape
        rng = np.random.default_rng([int(seed), SPLITS.index(self.split), int(index)])
        d = self.degradation
        which = rng.choice(len(self.images), size=batch_size, p=self.image_weights)
        scales = rng.choice(d.scales, size=batch_size)
        transforms = rng.integers(0, 8 if height == width else 4, size=batch_size) if d.augment else \
            np.zeros(batch_size, np.int64)
        targets = np.empty((batch_size, *self.target_shape), np.uint8)
        for b, i in enumerate(which):
            image = self.images[i]
            top = rng.integers(0, image.shape[0] - height + 1)
            left = rng.integers(0, image.shape[1] - width + 1)
            targets[b] = _dihedral(image[top:top + height, left:left + width], int(transforms[b]))
        inputs = np.empty((batch_size, *self.input_shape), np.float32)
        for scale in np.unique(scales):  # one degradation per scale, on the batch at once
            chosen = np.flatnonzero(scales == scale)
            low = degrade(targets[chosen], int(scale))
            inputs[chosen] = interpolated(low, int(scale)) if d.interpolate else from_uint8(low)
        return inputs, from_uint8(targets)


def _dihedral(patch: np.ndarray, transform: int) -> np.ndarray:
    """One of the 8 flips and rotations of a (H, W, C) patch; 0 is the identity, 4-7 transpose."""
    if transform & 1:
        patch = patch[:, ::-1]
    if transform & 2:
        patch = patch[::-1]
    if transform & 4:
        patch = patch.transpose(1, 0, 2)
    return patch


# -- what the data layer calls ----------------------------------------------------------------------
def degraded_dataset(source, shapes, degradation: Degradation, *, batch_size: int, seed: int, data_dir=None):
    """An endless tf.data.Dataset of (inputs, targets) float32 batches from the train split; batch
    b depends on (seed, b) only. `shapes`: (input (H, W, C), target (H, W, C)), a model's
    data_shapes(), checked against the degradation."""
    import tensorflow as tf

    patches = _patch_source(source, "train", shapes, degradation, data_dir)

    def make(index):
        return patches.batch(int(index), int(batch_size), int(seed))

    def batch(index):
        inputs, targets = tf.numpy_function(make, [index], (tf.float32, tf.float32), stateful=False)
        inputs.set_shape((batch_size, *patches.input_shape))
        targets.set_shape((batch_size, *patches.target_shape))
        return inputs, targets

    return tf.data.Dataset.range(2**62).map(batch).prefetch(tf.data.AUTOTUNE)


def degraded_examples(source, split: str, shapes, degradation: Degradation, *, n: int, seed: int, data_dir=None):
    """(inputs, targets) float32 numpy: `n` pairs of `split` (the previews' fixed examples)."""
    return _patch_source(source, split, shapes, degradation, data_dir).batch(0, int(n), int(seed))


def _patch_source(source, split, shapes, degradation, data_dir) -> PatchSource:
    if degradation is None:
        raise KerasGenError("a model of the 'degraded' data kind declares its degradation (degradation()).")
    input_shape, target_shape = (tuple(s) for s in shapes)
    patches = PatchSource(source, split, target_shape, degradation, data_dir)
    if patches.input_shape != input_shape:
        raise KerasGenError(f"the model's input shape {input_shape} is not what its degradation makes of a "
                            f"{target_shape} target: {patches.input_shape}.")
    return patches


__all__ = ["Degradation", "PatchSource", "SR_HOLDOUT", "degrade", "degraded_dataset", "degraded_examples",
           "interpolated", "modcrop", "sr_holdout"]
