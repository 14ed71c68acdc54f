"""keras-gen: generative image models in Keras 3 on TensorFlow.

Importing this package is cheap: it only pins the Keras backend. TensorFlow and Keras are
imported by the submodules that need them; what runs at the edge (images, inputs, latents,
samplers, the manifest and the onnxruntime runner) is `keras_gen.core`, which imports none of
them at any level, so the onnxruntime sampling path (`keras_gen.core`, `serving/`) runs without
TensorFlow installed or loaded.
"""

import os

__version__ = "0.1.0"

_backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if _backend != "tensorflow":
    raise ImportError(
        f"keras-gen runs on the TensorFlow backend only, but KERAS_BACKEND={_backend!r}. "
        "Unset KERAS_BACKEND or set it to 'tensorflow'."
    )

from keras_gen.core.errors import KerasGenError  # noqa: E402  (after the backend is pinned)

__all__ = ["KerasGenError", "__version__"]
