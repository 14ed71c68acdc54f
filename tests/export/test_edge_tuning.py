"""The edge runner's tuned onnxruntime session (keras_gen.edge.tuning): ConvTranspose rewritten
in memory as a batched MatMul or sub-pixel convolutions, spinning off. Exact up to float order."""

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from keras_gen.edge import EdgeModel, make_session, run_onnx
from keras_gen.edge.runner import CPU
from keras_gen.edge.tuning import count_ops, tuned_model


def test_tuned_sessions_give_the_exported_outputs(export16, export32rgb):
    for (model, _, version_dir), wide_layers in ((export16, 1), (export32rgb, 2)):
        path = version_dir / "model.onnx"
        rewritten, counts = tuned_model(onnx.load(str(path)))
        # DCGAN: the 1x1 -> 4x4 layer becomes a MatMul, the wide stride-2 layers sub-pixel convs;
        # the narrow image layer (channels < 8) stays a ConvTranspose
        assert counts == {"matmul": 1, "subpixel": wide_layers} and count_ops(rewritten, "ConvTranspose") == 1
        onnx.checker.check_model(rewritten, full_check=True)
        feeds = model.parity_inputs(16, seed=2)
        plain = run_onnx(make_session(path, providers=[CPU], tuned=False), feeds)["images"]
        tuned = run_onnx(make_session(path, providers=[CPU]), feeds)["images"]
        assert np.abs(plain).max() > 0.5  # outputs spread over [-1, 1]: the comparison means something
        assert np.abs(tuned - plain).max() <= 1e-4  # the export's parity tolerance
        edge, untuned = EdgeModel.from_path(version_dir), EdgeModel.from_path(version_dir, tuned=False)
        assert np.abs(edge.sample(8, 1).astype(int) - untuned.sample(8, 1)).max() <= 1
    manifest_parity = json.loads((export16[2] / "manifest.json").read_text())["parity"]
    assert manifest_parity["tuned_vs_plain"]["images"] <= 1e-4


@pytest.mark.parametrize("kernel,stride,pads,rewritten_count", [
    (4, 2, [1, 1, 1, 1], 1), (6, 3, [2, 0, 1, 3], 1), (4, 2, [2, 0, 0, 2], 1),
    (6, 3, [2, 1, 2, 1], 0),  # phases of unequal length: left as a ConvTranspose
])
def test_subpixel_rewrite_matches_conv_transpose(kernel, stride, pads, rewritten_count):
    """Asymmetric pads and stride 3 with a bias: the rewrite reproduces onnxruntime's own ConvTranspose."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 8, kernel, kernel)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[stride, stride], pads=pads,
                            kernel_shape=[kernel, kernel])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 3, 5, 6])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    rewritten, counts = tuned_model(model)
    assert counts["subpixel"] == rewritten_count and count_ops(rewritten, "ConvTranspose") == 1 - rewritten_count
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    import onnxruntime as ort

    want = ort.InferenceSession(model.SerializeToString(), providers=[CPU]).run(None, {"x": x})[0]
    got = ort.InferenceSession(rewritten.SerializeToString(), providers=[CPU]).run(None, {"x": x})[0]
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-4
