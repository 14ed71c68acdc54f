"""One client for TF Serving and the keras-gen edge server, over REST or gRPC.

    client = ServingClient("http://localhost:8501")        # or "grpc://localhost:8500"
    images = client.sample("cdcgan", n=16, seed=0, label=7)   # (16, H, W, C) uint8
    out = client.predict("dcgan", {"z": z})                   # serving_default, outputs by name
    client.status("dcgan"), client.metadata("dcgan")

REST sends columnar `inputs` (or row `instances` with `rows=True`); image inputs go as base64
PNGs with `b64_images=True` (the edge server decodes them; TF Serving's float/uint8 signatures
need the arrays). Requests time out, and 429/503 (RESOURCE_EXHAUSTED/UNAVAILABLE over gRPC) are
retried with exponential back-off. Errors come back as KerasGenError with the server's message.
"""

from __future__ import annotations

import base64
import io
import time

import numpy as np

from keras_gen.core.errors import KerasGenError

RETRY_STATUSES = (429, 503)


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
        """Outputs by name; integer images come back as uint8."""
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
        inputs = {"n": np.int32(n), "seed": np.int64(seed)}
        inputs.update({k: np.atleast_1d(v) if np.ndim(v) == 0 and k not in ("steps",) else v
                       for k, v in conditions.items()})
        return self.predict(model, inputs, signature="sample", version=version)["images"]

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
        return {"model_spec": json_format.MessageToDict(response.model_spec, preserving_proto_field_name=True),
                "metadata": {"signature_def": json_format.MessageToDict(signatures, preserving_proto_field_name=True)}}

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


def _uint8_if_pixels(array: np.ndarray) -> np.ndarray:
    """JSON has no uint8: integer outputs within [0, 255] of image rank come back as uint8."""
    if array.dtype.kind in "iu" and array.ndim == 4 and array.size and array.min() >= 0 and array.max() <= 255:
        return array.astype(np.uint8)
    return array


def _jsonable(value, b64_images: bool):
    array = np.asarray(value)
    if b64_images and array.dtype == np.uint8 and array.ndim == 4:
        from PIL import Image

        encoded = []
        for image in array:
            buffer = io.BytesIO()
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
            encoded.append({"b64": base64.b64encode(buffer.getvalue()).decode()})
        return encoded
    return array.tolist()
