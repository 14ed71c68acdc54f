"""Moved to keras_gen/core/edge/manifest.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.edge.manifest` is the very module `keras_gen.core.edge.manifest`, so what patches
one patches the other.
"""

import sys

from keras_gen.core.edge import manifest as _moved

sys.modules[__name__] = _moved
