"""onnxruntime tuned for the edge runner: session options and exact rewrites of ConvTranspose and narrow Conv.

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

The same blocking hurts a stride-1 Conv with few output channels: MLAS's NCHWc kernel pads the
output channels to its block (16 with AVX-512), so the fast stylizer's last 9x9 convolution to RGB
(Johnson et al.) computes 16 channels for 3 and took a fifth of the network's time. `tuned_model`
rewrites such a Conv (< MIN_PHASE_CHANNELS outputs, kernel >= MIN_DEPTH_KERNEL) as
SpaceToDepth(2) -> Conv -> DepthToSpace(2): 4x the channels in and out at a quarter of the
positions, a ceil((K-1)/2)+1 kernel (9 -> 5), so 3 outputs become 12 (padded to 16) at 1/4 of the
positions: 3.2x fewer multiply-adds than onnxruntime's channel-padded original (more than the
unpadded original's: 300 against 243 a position per input channel) (details in `_as_space_to_depth`).

All are exact up to float summation order (max abs diff ~1e-8 on DCGAN outputs; the export's
parity check runs the tuned session). The session options turn off the worker threads' spin-wait
(`session.intra_op.allow_spinning` / `inter_op`): on a machine shared with other processes,
spinning threads take the cores the other workers need. Graph optimisation stays ORT_ENABLE_ALL
(onnxruntime's default), which also removes or fuses the layout Transposes tf2onnx's NHWC -> NCHW
conversion inserts; `count_ops` reports how many remain.
"""

from __future__ import annotations

import numpy as np

MIN_PHASE_CHANNELS = 8
MIN_DEPTH_KERNEL = 5  # narrow stride-1 convolutions with kernels from this size go through SpaceToDepth
DEPTH_BLOCK = 2


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


