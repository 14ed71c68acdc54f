"""Moved to keras_gen/core/edge/repository.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.edge.repository` is the very module `keras_gen.core.edge.repository`, so what patches
one patches the other.
"""

import sys

from keras_gen.core.edge import repository as _moved

sys.modules[__name__] = _moved
