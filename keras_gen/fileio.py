"""Moved to keras_gen/core/fileio.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.fileio` is the very module `keras_gen.core.fileio`, so what patches one patches
the other.
"""

import sys

from keras_gen.core import fileio as _moved

sys.modules[__name__] = _moved
