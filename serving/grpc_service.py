"""TF Serving's gRPC surface on the edge server, and TensorProto <-> numpy without TensorFlow.

PredictionService: Predict and GetModelMetadata (Classify, Regress and MultiInference answer
UNIMPLEMENTED, as the generated base class does). ModelService: GetModelStatus. The same
`Predictor` as REST runs the work, so limits, versions and capacity are shared.
"""

from __future__ import annotations

import numpy as np

from serving import protos
from serving.models import ServingError
from serving.requests import check_values

# numpy dtype <-> TensorFlow DataType enum value, and the repeated field a small tensor uses.
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 9: np.int64, 7: object}
VALUE_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 9: "int64_val", 7: "string_val"}
ENUM_OF = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3, np.dtype(np.uint8): 4,
           np.dtype(np.int64): 9}
HTTP_TO_GRPC = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
                501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def to_numpy(tensor) -> np.ndarray:
    """A TensorProto as an array; a DT_STRING tensor holds encoded images, returned as a list of {"b64"}."""
    if tensor.dtype not in DTYPES:
        raise ServingError(400, f"tensor dtype {tensor.dtype} is not supported (float, double, int32, int64, uint8)")
    if tensor.tensor_shape.unknown_rank:
        raise ServingError(400, "tensor of unknown rank")
    shape = [int(d.size) for d in tensor.tensor_shape.dim]
    if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) > 1 << 28:
        raise ServingError(400, f"tensor shape {shape} is invalid or too large")
    if tensor.dtype == 7:
        import base64

        values = [{"b64": base64.b64encode(v).decode()} for v in tensor.string_val]
        return values[0] if not shape and values else values
    dtype = np.dtype(DTYPES[tensor.dtype])
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.tensor_content:
        if len(tensor.tensor_content) != count * dtype.itemsize:
            raise ServingError(400, f"tensor_content holds {len(tensor.tensor_content)} bytes, shape {shape} needs "
                                    f"{count * dtype.itemsize}")
        return np.frombuffer(tensor.tensor_content, dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = np.asarray(getattr(tensor, VALUE_FIELDS[tensor.dtype]), dtype)
    if values.size == count:
        return values.reshape(shape)
    if values.size == 1:  # TensorFlow's rule: one value fills the whole shape
        return np.full(shape, values[0], dtype)
    raise ServingError(400, f"tensor has {values.size} values for shape {shape}")


def dtype_enum(dtype: str) -> int:
    """The DataType enum of an input's declared dtype ("string": a caption's string form)."""
    return 7 if dtype == "string" else ENUM_OF[np.dtype(dtype)]


def to_proto(array: np.ndarray, tensor_pb2):
    array = np.asarray(array)
    if array.dtype.kind in "OUS":  # text (captions): DT_STRING, UTF-8
        tensor = tensor_pb2.TensorProto(dtype=7)
        for size in array.shape:
            tensor.tensor_shape.dim.add(size=int(size))
        tensor.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.reshape(-1))
        return tensor
    if array.dtype not in ENUM_OF:
        array = array.astype(np.float32)
    tensor = tensor_pb2.TensorProto(dtype=ENUM_OF[array.dtype])
    for size in array.shape:
        tensor.tensor_shape.dim.add(size=int(size))
    tensor.tensor_content = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
    return tensor


DTYPE_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 9: "DT_INT64", 7: "DT_STRING"}


def _proto_values(request_inputs, endpoint, limits, strict: bool = True):
    """The request's tensors as checked arrays. Strict, as a SavedModel is: a tensor of another
    dtype than its input's is a 400 naming it (TF Serving: "expected int32"); lenient: converted."""
    if strict:
        specs = {s.name: s for s in endpoint.inputs}
        for name, tensor in request_inputs.items():
            spec = specs.get(name)
            if spec is not None and tensor.dtype != dtype_enum(spec.dtype):
                want = DTYPE_NAMES[dtype_enum(spec.dtype)]
                got = DTYPE_NAMES.get(tensor.dtype, f"dtype enum {tensor.dtype}")
                raise ServingError(400, f"input {name}: expects a tensor of {want} ({spec.dtype}), got {got}")
    texts = {s.name for s in endpoint.inputs if s.kind == "text"}
    values = {k: (_captions(v) if k in texts and v.dtype == 7 else to_numpy(v)) for k, v in request_inputs.items()}
    return check_values(values, endpoint, limits, strict), "grpc"


def _captions(tensor) -> np.ndarray:
    """A DT_STRING tensor of captions as text (UTF-8), for a `text` input."""
    try:
        return np.asarray([v.decode("utf-8") for v in tensor.string_val], dtype=object)
    except UnicodeDecodeError:
        raise ServingError(400, "captions must be UTF-8 text") from None


