"""Moved to keras_gen/core/errors.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.errors` is the very module `keras_gen.core.errors`, so what patches one patches
the other.
"""

import sys

from keras_gen.core import errors as _moved

sys.modules[__name__] = _moved
