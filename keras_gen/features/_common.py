"""Helpers shared by the feature extractors: input checks, resizing, batching, weight lookup.

Resizing follows Parmar, Zhang & Zhu, "On Aliased Resizing and Surprising Subtleties in GAN
Evaluation" (clean-fid, CVPR 2022): downsampling must low-pass filter with a kernel whose width
grows with the scale factor (`antialias=True`), and images stay float between the resize and
the network (quantising to uint8 there, or JPEG-encoding, shifts FID by whole points).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError


def check_images(images, what: str = "images") -> np.ndarray | object:
    """Validate a batch of library images: float NHWC (or NHW) in [-1, 1].

    numpy arrays are checked for range (uint8 or [0, 255] floats are the common mistake);
    TF tensors are passed through after a rank check, so graphs stay graphs.
    """
    import tensorflow as tf

    if isinstance(images, (tf.Tensor, tf.Variable)):
        if images.shape.rank == 3:
            images = images[..., None]
        if images.shape.rank != 4:
            raise KerasGenError(f"{what} must be (N, H, W, C), got shape {tuple(images.shape)}")
        return tf.cast(images, tf.float32)
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]  # (N, H, W) grey images
    if x.ndim != 4:
        raise KerasGenError(f"{what} must be (N, H, W, C) float32 in [-1, 1], got shape {x.shape}")
    if x.shape[0] == 0:
        raise KerasGenError(f"{what} is empty: pass at least one image")
    if x.dtype == np.uint8 or (x.size and (x.min() < -1.05 or x.max() > 1.05)):
        raise KerasGenError(
            f"{what} must be float in [-1, 1] (got dtype {x.dtype}, range "
            f"[{x.min():.3g}, {x.max():.3g}]); convert uint8 images with "
            "keras_gen.images.from_uint8"
        )
    return x.astype(np.float32, copy=False)


def resize_images(x, size: int | tuple[int, int]):
    """Antialiased bilinear resize in float (no uint8 round trip), identity at the same size.

    `antialias=True` widens the bilinear kernel by the downscale factor (PIL-style), the
    choice clean-fid recommends; upsampling is plain bilinear interpolation.
    """
    import tensorflow as tf

    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[1:3]) == hw:
        return x
    return tf.image.resize(x, hw, method="bilinear", antialias=True)


def batched(fn, images, batch_size: int) -> dict[str, np.ndarray]:
    """Run `fn(batch) -> dict of tensors` over numpy `images` in batches; concatenate as numpy."""
    if batch_size < 1:
        raise KerasGenError(f"batch_size must be >= 1, got {batch_size}")
    parts: dict[str, list] = {}
    for start in range(0, len(images), batch_size):
        out = fn(images[start : start + batch_size])
        for key, value in out.items():
            parts.setdefault(key, []).append(np.asarray(value))
    return {key: np.concatenate(vals, axis=0) for key, vals in parts.items()}


# ----------------------------------------------------------------------------------------------
# keras.applications weight files: look in the local cache first, download only when reachable.

WEIGHTS_HOST = "storage.googleapis.com"


def keras_model_dirs() -> list[Path]:
    """Where `keras.utils.get_file(..., cache_subdir="models")` keeps files: $KERAS_HOME or
    ~/.keras, and /tmp/.keras when the home directory is not writable."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    dirs = [Path(home) / "models", Path("/tmp/.keras/models")]
    return list(dict.fromkeys(dirs))


def find_cached_weights(fname: str) -> Path | None:
    for d in keras_model_dirs():
        if (d / fname).is_file():
            return d / fname
    return None


def host_reachable(host: str = WEIGHTS_HOST, port: int = 443, timeout: float = 3.0) -> bool:
    """A quick TCP probe, so that an offline machine fails in seconds instead of hanging in a
    download with no time-out."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def download_weights(build_fn, error_message: str, download: bool = True):
    """Call `build_fn()` (a keras.applications constructor with weights="imagenet", which
    downloads into the Keras cache) if the weight host is reachable; else raise KerasGenError."""
    if not download or not host_reachable():
        raise KerasGenError(error_message)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60.0)  # urlretrieve has no time-out of its own
    try:
        return build_fn()
    except Exception as exc:  # urllib/HTTP/hash errors all mean the same thing to the user
        raise KerasGenError(f"{error_message} (download error: {exc})") from exc
    finally:
        socket.setdefaulttimeout(previous)
