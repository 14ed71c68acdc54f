"""Feature extractors for metrics and losses: InceptionV3, VGG16 and the project's domain classifier.

    from keras_gen.features import get_feature_extractor

    extract = get_feature_extractor("domain", source="digits")   # offline, trains once, cached
    out = extract(images)            # {"features": (N, D), "logits": (N, K), "probs": (N, K)}

Kinds (every extractor maps [-1, 1] NHWC images of any size and 1/3/4 channels to a dict with
at least "features", float32 numpy):
- "inception": Keras ImageNet InceptionV3 (inception.py): features = 2048-d pool, plus logits
  and probs (1000 classes). Needs the weight file (downloaded where the network allows).
- "domain": small CNN trained on a labelled data set (classifier.py): features = penultimate
  128-d layer, plus logits and probs over the data set's classes. Offline.
- "vgg": pooled VGG16 activations of one layer (vgg.py), e.g. for diversity. Offline with the
  HED-bundled VGG16 weights (weight resolution: vgg_weights.py).

`vgg_extractor(arch, layers, weights)` is the VGG16/VGG19 model of named feature maps behind the
style, texture and inversion code and the fast_style / adain loss networks.

Submodules import TensorFlow; this package imports them only when first used.
"""

from __future__ import annotations

import importlib
import inspect

from keras_gen.errors import KerasGenError

KINDS = {
    "inception": ("keras_gen.features.inception", "InceptionFeatures"),
    "domain": ("keras_gen.features.classifier", "load_domain_classifier"),
    "vgg": ("keras_gen.features.vgg", "VGGFeatures"),
}

_LAZY = {
    "InceptionFeatures": "keras_gen.features.inception",
    "DomainFeatures": "keras_gen.features.classifier",
    "build_domain_classifier": "keras_gen.features.classifier",
    "train_domain_classifier": "keras_gen.features.classifier",
    "load_domain_classifier": "keras_gen.features.classifier",
    "classifier_path": "keras_gen.features.classifier",
    "default_cache_dir": "keras_gen.features.classifier",
    "VGGFeatures": "keras_gen.features.vgg",
    "VGGPreprocess": "keras_gen.features.vgg",
    "vgg16_feature_extractor": "keras_gen.features.vgg",
    "vgg_features": "keras_gen.features.vgg",
    "vgg_extractor": "keras_gen.features.vgg",
}

__all__ = ["KINDS", "get_feature_extractor", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_gen.features' has no attribute {name!r}")


def get_feature_extractor(kind: str, **kwargs):
    """A callable `(images, batch_size=...) -> dict` with at least "features" (N, D) float32.

    kwargs go to the extractor: inception (weights="imagenet" | path | None, download=True),
    domain (source, image_size=None, channels=None, cache_dir=None, train_if_missing=True,
    data_dir=None, plus training options), vgg (layer="block5_conv3", pooling="avg",
    weights="auto", image_size=None).
    """
    if kind not in KINDS:
        raise KerasGenError(f"unknown feature extractor {kind!r}; choose one of {', '.join(KINDS)}")
    module, attr = KINDS[kind]
    factory = getattr(importlib.import_module(module), attr)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        params = [p for p in inspect.signature(factory).parameters if p not in ("kwargs", "self")]
        raise KerasGenError(
            f"bad options for the {kind!r} feature extractor ({exc}); it takes {', '.join(params)}"
        ) from None
    return factory(**kwargs)
