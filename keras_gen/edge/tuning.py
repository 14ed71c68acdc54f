"""onnxruntime tuned for the edge runner: session options and an exact rewrite of ConvTranspose.

Measured on the DCGAN generator (benchmarks/sample_latency.py, docs/BENCHMARKS.md), almost all of
the time at batch 64 goes to ConvTranspose, which onnxruntime's CPU kernel runs image by image
(a small GEMM and a single-threaded col2im per image), while TF's oneDNN kernel takes the batch
at once. So `tuned_model` rewrites, in memory when a session opens (model.onnx on disk stays
what the export checked), each ConvTranspose whose weights are float32 constants:

  * on a 1x1 input without padding (a generator's first layer, latents -> k x k):
        y[b, co, i, j] = sum_ci x[b, ci] W[ci, co, i, j]  ==  Reshape(MatMul(x, W as (Ci, Co*k*k)))
    one GEMM over the whole batch;
  * strided, with kernel k a multiple of stride s and (k - pad_begin - pad_end) a multiple of s
    (DCGAN's k=4, s=2, "same"), as s*s sub-pixel convolutions + DepthToSpace: output phase
    (py, px) reads D = k/s taps per axis,
        y[s*m + p] = sum_d x[m + q - d] * W[s*d + r],   r = (p + pad) mod s, q = (p + pad) // s,
    which is an ordinary (k/s x k/s) Conv with flipped taps and padding (D-1-q, q+(k-pb-pe)/s-1);
    the phases are concatenated and interleaved with DepthToSpace (DCR). The multiply-adds are the
    ConvTranspose's own (no zero taps), and onnxruntime's Conv is the batched, NCHWc-blocked MLAS
    kernel. Narrow outputs (< MIN_PHASE_CHANNELS channels, e.g. the final RGB layer) stay as they
    are: their phase convolutions are too thin to gain.

Both are exact up to float summation order (max abs diff ~1e-8 on DCGAN outputs; the export's
parity check runs the tuned session). The session options turn off the worker threads' spin-wait
(`session.intra_op.allow_spinning` / `inter_op`): on a machine shared with other processes,
spinning threads take the cores the other workers need. Graph optimisation stays ORT_ENABLE_ALL
(onnxruntime's default), which also removes or fuses the layout Transposes tf2onnx's NHWC -> NCHW
conversion inserts; `count_ops` reports how many remain.
"""

from __future__ import annotations

import numpy as np

MIN_PHASE_CHANNELS = 8