def start_grpc_server(predictor, port: int, metrics=None, host: str = "[::]"):
    """Start the gRPC server on `port` (0: a free one); returns (server, bound port)."""
    from concurrent import futures

    import grpc

    p = protos.load()
    from google.protobuf import any_pb2, struct_pb2

    from serving.server import keras_gen_metadata

    def abort(context, err: ServingError):
        context.abort(getattr(grpc.StatusCode, HTTP_TO_GRPC.get(err.status, "INTERNAL")), err.message)

    def version_of(spec):
        which = spec.WhichOneof("version_choice")
        if which == "version":
            return str(spec.version.value), None
        if which == "version_label":
            return None, spec.version_label
        return None, None

    class PredictionService(p.prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            try:
                version, label = version_of(request.model_spec)
                signature = request.model_spec.signature_name or "serving_default"
                future, _, served = predictor.submit(request.model_spec.name, version, label, signature,
                                                     request.inputs, _proto_values)
                try:
                    outputs = future.result(timeout=predictor.options.timeout_seconds)
                except futures.TimeoutError:
                    raise ServingError(504, "prediction took too long") from None
                except ServingError:
                    raise
                except Exception as err:
                    raise ServingError(400, str(err)[:500] or type(err).__name__) from None
            except ServingError as err:
                abort(context, err)
            response = p.predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = served
            response.model_spec.signature_name = signature
            for name, array in outputs.items():
                response.outputs[name].CopyFrom(to_proto(array, p.tensor_pb2))
            return response

        def GetModelMetadata(self, request, context):
            try:
                if list(request.metadata_field) != ["signature_def"]:
                    raise ServingError(400, "metadata_field must be [\"signature_def\"]")
                version, label = version_of(request.model_spec)
                loaded = predictor.repository.version(request.model_spec.name, version, label)
            except ServingError as err:
                abort(context, err)
            signature_map = p.get_model_metadata_pb2.SignatureDefMap()
            for name, endpoint in loaded.endpoints.items():
                signature = signature_map.signature_def[name]
                signature.method_name = "tensorflow/serving/predict"
                for spec in endpoint.inputs:
                    info = signature.inputs[spec.name]
                    info.name, info.dtype = spec.name, dtype_enum(spec.dtype)
                    for d in ((-1,) if spec.batched else ()) + tuple(-1 if d is None else d for d in spec.shape):
                        info.tensor_shape.dim.add(size=d)
                for out in endpoint.outputs:
                    info = signature.outputs[out["name"]]
                    info.name, info.dtype = out["name"], ENUM_OF[np.dtype(out["dtype"])]
                    for d in out.get("shape") or []:
                        info.tensor_shape.dim.add(size=-1 if d is None else d)
            response = p.get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = loaded.version
            packed = any_pb2.Any()
            packed.Pack(signature_map)
            response.metadata["signature_def"].CopyFrom(packed)
            # What TF Serving's metadata cannot say (each input's kind and default), as the REST
            # metadata's "keras_gen": a second entry, which TF Serving's clients never look up.
            extra = struct_pb2.Struct()
            extra.update(keras_gen_metadata(loaded))
            packed = any_pb2.Any()
            packed.Pack(extra)
            response.metadata["keras_gen"].CopyFrom(packed)
            return response

    class ModelService(p.model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):
            try:
                version, _ = version_of(request.model_spec)
                status = predictor.repository.status(request.model_spec.name, version)
            except ServingError as err:
                abort(context, err)
            response = p.get_model_status_pb2.GetModelStatusResponse()
            for entry in status["model_version_status"]:
                item = response.model_version_status.add()
                item.version = int(entry["version"])
                item.state = getattr(p.get_model_status_pb2.ModelVersionStatus.State, entry["state"])
                item.status.error_code = 0 if entry["status"]["error_code"] == "OK" else 9  # FAILED_PRECONDITION
                item.status.error_message = entry["status"]["error_message"]
            return response

    limits = predictor.options.limits
    # grpc.so_reuseport off: gRPC sets SO_REUSEPORT by default, so a second server (another
    # `keras-gen serve`, another model repository) given a port in use would bind it too, and the
    # kernel would split the connections between the two; off, it is refused below.
    server = grpc.server(futures.ThreadPoolExecutor(predictor.options.workers + predictor.options.queue + 2),
                         options=[("grpc.max_receive_message_length", limits.max_body_bytes),
                                  ("grpc.max_send_message_length", 256 << 20), ("grpc.so_reuseport", 0)])
    p.prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(), server)
    p.model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(), server)
    try:  # grpcio raises where older versions returned 0
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if bound == 0:
        from keras_gen.core.errors import KerasGenError

        raise KerasGenError(f"cannot listen for gRPC on port {port}: it is in use; pick another with --grpc-port.")
    server.start()
    return server, bound
