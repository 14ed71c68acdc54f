"""What the export stage writes and the serving side reads, in one place, without TensorFlow.

    manifest.py     manifest.json: endpoints with input kinds, parity, file hashes; verification
    repository.py   TF Serving layout EXPORTS/NAME/VERSION: which version is complete and newest
    onnx_safety.py  refuse ONNX external data that resolves outside its version directory
    runner.py       EdgeModel: sample any export on onnxruntime from its declared inputs
                    (`variant="fp16"|"int8"`: the smaller files of `export --onnx-variants`)
    tuning.py       the runner's tuned sessions: ConvTranspose and narrow wide-kernel Conv
                    rewritten in memory, spinning off

`export/` writes versions and checks them with `EdgeModel` (the parity check runs the very code
that serves); `serving/` serves them. Neither imports the other.
"""

from keras_gen.core.edge.manifest import MANIFEST_NAME, read_manifest, verify_manifest, write_manifest
from keras_gen.core.edge.onnx_safety import check_onnx_file
from keras_gen.core.edge.repository import list_versions, resolve_version
from keras_gen.core.edge.runner import CPU, CUDA, EdgeModel, make_session, run_onnx

__all__ = ["CPU", "CUDA", "EdgeModel", "MANIFEST_NAME", "check_onnx_file", "list_versions", "make_session",
           "read_manifest", "resolve_version", "run_onnx", "verify_manifest", "write_manifest"]