def session_options(tuned: bool = True, threads: int = 0):
    """onnxruntime SessionOptions: errors-only logging; tuned: ORT_ENABLE_ALL, sequential, no
    spinning. `threads`: intra-op threads (0: onnxruntime's choice, one per physical core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only, for this session's own messages
    options.intra_op_num_threads = int(threads)
    if tuned:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def count_ops(model, op_type: str) -> int:
    """How many nodes of `op_type` the graph (and its subgraphs) holds."""
    import onnx

    def in_graph(graph) -> int:
        return sum((node.op_type == op_type) + sum(in_graph(a.g) for a in node.attribute
                                                  if a.type == onnx.AttributeProto.GRAPH)
                   for node in graph.node)

    return in_graph(model.graph)


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _static_spatial(model) -> dict[str, list]:
    """{tensor: shape} from ONNX shape inference (None for unknown dims)."""
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model).graph
    return {vi.name: [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
            for vi in (*inferred.value_info, *inferred.input, *inferred.output)}


def _as_matmul(node, w, bias, prefix):
    from onnx import helper, numpy_helper

    cin, cout, kh, kw = w.shape
    inits = [numpy_helper.from_array(w.reshape(cin, cout * kh * kw), f"{prefix}/w"),
             numpy_helper.from_array(np.array([-1, cin], np.int64), f"{prefix}/flat_shape"),
             numpy_helper.from_array(np.array([-1, cout, kh, kw], np.int64), f"{prefix}/out_shape")]
    nodes = [helper.make_node("Reshape", [node.input[0], f"{prefix}/flat_shape"], [f"{prefix}/flat"]),
             helper.make_node("MatMul", [f"{prefix}/flat", f"{prefix}/w"], [f"{prefix}/mm"])]
    last = f"{prefix}/mm"
    if bias is not None:
        inits.append(numpy_helper.from_array(np.repeat(bias, kh * kw).astype(w.dtype), f"{prefix}/b"))
        nodes.append(helper.make_node("Add", [last, f"{prefix}/b"], [f"{prefix}/mmb"]))
        last = f"{prefix}/mmb"
    nodes.append(helper.make_node("Reshape", [last, f"{prefix}/out_shape"], [node.output[0]]))
    return nodes, inits


def _as_phases(node, w, bias_name, stride, pads, prefix):
    """Sub-pixel convolutions + DepthToSpace, or None when the shapes do not allow it."""
    from onnx import helper, numpy_helper

    _, _, kh, kw = w.shape
    s = stride
    (pb_y, pb_x, pe_y, pe_x) = pads
    if kh % s or kw % s or (kh - pb_y - pe_y) % s or (kw - pb_x - pe_x) % s:
        return None
    dy, dx = kh // s, kw // s
    nodes, inits, phases = [], [], []
    for py in range(s):
        for px in range(s):
            ry, qy = (py + pb_y) % s, (py + pb_y) // s
            rx, qx = (px + pb_x) % s, (px + pb_x) // s
            conv_pads = [dy - 1 - qy, dx - 1 - qx, qy + (kh - pb_y - pe_y) // s - 1, qx + (kw - pb_x - pe_x) // s - 1]
            if min(conv_pads) < 0:
                return None
            taps = w[:, :, ry::s, rx::s][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (Co, Ci, D, D), flipped
            name = f"{prefix}/phase{py}{px}"
            inits.append(numpy_helper.from_array(np.ascontiguousarray(taps), f"{name}/w"))
            nodes.append(helper.make_node("Conv", [node.input[0], f"{name}/w"] + ([bias_name] if bias_name else []),
                                          [name], kernel_shape=[dy, dx], pads=conv_pads))
            phases.append(name)
    nodes.append(helper.make_node("Concat", phases, [f"{prefix}/phases"], axis=1))
    nodes.append(helper.make_node("DepthToSpace", [f"{prefix}/phases"], [node.output[0]], blocksize=s, mode="DCR"))
    return nodes, inits


def _names_read(graph) -> set:
    """Every tensor name a node of `graph` or of its subgraphs (If/Loop bodies) reads."""
    import onnx

    names = set()
    for node in graph.node:
        names.update(node.input)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                names |= _names_read(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    names |= _names_read(sub)
    return names


def tuned_model(model):
    """A copy of `model` (onnx ModelProto) with its ConvTranspose nodes rewritten as described
    above; returns (model, {"matmul": n, "subpixel": n}) with how many of each were rewritten."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    counts = {"matmul": 0, "subpixel": 0}
    candidates = {n.output[0] for n in graph.node if n.op_type == "ConvTranspose" and n.input[1] in inits}
    if not candidates:
        return model, counts
    shapes = _static_spatial(model)
    nodes, added = [], []
    for node in graph.node:
        replaced = None
        if node.op_type == "ConvTranspose" and node.output[0] in candidates:
            a = _attrs(node)
            w = numpy_helper.to_array(inits[node.input[1]])
            bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
            strides, pads = list(a.get("strides", [1, 1])), list(a.get("pads", [0, 0, 0, 0]))
            plain = (w.ndim == 4 and w.dtype == np.float32 and a.get("group", 1) == 1
                     and list(a.get("dilations", [1, 1])) == [1, 1] and "output_shape" not in a
                     and not any(a.get("output_padding", [0, 0])) and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
                     and (bias_name is None or bias_name in inits))
            prefix = f"{node.output[0]}/kg_tuned"
            if plain and (shapes.get(node.input[0]) or [None] * 4)[2:] == [1, 1] and pads == [0, 0, 0, 0]:
                bias = numpy_helper.to_array(inits[bias_name]) if bias_name else None
                replaced = _as_matmul(node, w, bias, prefix)
                counts["matmul"] += replaced is not None
            elif plain and strides[0] == strides[1] > 1 and w.shape[1] >= MIN_PHASE_CHANNELS:
                replaced = _as_phases(node, w, bias_name, strides[0], pads, prefix)
                counts["subpixel"] += replaced is not None
        if replaced is None:
            nodes.append(node)
        else:
            nodes.extend(replaced[0])
            added.extend(replaced[1])
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    used = _names_read(graph) | {o.name for o in graph.output}
    kept = [t for t in graph.initializer if t.name in used]  # drops the replaced ConvTranspose weights
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model, counts