def _as_space_to_depth(node, w, bias, pads, prefix, s=DEPTH_BLOCK):
    """A stride-1 convolution with few output channels as SpaceToDepth -> (D x D) Conv -> DepthToSpace.

    With x' = SpaceToDepth(x_padded) (channel (ay*s + ax)*Ci + ci holds x[s*m + ay, s*n + ax]) and
    output phase (py, px) at channel (py*s + px)*Co + co (DepthToSpace, DCR):
        y[s*m + py] = sum_k x[s*m + py + k] W[k] = sum_{d, a} x'[m + d, a] W[s*d + a - py],
    taps outside [0, K) being zero, D = ceil((K - 1) / s) + 1. The input is zero-padded at the end
    to s * (ceil(Ho / s) + D - 1) rows (Ho the convolution's output size, from the runtime shape),
    and the interleaved output is sliced back to Ho."""
    from onnx import helper, numpy_helper

    co, ci, kh, kw = w.shape
    (pt, pl, pb, pr) = pads
    dh, dw = -(-(kh - 1) // s) + 1, -(-(kw - 1) // s) + 1
    w2 = np.zeros((s, s, co, s, s, ci, dh, dw), np.float32)
    for py in range(s):
        for px in range(s):
            for dy in range(dh):
                for ay in range(s):
                    ky = s * dy + ay - py
                    if not 0 <= ky < kh:
                        continue
                    for dx in range(dw):
                        for ax in range(s):
                            kx = s * dx + ax - px
                            if 0 <= kx < kw:
                                w2[py, px, :, ay, ax, :, dy, dx] = w[:, :, ky, kx]
    ends = [s * (dh - 1) - (kh - 1) + pb, s * (dw - 1) - (kw - 1) + pr]  # + the runtime rounding-up
    const = {"w": w2.reshape(s * s * co, s * s * ci, dh, dw), "i2": np.array([2], np.int64),
             "i4": np.array([4], np.int64), "i0": np.array([0], np.int64), "axes": np.array([2, 3], np.int64),
             "starts": np.zeros(2, np.int64), "to_out": np.array([pt + pb - (kh - 1), pl + pr - (kw - 1)], np.int64),
             "s": np.array(s, np.int64), "s1": np.array(s - 1, np.int64), "ends": np.array(ends, np.int64),
             "begins": np.array([0, 0, pt, pl, 0, 0], np.int64)}
    if bias is not None:
        const["b"] = np.tile(bias.astype(np.float32), s * s)
    inits = [numpy_helper.from_array(v, f"{prefix}/{k}") for k, v in const.items()]
    c = lambda k: f"{prefix}/{k}"
    x = node.input[0]
    nodes = [
        helper.make_node("Shape", [x], [c("shape")]),
        helper.make_node("Slice", [c("shape"), c("i2"), c("i4"), c("i0")], [c("hw")]),
        helper.make_node("Add", [c("hw"), c("to_out")], [c("ho")]),  # the convolution's output size
        helper.make_node("Add", [c("ho"), c("s1")], [c("ho_up")]),
        helper.make_node("Div", [c("ho_up"), c("s")], [c("blocks")]),
        helper.make_node("Mul", [c("blocks"), c("s")], [c("rounded")]),
        helper.make_node("Sub", [c("rounded"), c("ho")], [c("extra")]),
        helper.make_node("Add", [c("extra"), c("ends")], [c("pad_ends")]),
        helper.make_node("Concat", [c("begins"), c("pad_ends")], [c("pads")], axis=0),
        helper.make_node("Pad", [x, c("pads")], [c("padded")]),
        helper.make_node("SpaceToDepth", [c("padded")], [c("depth")], blocksize=s),
        helper.make_node("Conv", [c("depth"), c("w")] + ([c("b")] if bias is not None else []), [c("conv")],
                         kernel_shape=[dh, dw]),
        helper.make_node("DepthToSpace", [c("conv")], [c("space")], blocksize=s, mode="DCR"),
        helper.make_node("Slice", [c("space"), c("starts"), c("ho"), c("axes")], [node.output[0]]),
    ]
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


def _plain_constant_conv(node, inits):
    """(attributes, float32 weights, bias name or None) of a Conv/ConvTranspose with constant 4-D
    float32 weights (and bias), group 1, no dilation and explicit pads; else None."""
    from onnx import numpy_helper

    a = _attrs(node)
    w = numpy_helper.to_array(inits[node.input[1]])
    bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if not (w.ndim == 4 and w.dtype == np.float32 and a.get("group", 1) == 1
            and list(a.get("dilations", [1, 1])) == [1, 1] and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
            and (bias_name is None or bias_name in inits)):
        return None
    return a, w, bias_name


def _narrow_conv(node, inits):
    """The SpaceToDepth form of a plain stride-1 Conv with < MIN_PHASE_CHANNELS outputs and a kernel
    of at least MIN_DEPTH_KERNEL, else None."""
    from onnx import numpy_helper

    plain = _plain_constant_conv(node, inits)
    if plain is None:
        return None
    a, w, bias_name = plain
    if not (w.shape[0] < MIN_PHASE_CHANNELS and min(w.shape[2:]) >= MIN_DEPTH_KERNEL
            and list(a.get("strides", [1, 1])) == [1, 1]):
        return None
    bias = numpy_helper.to_array(inits[bias_name]) if bias_name else None
    return _as_space_to_depth(node, w, bias, list(a.get("pads", [0, 0, 0, 0])), f"{node.output[0]}/kg_tuned")


def tuned_model(model):
    """A copy of `model` (onnx ModelProto) with its ConvTranspose nodes and narrow wide-kernel Conv
    nodes rewritten as described above; returns (model, {"matmul": n, "subpixel": n,
    "space_to_depth": n}) with how many of each were rewritten."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    counts = {"matmul": 0, "subpixel": 0, "space_to_depth": 0}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 11:  # the rewrites emit Pad/Slice with tensor inputs and DepthToSpace modes (opset 11)
        return model, counts
    # a weight that is also a graph input (older IR) may be fed at run time: not a constant to rewrite
    graph_inputs = {i.name for i in graph.input}
    inits = {t.name: t for t in graph.initializer if t.name not in graph_inputs}
    candidates = {n.output[0] for n in graph.node if n.op_type in ("ConvTranspose", "Conv") and n.input[1] in inits}
    if not candidates:
        return model, counts
    shapes = _static_spatial(model) if any(n.op_type == "ConvTranspose" for n in graph.node) else {}
    nodes, added = [], []
    for node in graph.node:
        replaced = None
        if node.op_type == "Conv" and node.output[0] in candidates:
            replaced = _narrow_conv(node, inits)
            counts["space_to_depth"] += replaced is not None
        elif node.op_type == "ConvTranspose" and node.output[0] in candidates:
            plain = _plain_constant_conv(node, inits)
            if plain is not None and "output_shape" not in plain[0] and not any(plain[0].get("output_padding", [0, 0])):
                a, w, bias_name = plain
                strides, pads = list(a.get("strides", [1, 1])), list(a.get("pads", [0, 0, 0, 0]))
                prefix = f"{node.output[0]}/kg_tuned"
                if (shapes.get(node.input[0]) or [None] * 4)[2:] == [1, 1] and pads == [0, 0, 0, 0]:
                    bias = numpy_helper.to_array(inits[bias_name]) if bias_name else None
                    replaced = _as_matmul(node, w, bias, prefix)
                    counts["matmul"] += replaced is not None
                elif strides[0] == strides[1] > 1 and w.shape[1] >= MIN_PHASE_CHANNELS:
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
