"""InceptionV3 features for FID, KID and the Inception Score, from `keras.applications` weights.

FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium") compares Gaussians fitted to the 2048-d average-pool activations ("pool3");
IS (Salimans et al. 2016) is exp(E_x KL(p(y|x) || p(y))) over the 1000-way class posterior, so
both the pool features and the classifier logits are returned.

Comparability: these are Keras' ImageNet InceptionV3 weights, NOT the 2015 TF Inception graph
(`pool_3:0`, 1008 classes) behind the original TTUR code, pytorch-fid, TF-GAN and clean-fid's
"legacy" modes. A different set of weights gives a different feature space, so FID values are
only comparable with other values computed by this code. For scale: genforce reports that FID
from torchvision's (also non-2015) InceptionV3 weights is typically about 1.5 lower than from
the TF graph on their GAN benchmarks; we have not measured the gap for Keras' weights (no
network here to fetch either), so treat it as unknown rather than as a fixed offset.

Preprocessing (clean-fid, Parmar et al. 2022): images are resized to 299x299 with an
antialiased bilinear kernel in float32 and fed straight to the network; no uint8 quantisation
or JPEG step in between. Keras' InceptionV3 expects inputs in [-1, 1] (its `preprocess_input`
is x / 127.5 - 1), which is the library's own image range, so no rescaling is applied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import PIXEL_RANGE, convert_channels
from keras_gen.features._common import (
    batched,
    check_images,
    download_weights,
    find_cached_weights,
    resize_images,
)

INCEPTION_SIZE = 299
TOP_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
NOTOP_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"

NO_WEIGHTS_MESSAGE = (
    "could not download InceptionV3 ImageNet weights (no network?); download "
    f"`{TOP_WEIGHTS}` (https://storage.googleapis.com/tensorflow/keras-applications/"
    f"inception_v3/{TOP_WEIGHTS}) on a machine with network and pass its path "
    "(--inception-weights PATH) or put it in ~/.keras/models/; offline you can use the domain "
    "feature space (--features domain)"
)


def _h5_has_top(path: Path) -> bool:
    """Whether an InceptionV3 weight file holds the 1000-way top: looks for its (2048, 1000)
    kernel, which works for keras-applications' legacy .h5 and Keras 3 .weights.h5 alike."""
    import h5py

    found = []

    def visit(_, obj):
        if isinstance(obj, h5py.Dataset) and obj.shape == (2048, 1000):
            found.append(obj)

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as exc:
        raise KerasGenError(f"cannot read InceptionV3 weights file {path} (not an HDF5 file?): {exc}") from exc
    return bool(found)


class InceptionFeatures:
    """Callable InceptionV3 feature extractor: [-1, 1] images -> pool (N, 2048) and logits (N, 1000).

    Args:
        weights: "imagenet" (Keras cache, else download when the network allows), a path to a
            Keras InceptionV3 .h5 weight file (with or without top), or None (random init, for
            tests of shapes only).
        download: allow a download when the weights are not cached.

    A "notop" weight file gives pool features only (`has_logits` is False): enough for FID
    and KID, not for the Inception Score.
    """

    def __init__(self, weights: str | Path | None = "imagenet", download: bool = True):
        import keras

        self.weights = None if weights is None else str(weights)
        include_top = True
        path = None
        if weights == "imagenet":
            path = find_cached_weights(TOP_WEIGHTS)
            if path is None and find_cached_weights(NOTOP_WEIGHTS) is not None:
                path, include_top = find_cached_weights(NOTOP_WEIGHTS), False
        elif weights is not None:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise KerasGenError(
                    f"InceptionV3 weights file not found: {path}; pass the path of "
                    f"`{TOP_WEIGHTS}` downloaded from keras-applications"
                )
            include_top = _h5_has_top(path)

        def build(w):
            if include_top:
                return keras.applications.InceptionV3(include_top=True, weights=w)
            return keras.applications.InceptionV3(
                include_top=False, weights=w, pooling="avg", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3)
            )

        if weights == "imagenet" and path is None:
            base = download_weights(lambda: build("imagenet"), NO_WEIGHTS_MESSAGE, download=download)
        else:
            try:
                base = build(None if path is None else str(path))
            except (ValueError, OSError, KeyError) as exc:
                raise KerasGenError(f"cannot load InceptionV3 weights from {path}: {exc}") from exc

        self.model = base  # the full keras.applications model (softmax top), for inspection
        self.has_logits = include_top
        if include_top:
            pool = base.get_layer("avg_pool").output  # (N, 2048)
            self._pool_model = keras.Model(base.input, pool, name="inception_v3_pool")
            dense = base.get_layer("predictions")
            # The top Dense has a softmax activation; logits = pool @ W + b before it.
            self._kernel, self._bias = dense.kernel, dense.bias
        else:
            self._pool_model = base
        self._fn = None

    @property
    def feature_dim(self) -> int:
        return 2048

    def _compiled(self):
        import tensorflow as tf

        if self._fn is None:

            @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
            def fn(x):
                x = resize_images(x, INCEPTION_SIZE)  # (N, 299, 299, 3), float, antialiased
                x.set_shape([None, INCEPTION_SIZE, INCEPTION_SIZE, 3])
                pool = self._pool_model(x, training=False)  # (N, 2048)
                out = {"pool": pool}
                if self.has_logits:
                    logits = tf.matmul(pool, self._kernel) + self._bias  # (N, 1000)
                    out["logits"] = logits
                    out["probs"] = tf.nn.softmax(logits)
                return out

            self._fn = fn
        return self._fn

    def __call__(self, images, batch_size: int = 32) -> dict[str, np.ndarray]:
        """images: (N, H, W, C) float in [-1, 1], C in {1, 3, 4}, any size.

        Returns float32 numpy arrays: pool (N, 2048), features (= pool), and, with top weights,
        logits (N, 1000) and probs (softmax of logits).
        """
        import tensorflow as tf

        x = check_images(images)
        fn = self._compiled()
        if isinstance(x, tf.Tensor):
            x = x.numpy()
        out = batched(lambda b: fn(convert_channels(tf.constant(b), 3, value_range=PIXEL_RANGE)), x, batch_size)
        out = {k: v.astype(np.float32) for k, v in out.items()}
        out["features"] = out["pool"]
        return out
