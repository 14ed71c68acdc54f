"""Convert a model's ONNX endpoint (a tf.function with named TensorSpecs) to `model.onnx`.

tf2onnx freezes the function's variables into initializers and converts the graph. We then
make the file self-describing for onnxruntime users: inputs carry the TensorSpec names ("z"),
outputs carry the endpoint's dict keys ("images"), and every unknown dimension gets a name
(the leading one "batch", shared by inputs and outputs), so the batch axis is visibly dynamic.
The model is saved as one file, without external data, and checked with `onnx.checker`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from keras_gen.core.errors import KerasGenError

# One protobuf file holds at most 2 GiB; keras-gen's deployable networks are far smaller.
_PROTOBUF_LIMIT = 2**31 - 1



@contextlib.contextmanager
def _without_tf2onnx_optimizers(names):
    """Run tf2onnx without some of its graph optimizers.

    With inputs of unknown height and width, TF wraps every convolution in a batch-squeeze
    (Unsqueeze, Reshape, Conv, Reshape, Squeeze), and tf2onnx's ReshapeOptimizer sometimes drops
    the final Squeeze, so the output gains a leading 1. Whether it does depends on Python's
    string-hash order, so it varies between processes (about one conversion in six here). The
    parity check catches it; leaving the reshapes unmerged avoids it."""
    import tf2onnx.optimizer

    registry = tf2onnx.optimizer._optimizers  # from_function takes no optimizer list
    original = list(registry.items())
    for name in names:
        registry.pop(name, None)
    try:
        yield
    finally:
        registry.clear()
        registry.update(original)  # the same optimizers in the same order


def _name_dims(value_infos, batch_name: str = "batch") -> dict[str, dict[int, str]]:
    """Give every unknown dim a name; the leading one is the shared batch axis. Returns dynamic axes."""
    dynamic = {}
    for vi in value_infos:
        dims = vi.type.tensor_type.shape.dim
        for i, dim in enumerate(dims):
            if dim.HasField("dim_value"):
                continue
            dim.dim_param = batch_name if i == 0 else f"{vi.name}_dim{i}"
            dynamic.setdefault(vi.name, {})[i] = dim.dim_param
    return dynamic


def describe_value_infos(value_infos) -> list[dict]:
    """[{"name", "dtype", "shape"}] with dynamic dims as their names (e.g. "batch")."""
    from onnx.helper import tensor_dtype_to_np_dtype

    out = []
    for vi in value_infos:
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]
        out.append({"name": vi.name, "dtype": tensor_dtype_to_np_dtype(tt.elem_type).name, "shape": shape})
    return out


def convert_endpoint(tf_function, input_signature, output_keys, path: str | Path, opset: int = 17,
                     metadata: dict | None = None) -> dict:
    """Write `tf_function` (traced with `input_signature`) to `path` as ONNX; return its description.

    `output_keys` are the endpoint's output dict keys, sorted (the order tf.nest flattens a dict,
    which is the order of the converted graph's outputs).
    """
    import onnx
    import tf2onnx

    any_size = any(None in spec.shape.as_list()[1:] for spec in input_signature if spec.shape.rank)
    with _without_tf2onnx_optimizers(("reshape_optimizer",) if any_size else ()):
        proto, external = tf2onnx.convert.from_function(tf_function, input_signature=list(input_signature),
                                                        opset=opset)
    if external is not None and getattr(external, "name_to_tensor_data", None):
        raise KerasGenError("tf2onnx produced external tensor data; keras-gen writes single-file ONNX models only.")

    graph = proto.graph
    _rename_io(graph, [spec.name for spec in input_signature], list(output_keys))
    dynamic_axes = _name_dims(graph.input)
    dynamic_axes.update(_name_dims(graph.output))

    proto.producer_name = "keras-gen"
    proto.doc_string = "Exported by keras-gen from a Keras endpoint via tf2onnx."
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"keras_gen.{key}", str(value)

    if proto.ByteSize() > _PROTOBUF_LIMIT:
        raise KerasGenError(
            f"The ONNX model is {proto.ByteSize() / 2**30:.1f} GiB, over protobuf's 2 GiB single-file limit; "
            "keras-gen exports single-file ONNX models only. Export a smaller network."
        )
    onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    onnx.save_model(proto, str(path), save_as_external_data=False)
    return {
        "file": path.name,
        "opset": next(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")),
        "ir_version": proto.ir_version,
        "inputs": describe_value_infos(graph.input),
        "outputs": describe_value_infos(graph.output),
        "dynamic_axes": {name: {str(i): n for i, n in axes.items()} for name, axes in dynamic_axes.items()},
        "external_data": False,
    }


def _rename_io(graph, input_names: list[str], output_names: list[str]) -> None:
    """Make graph inputs/outputs carry the spec names and output keys (tf2onnx usually already does)."""
    renames = {}
    if len(graph.input) != len(input_names) or len(graph.output) != len(output_names):
        raise KerasGenError(
            f"Converted ONNX graph has {len(graph.input)} inputs/{len(graph.output)} outputs, expected "
            f"{len(input_names)}/{len(output_names)} ({input_names} -> {output_names})."
        )
    for vi, want in list(zip(graph.input, input_names)) + list(zip(graph.output, output_names)):
        if vi.name != want:
            renames[vi.name] = want
            vi.name = want
    if not renames:
        return
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
