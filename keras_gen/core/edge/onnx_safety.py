"""Refuse ONNX files whose external data would be read from outside their version directory.

An ONNX tensor may keep its bytes in a separate file named by a `location` entry. onnxruntime
resolves that path relative to the model file, so a crafted `location` of "../../secret" or
"/etc/passwd" (or a symlink pointing out) would make a server read arbitrary files. keras-gen
writes single-file models; external data inside the version directory is tolerated (large
models), anything resolving outside it is rejected before a session is created.
"""

from __future__ import annotations

import os
from pathlib import Path

from keras_gen.core.errors import KerasGenError


def _all_tensors(graph):
    """Initializers and tensor attributes of `graph` and of all its subgraphs (If/Loop/Scan bodies)."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    yield from _node_tensors(graph.node)


def _node_tensors(nodes):
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield attr.sparse_tensor.values
                yield attr.sparse_tensor.indices
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for sub in attr.graphs:
                yield from _all_tensors(sub)


def external_data_locations(model_path: str | Path) -> list[str]:
    """The `location` of every tensor stored as external data (read without loading the data)."""
    import onnx
    from onnx import TensorProto

    model = onnx.load(str(model_path), load_external_data=False)
    tensors = list(_all_tensors(model.graph))
    for function in model.functions:
        tensors.extend(_node_tensors(function.node))
    return [
        {e.key: e.value for e in t.external_data}.get("location", "")
        for t in tensors
        if t.data_location == TensorProto.EXTERNAL
    ]


def check_onnx_file(model_path: str | Path, version_dir: str | Path) -> Path:
    """Return the resolved model path if it and all its external data lie inside `version_dir`.

    Raises KerasGenError naming the offending location otherwise.
    """
    root = Path(os.path.realpath(version_dir))
    model_path = Path(model_path)
    real_model = Path(os.path.realpath(model_path))
    if not real_model.is_relative_to(root):
        raise KerasGenError(f"{model_path} resolves to {real_model}, outside its version directory {root}.")
    if not real_model.is_file():
        raise KerasGenError(f"{model_path} does not exist. Re-export the model with `keras-gen export`.")
    base = real_model.parent
    for location in external_data_locations(real_model):
        if not location or os.path.isabs(location) or Path(location).drive:
            raise KerasGenError(
                f"{model_path} refers to external data at {location!r}: only relative paths inside the "
                "version directory are allowed. Re-export the model with `keras-gen export`."
            )
        target = Path(os.path.realpath(base / location))
        if not target.is_relative_to(root):
            raise KerasGenError(
                f"{model_path} refers to external data {location!r} which resolves to {target}, outside "
                f"its version directory {root}. Refusing to load it."
            )
        if not target.is_file():
            raise KerasGenError(f"{model_path} refers to missing external data {location!r}.")
    return real_model
