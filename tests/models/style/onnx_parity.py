"""The stylizers' ONNX endpoint at several image sizes: the export's parity check runs one size
(16 px); these runs add others, non-square and not multiples of the networks' strides."""

import numpy as np


def onnx_generate(model, tmp_path, feeds: list[dict]) -> list[np.ndarray]:
    """Convert `model`'s `generate` endpoint once (export/onnx_export.py, as the exporter does) and
    run it on onnxruntime for each feed dict -> the `images` output of each."""
    import onnxruntime as ort
    import tensorflow as tf

    from export.onnx_export import convert_endpoint

    endpoint = model.export_endpoints()["generate"]
    fn = tf.function(endpoint.fn, input_signature=endpoint.input_signature)
    path = tmp_path / "generate.onnx"
    convert_endpoint(fn, endpoint.input_signature, ["images"], path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return [session.run(["images"], {k: np.asarray(feed[k]) for k in names})[0] for feed in feeds]
