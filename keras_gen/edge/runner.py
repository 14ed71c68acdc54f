"""Moved to keras_gen/core/edge/runner.py (the TensorFlow-free core); this name stays for existing
imports: `keras_gen.edge.runner` is the very module `keras_gen.core.edge.runner`, so what patches
one patches the other.
"""

import sys

from keras_gen.core.edge import runner as _moved

sys.modules[__name__] = _moved
