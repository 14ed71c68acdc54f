"""One client for TF Serving and the keras-gen edge server, over REST or gRPC.

    client = ServingClient("http://localhost:8501")        # or "grpc://localhost:8500"
    images = client.sample("cdcgan", n=16, seed=0, label=7)   # (16, H, W, C) uint8
    out = client.predict("dcgan", {"z": z})                   # serving_default, outputs by name
    client.status("dcgan"), client.metadata("dcgan")

Both servers take every input a signature declares, each in its dtype, so the client sends every
one: it reads the signature from the server's metadata (once per model and version), fills the
inputs a call leaves out from the defaults the edge server's metadata adds under "keras_gen"
(options their default, labels every class in turn, codes an empty list: drawn from the seed),
and casts each value to the declared dtype (n int32, seed int64, ...). TF Serving's metadata has
no defaults: there, an input left out is a KerasGenError naming it (pass it: `--truncation 1`).

REST sends columnar `inputs` (or row `instances` with `rows=True`); image inputs go as base64
PNGs with `b64_images=True` (only `keras-gen serve --lenient` decodes them; TF Serving and the
strict edge server take the arrays). Requests time out, and 429/503 (RESOURCE_EXHAUSTED/UNAVAILABLE
over gRPC) are retried with exponential back-off. Errors come back as KerasGenError with the
server's message.
"""

from __future__ import annotations

import base64
import io
import time

import numpy as np

from keras_gen.core.errors import KerasGenError

RETRY_STATUSES = (429, 503)
DTYPES = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32, "DT_INT64": np.int64,
          "DT_UINT8": np.uint8, "DT_STRING": object}  # a DT_STRING input takes captions as text


