"""Serving exports without TensorFlow: version resolution and the onnxruntime edge path.

    from serving import OnnxGenerator, resolve_version, sample_to_grid
    gen = OnnxGenerator.from_path("exports/dcgan")        # newest complete version
    images = gen.sample(64, seed=0)                       # (64, H, W, C) uint8

Nothing in this package imports TensorFlow; `tests/serving` checks that in a subprocess.
"""

from serving.onnx_runner import OnnxGenerator, make_session, sample_to_grid
from serving.onnx_safety import check_onnx_file
from serving.repository import list_versions, resolve_version

__all__ = ["OnnxGenerator", "check_onnx_file", "list_versions", "make_session", "resolve_version", "sample_to_grid"]
