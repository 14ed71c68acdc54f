"""Moved to keras_gen/core/paths.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.paths` is the very module `keras_gen.core.paths`, so what patches one patches
the other.
"""

import sys

from keras_gen.core import paths as _moved

sys.modules[__name__] = _moved
