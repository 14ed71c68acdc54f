"""TF Serving's protocol buffers (tensorflow-serving-api), without loading TensorFlow.

The generated modules live in the `tensorflow_serving` package and import TensorFlow's own
protos (`tensorflow.core.framework.tensor_pb2`, ...). Importing those the ordinary way runs
`tensorflow/__init__.py`, which loads the whole runtime (seconds and hundreds of MB): too much
for an onnxruntime edge server that only needs the message classes. So, when TensorFlow is not
already imported, the protos are imported under a bare package object standing in for
`tensorflow` (its path only, no code run), which is removed again afterwards: a later
`import tensorflow` loads the real package and finds the same proto modules already there.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

_lock = threading.Lock()


def _import_without_tensorflow_runtime(names: list[str]) -> list:
    with _lock:
        if "tensorflow" in sys.modules:
            return [importlib.import_module(n) for n in names]
        spec = importlib.util.find_spec("tensorflow")
        if spec is None or not spec.submodule_search_locations:
            from keras_gen.core.errors import KerasGenError

            raise KerasGenError("gRPC needs the tensorflow-serving-api protos (and the tensorflow package they "
                                "live in): pip install -r requirements.txt.")
        bare = types.ModuleType("tensorflow")
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__spec__ = spec
        sys.modules["tensorflow"] = bare
        try:
            return [importlib.import_module(n) for n in names]
        finally:
            if sys.modules.get("tensorflow") is bare:
                del sys.modules["tensorflow"]


def load():
    """A namespace with the serving protos and gRPC stubs used here."""
    modules = _import_without_tensorflow_runtime([
        "tensorflow.core.framework.tensor_pb2", "tensorflow.core.framework.types_pb2",
        "tensorflow.core.framework.tensor_shape_pb2", "tensorflow_serving.apis.predict_pb2",
        "tensorflow_serving.apis.get_model_metadata_pb2", "tensorflow_serving.apis.get_model_status_pb2",
        "tensorflow_serving.apis.model_pb2", "tensorflow_serving.apis.prediction_service_pb2_grpc",
        "tensorflow_serving.apis.model_service_pb2_grpc", "tensorflow_serving.config.model_server_config_pb2",
        "tensorflow.core.protobuf.meta_graph_pb2", "tensorflow.core.protobuf.saved_model_pb2"])
    return types.SimpleNamespace(**{m.__name__.rsplit(".", 1)[1]: m for m in modules})
