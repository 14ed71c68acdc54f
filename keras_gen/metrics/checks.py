"""Input validation shared by every metric, written once.

Each metric calls these helpers on its inputs before any maths, so a user who passes the wrong
thing (a 1-D array, features of two different extractors, NaNs from a diverged generator, too
few samples) gets a `KerasGenError` that names the argument and says what to do, never a
numpy broadcasting error or a silent NaN result.
"""

from __future__ import annotations

import numbers

import numpy as np

from keras_gen.errors import KerasGenError


def check_int(value, name: str, minimum: int = 1) -> int:
    """`value` as an int >= `minimum`, or a KerasGenError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise KerasGenError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise KerasGenError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def _as_float_array(x, name: str) -> np.ndarray:
    """Any array-like -> float array (float32 and float64 kept, everything else float64)."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise KerasGenError(f"{name} could not be read as an array: {exc}") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.number)):
        raise KerasGenError(f"{name} must be a numeric array, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise KerasGenError(f"{name} must be real-valued, got complex dtype {arr.dtype}.")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if `arr` holds NaN or inf, saying how many rows and where the first one is."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    if arr.ndim >= 2:
        unit = "images" if arr.ndim == 4 else "rows"
        bad_rows = np.flatnonzero(~finite.reshape(arr.shape[0], -1).all(axis=1))
        where = f"{bad_rows.size} of {arr.shape[0]} {unit} (first: {unit[:-1]} {bad_rows[0]})"
    else:
        bad = np.flatnonzero(~finite.ravel())
        where = f"{bad.size} of {arr.size} values (first: index {bad[0]})"
    raise KerasGenError(
        f"{name} contain NaN or inf in {where}. Metrics need finite values: check that the "
        "generator has not diverged and that its images are finite and in [-1, 1] before "
        "feature extraction."
    )


def as_features(x, name: str, min_count: int = 1, purpose: str = "this metric") -> np.ndarray:
    """Validate a feature matrix: 2-D (samples, dim), numeric, finite, at least `min_count` rows.

    float32 input stays float32 (large feature sets are not doubled in memory); the metrics
    cast blocks to float64 where they accumulate.
    """
    arr = _as_float_array(x, name)
    if arr.ndim != 2:
        hint = " Reshape to (n, dim), e.g. features.reshape(len(features), -1)." if arr.ndim > 2 else ""
        raise KerasGenError(
            f"{name} must be a 2-D array (samples, feature_dim), got shape {arr.shape}.{hint}"
        )
    if arr.shape[1] < 1:
        raise KerasGenError(f"{name} have feature dimension 0 (shape {arr.shape}).")
    if arr.shape[0] < min_count:
        raise KerasGenError(
            f"{purpose} needs at least {min_count} samples in {name}, got {arr.shape[0]}. "
            f"Pass more samples (e.g. a larger --n)."
        )
    check_finite(arr, name)
    return arr


def check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Both feature sets must come from the same extractor, i.e. have the same width."""
    if a.shape[1] != b.shape[1]:
        raise KerasGenError(
            f"{name_a} have dimension {a.shape[1]} but {name_b} have dimension {b.shape[1]}. "
            "Both sets must come from the same feature extractor (same layer, same input size)."
        )


def as_feature_pair(a, b, name_a: str, name_b: str, min_count: int = 1, purpose: str = "this metric"):
    """Validate two feature matrices that are compared with each other."""
    a = as_features(a, name_a, min_count, purpose)
    b = as_features(b, name_b, min_count, purpose)
    check_same_dim(a, b, name_a, name_b)
    return a, b


def as_images(x, name: str, max_val: float | None = 2.0) -> np.ndarray:
    """Validate an image batch: (N, H, W, C) or one (H, W, C) image, finite.

    uint8 input is converted with `keras_gen.images.from_uint8` (the project's one converter).
    With the default `max_val=2.0` (library range [-1, 1]) values far outside [-1, 1] are
    rejected, since they almost always mean [0, 255] floats that were never converted.
    """
    from keras_gen.images import from_uint8

    raw = np.asarray(x)
    if raw.dtype == np.uint8:
        arr = from_uint8(raw)
    else:
        arr = _as_float_array(raw, name)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise KerasGenError(
            f"{name} must be images (N, H, W, C) or one image (H, W, C), got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise KerasGenError(f"{name} is an empty batch; pass at least one image.")
    check_finite(arr, name)
    if max_val == 2.0 and arr.size and np.abs(arr).max() > 2.0:
        raise KerasGenError(
            f"{name} has values up to {np.abs(arr).max():.4g}, outside the library's [-1, 1] image "
            "range. Convert [0, 255] images with keras_gen.images.from_uint8, or pass max_val "
            "for another range."
        )
    return arr


def as_image_pair(a, b, name_a: str = "images_a", name_b: str = "images_b", max_val: float | None = 2.0):
    """Validate two image batches compared pixel by pixel: identical shapes required."""
    a = as_images(a, name_a, max_val)
    b = as_images(b, name_b, max_val)
    if a.shape != b.shape:
        what = "channels" if a.shape[:3] == b.shape[:3] else "shapes"
        raise KerasGenError(
            f"{name_a} and {name_b} differ in {what}: {a.shape} vs {b.shape} (N, H, W, C). "
            "Compare images of the same size and channel count (resize or convert "
            "grayscale/RGB first)."
        )
    return a, b
