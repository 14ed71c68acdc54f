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
        assert counts == {"matmul": 1, "subpixel": wide_layers, "space_to_depth": 0}
        assert count_ops(rewritten, "ConvTranspose") == 1
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


@pytest.mark.parametrize("out_channels,kernel,pads,bias,rewritten_count", [
    (3, (9, 9), [0, 0, 0, 0], True, 1),  # Johnson et al.'s output layer (reflection padding is a Pad before it)
    (2, (5, 7), [2, 0, 1, 3], False, 1),  # asymmetric kernel and pads, no bias
    (3, (3, 3), [1, 1, 1, 1], True, 0),  # small kernel: left as it is
    (8, (9, 9), [4, 4, 4, 4], True, 0),  # wide output: onnxruntime's blocked Conv wastes nothing
])
def test_space_to_depth_rewrite_matches_conv(out_channels, kernel, pads, bias, rewritten_count):
    """A narrow stride-1 Conv as SpaceToDepth -> Conv -> DepthToSpace gives onnxruntime's own Conv at
    sizes that are and are not multiples of the block, for one graph with dynamic height and width."""
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    w = (rng.standard_normal((out_channels, 4, *kernel)) / np.sqrt(4 * kernel[0] * kernel[1])).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(rng.standard_normal(out_channels)
                                                                          .astype(np.float32), "b")] if bias else [])
    node = helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], pads=pads, kernel_shape=list(kernel))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 4, "h", "w"])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", out_channels, "ho", "wo"])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    rewritten, counts = tuned_model(model)
    onnx.checker.check_model(rewritten, full_check=True)
    assert counts == {"matmul": 0, "subpixel": 0, "space_to_depth": rewritten_count}
    assert count_ops(rewritten, "SpaceToDepth") == count_ops(rewritten, "DepthToSpace") == rewritten_count
    assert count_ops(rewritten, "Conv") == 1
    want_session = ort.InferenceSession(model.SerializeToString(), providers=[CPU])
    got_session = ort.InferenceSession(rewritten.SerializeToString(), providers=[CPU])
    for h, wd in ((9, 12), (10, 11), (16, 16)):
        x = rng.standard_normal((2, 4, h, wd)).astype(np.float32)
        want, got = want_session.run(None, {"x": x})[0], got_session.run(None, {"x": x})[0]
        assert got.shape == want.shape and np.abs(want).max() > 1 and np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize("case", ["dilations", "group", "strides", "auto_pad", "weight_is_an_input", "opset_10"])
def test_space_to_depth_rewrite_leaves_other_convs_alone(case):
    """Only a plain, constant-weight, stride-1 Conv is rewritten: dilated, grouped, strided and
    auto-padded Convs, weights a caller may feed, and opsets before 11 stay as they are."""
    w = np.ones((3, 4, 9, 9), np.float32)
    attrs = {"kernel_shape": [9, 9], "dilations": [2, 2] if case == "dilations" else [1, 1],
             "group": 2 if case == "group" else 1, "strides": [2, 2] if case == "strides" else [1, 1]}
    if case == "group":
        w = np.ones((4, 2, 9, 9), np.float32)[:3]
    if case == "auto_pad":
        attrs["auto_pad"] = "SAME_UPPER"
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 4, "h", "w"])]
    if case == "weight_is_an_input":
        inputs.append(helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, list(w.shape)))
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], **attrs)], "g", inputs,
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10 if case == "opset_10" else 17)],
                              ir_version=8)
    rewritten, counts = tuned_model(model)
    assert counts["space_to_depth"] == 0 and count_ops(rewritten, "SpaceToDepth") == 0
    assert [t.name for t in rewritten.graph.initializer] == ["w"]
