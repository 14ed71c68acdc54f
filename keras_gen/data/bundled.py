"""The data sets that ship inside installed wheels, so everything runs offline.

- digits:   scikit-learn's 1,797 handwritten digits (UCI optdigits test set, 8x8, values 0..16,
            white ink on black like MNIST), 10 classes. A fixed permutation (seed 0) holds out
            360 images (20%) as the test split, whatever seed the caller passes, so train and
            test never overlap. Upsampled to 32x32 by default.
- shapes:   `shapes.draw_shapes`, train and test drawn from different seeds.
- photos:   random square crops of scikit-image's bundled colour photographs.
- textures: random square patches of scikit-image's bundled textures (brick, grass, gravel),
            grayscale.

Photos and textures are labelled by the picture a crop comes from. Crops take a random
position, a random side (a fraction of the picture's shorter side) and a random horizontal
flip; train and test crops are drawn from different seeds, so their positions differ (they
may overlap in content: the pictures are few). Like shapes, crop i depends only on
(seed, split, i), so `limit=k` gives the first k crops of the full split.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from keras_gen.data import shapes as shapes_mod
from keras_gen.core.images import image_hw
from keras_gen.data.common import DataInfo, prepare_uint8, split_seed

DIGITS_TEST = 360
SHAPES_SPLITS = {"train": 8000, "test": 2000}
CROPS_SPLITS = {"train": 2048, "test": 512}

# name -> scikit-image loader name; all are files inside the scikit-image wheel (no download).
PHOTOS = {
    "astronaut": "astronaut",
    "chelsea": "chelsea",
    "coffee": "coffee",
    "rocket": "rocket",
    "motorcycle": "stereo_motorcycle",
    "hubble_deep_field": "hubble_deep_field",
    "immunohistochemistry": "immunohistochemistry",
}
TEXTURES = {"brick": "brick", "grass": "grass", "gravel": "gravel"}
# Crop side as a fraction of the picture's shorter side: photos keep recognisable content,
# textures are repetitive so smaller patches already show the pattern.
CROP_FRACTION = {"photos": (0.35, 0.75), "textures": (0.2, 0.5)}


def describe_bundled(name: str) -> DataInfo:
    if name == "digits":
        return DataInfo(
            "digits", 32, 1, 10, [str(d) for d in range(10)],
            {"train": 1797 - DIGITS_TEST, "test": DIGITS_TEST},
            "scikit-learn handwritten digits (8x8 upsampled), labels 0-9",
        )  # fmt: skip
    if name == "shapes":
        return DataInfo(
            "shapes", 32, 3, len(shapes_mod.SHAPES), list(shapes_mod.SHAPES), dict(SHAPES_SPLITS),
            "procedurally drawn coloured shapes, labelled by shape (see keras_gen.data.shapes)",
        )  # fmt: skip
    if name == "photos":
        return DataInfo(
            "photos", 64, 3, len(PHOTOS), list(PHOTOS), dict(CROPS_SPLITS),
            "random crops of scikit-image's bundled colour photographs, labelled by photograph",
        )  # fmt: skip
    if name == "textures":
        return DataInfo(
            "textures", 64, 1, len(TEXTURES), list(TEXTURES), dict(CROPS_SPLITS),
            "random patches of scikit-image's bundled grayscale textures, labelled by texture",
        )  # fmt: skip
    raise KeyError(name)


@lru_cache(maxsize=1)
def _digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Values are 0..16: stretch to 0..255 so `from_uint8` maps ink to +1 and paper to -1.
    images = np.round(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images[..., None], bunch.target.astype(np.int64)


def _digits_indices(split: str) -> np.ndarray:
    order = np.random.default_rng(0).permutation(1797)  # fixed: the split never depends on seed
    return order[:DIGITS_TEST] if split == "test" else order[DIGITS_TEST:]


@lru_cache(maxsize=None)
def _picture(source: str, name: str) -> np.ndarray:
    import skimage.data

    loader = (PHOTOS if source == "photos" else TEXTURES)[name]
    image = getattr(skimage.data, loader)()
    if isinstance(image, tuple):  # stereo_motorcycle -> (left, right, disparity)
        image = image[0]
    image = np.asarray(image, np.uint8)
    return image[..., None] if image.ndim == 2 else image[..., :3]


@lru_cache(maxsize=16)
def _crops(source: str, n: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    names = list(PHOTOS if source == "photos" else TEXTURES)
    low, high = CROP_FRACTION[source]
    pictures = [_picture(source, name) for name in names]
    channels = pictures[0].shape[-1]
    pils = []
    for picture in pictures:
        pil = Image.fromarray(picture[..., 0] if channels == 1 else picture)
        # Shrink each picture once so its smallest crop is still >= image_size: every crop is
        # then a downsampling (antialiased), and resizing small crops is ~10x faster.
        scale = min(1.0, image_size / (low * min(pil.size)))
        if scale < 1.0:
            pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.BILINEAR, reducing_gap=2.0)
        pils.append(pil)
    u = np.random.default_rng(seed).random((n, 5))  # row i -> crop i: prefixes are stable
    labels = np.minimum((u[:, 0] * len(names)).astype(np.int64), len(names) - 1)
    out = np.empty((n, image_size, image_size, channels), np.uint8)
    for i in range(n):
        w, h = pils[labels[i]].size
        side = int(round((low + u[i, 1] * (high - low)) * min(h, w)))
        top, left = int(u[i, 2] * (h - side + 1)), int(u[i, 3] * (w - side + 1))
        # reducing_gap: box-reduce by an integer factor first, then bilinear; still antialiased.
        crop = pils[labels[i]].resize((image_size, image_size), Image.BILINEAR,
                                      box=(left, top, left + side, top + side), reducing_gap=2.0)  # fmt: skip
        crop = np.asarray(crop).reshape(out.shape[1:])
        out[i] = crop[:, ::-1] if u[i, 4] < 0.5 else crop
    out.flags.writeable = False
    labels.flags.writeable = False
    return out, labels


def load_bundled_uint8(name: str, split: str, image_size, channels: int, limit: int | None, seed: int):
    """(uint8 (N, H, W, channels), int64 labels (N,)) for one bundled source and split, at
    `image_size` (one side, or (height, width)). The drawn and cropped sources make square images
    of the longer side; a non-square size is their centred crop."""
    side = max(image_hw(image_size))
    if name == "digits":
        images, labels = _digits_uint8()
        idx = _digits_indices(split)[:limit]
        return prepare_uint8(images[idx], image_size, channels), labels[idx].copy()
    if name == "shapes":
        n = min(limit or SHAPES_SPLITS[split], SHAPES_SPLITS[split])
        images, attrs = shapes_mod.draw_shapes(n, side, split_seed(seed, split))
        return prepare_uint8(images, image_size, channels), attrs["shape"]
    if name in ("photos", "textures"):
        n = min(limit or CROPS_SPLITS[split], CROPS_SPLITS[split])
        images, labels = _crops(name, n, side, split_seed(seed, split))
        return prepare_uint8(images.copy(), image_size, channels), labels.copy()
    raise KeyError(name)


def load_shapes_attributes(split: str, image_size, channels: int, limit: int | None, seed: int):
    """The `shapes` split of `load_bundled_uint8` with its drawing attributes: (uint8 images,
    int64 shape labels (N,), {attribute: (N,) array} as `shapes.draw_shapes` returns them).
    The same images, in the same order, as the plain source gives for (split, seed)."""
    n = min(limit or SHAPES_SPLITS[split], SHAPES_SPLITS[split])
    images, attrs = shapes_mod.draw_shapes(n, max(image_hw(image_size)), split_seed(seed, split))
    return prepare_uint8(images, image_size, channels), attrs["shape"], attrs