class ServingClient:
    def __init__(self, url: str, timeout: float = 30.0, retries: int = 3, backoff_seconds: float = 0.2):
        url = url.rstrip("/")
        if url.startswith("grpc://"):
            self.transport, self.address = "grpc", url[len("grpc://"):]
        elif url.startswith(("http://", "https://")):
            self.transport, self.address = "rest", url
        else:
            raise KerasGenError(f"URL must start with http://, https:// or grpc://, got {url!r}.")
        self.timeout, self.retries, self.backoff_seconds = float(timeout), int(retries), float(backoff_seconds)
        self._http = self._channel = None
        self._metadata = {}  # (model, version) -> metadata, read once: what each signature takes

    # -- transport -------------------------------------------------------------------------
    def _with_retries(self, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except _Retryable as err:
                if attempt == self.retries:
                    raise KerasGenError(f"{self.address}: {err} (after {self.retries + 1} attempts)") from None
                time.sleep(self.backoff_seconds * 2 ** attempt)

    def _rest(self, method: str, path: str, body: dict | None = None) -> dict:
        import httpx

        if self._http is None:
            self._http = httpx.Client(base_url=self.address, timeout=self.timeout)

        def call():
            try:
                response = self._http.request(method, path, json=body)
            except httpx.TimeoutException:
                raise KerasGenError(f"{self.address}{path}: no answer within {self.timeout} s") from None
            except httpx.TransportError as err:
                raise KerasGenError(f"{self.address}{path}: cannot connect ({err})") from None
            try:
                data = response.json()
            except ValueError:
                data = {"error": response.text[:200]}
            if response.status_code in RETRY_STATUSES:
                raise _Retryable(f"{response.status_code}: {data.get('error', '')}")
            if response.status_code != 200:
                raise KerasGenError(f"{self.address}{path}: {response.status_code}: {data.get('error', data)}")
            return data

        return self._with_retries(call)

    def _grpc(self, method: str, request):
        import grpc

        from serving import protos

        p = protos.load()
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.address, options=[("grpc.max_receive_message_length", 256 << 20)])
            self._prediction = p.prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
            self._models = p.model_service_pb2_grpc.ModelServiceStub(self._channel)
        stub = self._models if method == "GetModelStatus" else self._prediction

        def call():
            try:
                return getattr(stub, method)(request, timeout=self.timeout)
            except grpc.RpcError as err:
                code = err.code()
                if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
                    raise _Retryable(f"{code.name}: {err.details()}") from None
                raise KerasGenError(f"{self.address} {method}: {code.name}: {err.details()}") from None

        return self._with_retries(call)

    def close(self):
        if self._http is not None:
            self._http.close()
        if self._channel is not None:
            self._channel.close()

    # -- API -------------------------------------------------------------------------------
    def predict(self, model: str, inputs: dict, signature: str = "serving_default", version: int | None = None,
                label: str | None = None, rows: bool = False, b64_images: bool = False) -> dict[str, np.ndarray]:
        """Outputs by name; integer images come back as uint8. Inputs left out are filled from the
        metadata's defaults and every value is sent in its declared dtype (`complete_inputs`)."""
        inputs = self.complete_inputs(model, signature, inputs, version=version)
        return self._predict(model, inputs, signature, version, label, rows, b64_images)

    def _predict(self, model, inputs, signature, version, label, rows, b64_images) -> dict[str, np.ndarray]:
        if self.transport == "grpc":
            from serving import protos
            from serving.grpc_service import to_numpy, to_proto

            p = protos.load()
            request = p.predict_pb2.PredictRequest()
            self._model_spec(request.model_spec, model, version, label)
            request.model_spec.signature_name = signature
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(to_proto(np.asarray(value), p.tensor_pb2))
            response = self._grpc("Predict", request)
            return {k: _uint8_if_pixels(to_numpy(v)) for k, v in response.outputs.items()}
        values = {k: _jsonable(v, b64_images) for k, v in inputs.items()}
        body = {"signature_name": signature}
        if rows:
            n = max((len(v) for v in values.values() if isinstance(v, list)), default=1)
            body["instances"] = [{k: (v[i] if isinstance(v, list) else v) for k, v in values.items()} for i in range(n)]
        else:
            body["inputs"] = values
        data = self._rest("POST", f"{self._model_path(model, version, label)}:predict", body)
        result = data["predictions"] if rows else data["outputs"]
        if isinstance(result, dict):
            return {k: _uint8_if_pixels(np.asarray(v)) for k, v in result.items()}
        if rows and result and isinstance(result[0], dict):
            return {k: _uint8_if_pixels(np.asarray([r[k] for r in result])) for k in result[0]}
        return {"images" if signature in ("serving_default", "sample") else "outputs": _uint8_if_pixels(np.asarray(result))}

    def sample(self, model: str, n: int, seed: int = 0, version: int | None = None, **conditions) -> np.ndarray:
        """The `sample` signature: n uint8 images for (seed, conditions), as `keras-gen sample` draws them."""
        return self.predict(model, {"n": n, "seed": seed, **conditions}, signature="sample", version=version)["images"]

    # -- what a signature takes ------------------------------------------------------------
    def signature_inputs(self, model: str, signature: str, version: int | None = None) -> dict:
        """{input: (numpy dtype or None, dims (-1: any; None: unknown rank), keras_gen spec or None)}
        from the server's metadata, read once per (model, version)."""
        key = (model, version)
        if key not in self._metadata:
            self._metadata[key] = self.metadata(model, version)
        meta = self._metadata[key]
        signatures = ((meta.get("metadata") or {}).get("signature_def") or {}).get("signature_def") or {}
        if signature not in signatures:
            raise KerasGenError(f"{model} has no signature {signature!r} (it has {', '.join(sorted(signatures))}).")
        declared = {s.get("name"): s for s in ((meta.get("keras_gen") or {}).get("signatures") or {}).get(signature, [])}
        found = {}
        for name, info in (signatures[signature].get("inputs") or {}).items():
            shape = info.get("tensor_shape") or {}
            dims = None if shape.get("unknown_rank") else [int(d.get("size", -1)) for d in shape.get("dim") or []]
            found[name] = (DTYPES.get(info.get("dtype")), dims, declared.get(name))
        return found

    def complete_inputs(self, model: str, signature: str, inputs: dict, version: int | None = None) -> dict:
        """Every input of `signature`: those given, cast to their declared dtype and rank, and the
        rest from the keras_gen defaults of the metadata; KerasGenError naming any without one."""
        declared = self.signature_inputs(model, signature, version)
        unknown = sorted(set(inputs) - set(declared))
        if unknown:
            raise KerasGenError(f"{model} {signature} takes {', '.join(sorted(declared))}; not {', '.join(unknown)}.")
        batched = [v for k, v in inputs.items() if declared[k][1] != []]  # rank >= 1, or unknown
        if "n" in inputs and np.size(inputs["n"]) == 1:  # sample: n rows
            rows = int(np.asarray(inputs["n"]).reshape(-1)[0])
        else:
            rows = len(np.atleast_1d(batched[0])) if batched else 1
        out, missing = {}, []
        for name, (dtype, dims, spec) in declared.items():
            if name in inputs:
                value = inputs[name]
                if spec is not None and spec.get("choices") and isinstance(value, str):
                    if value not in spec["choices"]:
                        raise KerasGenError(f"{name} must be one of {', '.join(spec['choices'])}, got {value!r}.")
                    value = spec["choices"].index(value)
            elif spec is None or spec.get("kind") in ("latent", "image") or (
                    spec.get("kind") == "code" and signature != "sample"):
                missing.append(name)
                continue
            elif spec["kind"] == "option":
                value = spec["default"]
            elif spec["kind"] == "label":
                value = np.arange(rows) % int(spec["num_classes"])  # every class in turn, as `keras-gen sample`
            elif spec["kind"] == "text":
                if signature != "sample" or not spec.get("examples"):
                    missing.append(name)
                    continue
                value = np.zeros((0,), object)  # an empty list: the model's example captions in turn
            else:  # a code of `sample`, given empty: drawn from the seed
                value = np.zeros((0, *[max(d, 0) for d in (dims or [-1])[1:]]))
            out[name] = _as_declared(name, value, dtype, dims)
        if missing:
            why = ("the server's metadata says no default for them (TF Serving's never does)"
                   if any(declared[m][2] is None for m in missing) else "they have no default")
            raise KerasGenError(f"{model} {signature} needs {', '.join(missing)}: {why}. Pass them, e.g. "
                                + " ".join(f"--{m} VALUE" for m in missing) + ".")
        return out

    def status(self, model: str, version: int | None = None) -> dict:
        if self.transport == "rest":
            return self._rest("GET", self._model_path(model, version, None))
        from google.protobuf import json_format

        from serving import protos

        request = protos.load().get_model_status_pb2.GetModelStatusRequest()
        self._model_spec(request.model_spec, model, version, None)
        return json_format.MessageToDict(self._grpc("GetModelStatus", request), preserving_proto_field_name=True)

    def metadata(self, model: str, version: int | None = None) -> dict:
        if self.transport == "rest":
            return self._rest("GET", self._model_path(model, version, None) + "/metadata")
        from google.protobuf import json_format

        from serving import protos

        p = protos.load()
        request = p.get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec, model, version, None)
        response = self._grpc("GetModelMetadata", request)
        signatures = p.get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        answer = {"model_spec": json_format.MessageToDict(response.model_spec, preserving_proto_field_name=True),
                  "metadata": {"signature_def": json_format.MessageToDict(signatures, preserving_proto_field_name=True)}}
        if "keras_gen" in response.metadata:  # the edge server's kinds and defaults (a Struct)
            from google.protobuf import struct_pb2

            extra = struct_pb2.Struct()
            if response.metadata["keras_gen"].Unpack(extra):
                answer["keras_gen"] = json_format.MessageToDict(extra)
        return answer

    @staticmethod
    def _model_path(model: str, version, label) -> str:
        path = f"/v1/models/{model}"
        if version is not None:
            path += f"/versions/{int(version)}"
        elif label is not None:
            path += f"/labels/{label}"
        return path

    @staticmethod
    def _model_spec(spec, model, version, label):
        spec.name = model
        if version is not None:
            spec.version.value = int(version)
        elif label is not None:
            spec.version_label = label


