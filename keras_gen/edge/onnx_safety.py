"""Moved to keras_gen/core/edge/onnx_safety.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.edge.onnx_safety` is the very module `keras_gen.core.edge.onnx_safety`, so what patches
one patches the other.
"""

import sys

from keras_gen.core.edge import onnx_safety as _moved

sys.modules[__name__] = _moved
