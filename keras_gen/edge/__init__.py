"""Moved to keras_gen/core/edge/ (the TensorFlow-free core): the manifest, the repository layout,
ONNX safety, the onnxruntime runner (EdgeModel) and its tuned sessions. This package keeps the old
import paths: `keras_gen.edge` exposes the same names, and each `keras_gen.edge.NAME` submodule is
the very module `keras_gen.core.edge.NAME`.
"""

from keras_gen.core.edge import *  # noqa: F401,F403
from keras_gen.core.edge import __all__  # noqa: F401
from keras_gen.edge import manifest, onnx_safety, repository, runner, tuning  # noqa: F401  (the moved submodules)