class _Retryable(Exception):
    pass


def _as_declared(name: str, value, dtype, dims) -> np.ndarray:
    """`value` in the declared dtype, with the declared rank where a batch axis or a one-element
    wrapper is all that differs (label 7 -> [7]; steps [20] -> 20); fractions for an integer input
    are an error, never truncated."""
    if dtype is object:  # captions: one string or a list of them, sent as text
        captions = [value] if isinstance(value, str) else list(np.asarray(value, dtype=object).reshape(-1))
        if not all(isinstance(c, str) for c in captions):
            raise KerasGenError(f"--{name} takes a caption (text), got {value!r:.80}.")
        return np.asarray(captions, dtype=object)
    array = np.asarray(value)
    if dims is not None:
        if array.size == 0 and array.ndim < len(dims):
            array = array.reshape(0, *[max(d, 0) for d in dims[1:]])
        while array.ndim < len(dims):
            array = array[None]
        if not dims and array.size == 1:
            array = array.reshape(())
    if dtype is None or array.dtype == dtype:
        return array
    if array.dtype.kind not in "iufb":
        raise KerasGenError(f"--{name}: expected numbers, got {value!r}.")
    if np.dtype(dtype).kind in "iu" and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise KerasGenError(f"--{name} takes whole numbers ({np.dtype(dtype).name}), got {value!r}.")
    return array.astype(dtype)


def _uint8_if_pixels(array: np.ndarray) -> np.ndarray:
    """JSON has no uint8: integer outputs within [0, 255] of image rank come back as uint8."""
    if array.dtype.kind in "iu" and array.ndim == 4 and array.size and array.min() >= 0 and array.max() <= 255:
        return array.astype(np.uint8)
    return array


def _jsonable(value, b64_images: bool):
    array = np.asarray(value)
    if array.dtype.kind in "OUS":  # captions go as JSON strings
        return [str(v) for v in array.reshape(-1)]
    if b64_images and array.dtype == np.uint8 and array.ndim == 4:
        from PIL import Image

        encoded = []
        for image in array:
            buffer = io.BytesIO()
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
            encoded.append({"b64": base64.b64encode(buffer.getvalue()).decode()})
        return encoded
    return array.tolist()
