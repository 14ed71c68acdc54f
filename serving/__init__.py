"""Serving exports without TensorFlow.

    from serving import EdgeModel
    model = EdgeModel.from_path("exports/cdcgan")         # newest complete version
    images = model.sample(64, seed=0, label=7)            # (64, H, W, C) uint8

The edge runner, version resolution and manifest checks live in `keras_gen.core.edge`, shared with
the export stage; this package is the serving side built on them. Nothing here imports
TensorFlow; `tests/serving` checks that in a subprocess.
"""

from keras_gen.core.edge import EdgeModel, check_onnx_file, list_versions, make_session, resolve_version

__all__ = ["EdgeModel", "check_onnx_file", "list_versions", "make_session", "resolve_version"]
