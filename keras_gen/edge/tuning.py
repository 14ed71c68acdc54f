"""Moved to keras_gen/core/edge/tuning.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.edge.tuning` is the very module `keras_gen.core.edge.tuning`, so what patches
one patches the other.
"""

import sys

from keras_gen.core.edge import tuning as _moved

sys.modules[__name__] = _moved
