"""The edge server holds requests to TF Serving's rules, checked with the official
tensorflow-serving-api messages (PredictionServiceStub over gRPC) and TF Serving's REST formats:
every declared input is required, a tensor's dtype must be its input's, any Content-Type is JSON,
the label routes answer; `--lenient` keeps the older leniency; the clients send every input; a
few dozen concurrent clients wait rather than get 429; refusals before routing are logged."""

import json
import logging
import shutil
import threading

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient

from keras_gen.edge import EdgeModel
from keras_gen.errors import KerasGenError
from keras_gen.latents import gaussian_latents
from serving import protos
from serving.client import ServingClient
from serving.models import ModelRepository, ServingError
from serving.requests import Limits, request_values
from serving.server import ServerOptions, create_app
from tests.serving.live_server import start_server

P = protos.load()


@pytest.fixture(scope="module")
def exports(served, tmp_path_factory):
    root = tmp_path_factory.mktemp("rules")
    shutil.copytree(served[2], root / "dcgan" / "1")
    return root


def start(exports, **options):
    """uvicorn + gRPC in this process on free ports: (REST url, gRPC address, stop)."""
    server = start_server(exports, ServerOptions(**options))
    return server.rest_url, server.grpc_address, server.stop


@pytest.fixture(scope="module")
def strict(exports):
    rest, address, stop = start(exports)
    yield rest, address
    stop()


@pytest.fixture(scope="module")
def lenient(exports):
    rest, address, stop = start(exports, lenient=True)
    yield rest, address
    stop()


def tensor(values, dtype: int, shape=None):
    """A TensorProto as the official client builds one (dtype enum, shape, tensor_content)."""
    array = np.asarray(values, {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}[dtype])
    proto = P.tensor_pb2.TensorProto(dtype=dtype)
    for size in (array.shape if shape is None else shape):
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_content = array.tobytes()
    return proto


def grpc_predict(address, signature, inputs):
    request = P.predict_pb2.PredictRequest()
    request.model_spec.name = "dcgan"
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(value)
    with grpc.insecure_channel(address) as channel:
        return P.prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=60)


SAMPLE = {"n": tensor(3, 3), "seed": tensor(5, 9), "truncation": tensor(1.0, 1)}


def test_grpc_refuses_missing_inputs_and_other_dtypes_naming_the_input(strict, served):
    _, address = strict
    images = grpc_predict(address, "sample", SAMPLE).outputs["images"]
    got = np.frombuffer(images.tensor_content, np.uint8).reshape([d.size for d in images.tensor_shape.dim])
    np.testing.assert_array_equal(got, EdgeModel.from_path(served[1]).sample(3, seed=5))
    for inputs, name in (({"n": tensor(3, 3), "seed": tensor(5, 9)}, "truncation"),  # left out
                         ({**SAMPLE, "n": tensor(3.0, 1)}, "n"),                     # DT_FLOAT for int32
                         ({**SAMPLE, "seed": tensor(5, 3)}, "seed")):                # DT_INT32 for int64
        with pytest.raises(grpc.RpcError) as refused:
            grpc_predict(address, "sample", inputs)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and name in refused.value.details()
    z = gaussian_latents(2, 16, seed=1)
    with pytest.raises(grpc.RpcError) as refused:  # z as DT_DOUBLE
        grpc_predict(address, "serving_default", {"z": tensor(z, 2), "truncation": tensor(1.0, 1)})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "z" in refused.value.details()
    assert "DT_FLOAT" in refused.value.details()


def test_rest_refuses_missing_inputs_and_fractions_for_integers(strict):
    import httpx

    rest, _ = strict
    url = f"{rest}/v1/models/dcgan:predict"
    answer = httpx.post(url, json={"signature_name": "sample", "inputs": {"n": 4, "seed": 0}}, timeout=60)
    assert answer.status_code == 400 and "truncation" in answer.json()["error"]
    answer = httpx.post(url, json={"signature_name": "sample", "inputs": {"n": 4.0, "seed": 0, "truncation": 1}},
                        timeout=60)
    assert answer.status_code == 400 and answer.json()["error"].startswith("n: expects int32")
    answer = httpx.post(url, json={"inputs": {"z": gaussian_latents(2, 16, 0).tolist()}}, timeout=60)
    assert answer.status_code == 400 and "truncation" in answer.json()["error"]


def test_lenient_keeps_the_older_defaults_and_conversions(lenient, served):
    import httpx

    rest, address = lenient
    answer = httpx.post(f"{rest}/v1/models/dcgan:predict",
                        json={"signature_name": "sample", "inputs": {"n": 4, "seed": 0}}, timeout=60)
    assert answer.status_code == 200
    np.testing.assert_array_equal(np.asarray(answer.json()["outputs"], np.uint8),
                                  EdgeModel.from_path(served[1]).sample(4, seed=0))
    images = grpc_predict(address, "sample", {"n": tensor(3.0, 1), "seed": tensor(5, 3)}).outputs["images"]
    assert [d.size for d in images.tensor_shape.dim] == [3, 16, 16, 1]


def test_any_content_type_is_read_as_json(strict, served):
    """TF Serving reads every predict body as JSON: `curl -d` sends form-urlencoded."""
    import httpx

    rest, _ = strict
    body = json.dumps({"signature_name": "sample", "inputs": {"n": 2, "seed": 4, "truncation": 1.0}})
    want = EdgeModel.from_path(served[1]).sample(2, seed=4)
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = {"content-type": content_type} if content_type else {}
        answer = httpx.post(f"{rest}/v1/models/dcgan:predict", content=body, headers=headers, timeout=60)
        assert answer.status_code == 200, (content_type, answer.text[:200])
        np.testing.assert_array_equal(np.asarray(answer.json()["outputs"], np.uint8), want)


def test_label_routes_answer_status_and_metadata(strict):
    import httpx

    rest, _ = strict
    # httpx's default time-out is 5 s: a bound that a busy 2-core machine can reach; 60 s as elsewhere
    with httpx.Client(base_url=rest, timeout=60) as http:
        status = http.get("/v1/models/dcgan/labels/stable").json()
        assert status == http.get("/v1/models/dcgan").json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
        metadata = http.get("/v1/models/dcgan/labels/stable/metadata")
        assert metadata.status_code == 200
        assert metadata.json()["metadata"] == http.get("/v1/models/dcgan/versions/1/metadata").json()["metadata"]
        assert "sample" in metadata.json()["metadata"]["signature_def"]["signature_def"]
        unknown = http.get("/v1/models/dcgan/labels/canary/metadata")
        assert unknown.status_code == 404 and "label" in unknown.json()["error"]
        assert http.get("/v1/models/nope/labels/stable").status_code == 404


def test_the_client_sends_every_input_in_its_dtype(strict, served):
    """`ServingClient` (and so `keras-gen query`) fills what a call leaves out from the metadata's
    defaults and sends each input in its declared dtype: the strict server takes it on REST and gRPC."""
    rest, address = strict
    edge = EdgeModel.from_path(served[1])
    z = gaussian_latents(3, 16, seed=2).astype(np.float64)  # the client casts it to DT_FLOAT
    for url in (rest, f"grpc://{address}"):
        client = ServingClient(url, retries=0)
        np.testing.assert_array_equal(client.sample("dcgan", n=3, seed=7), edge.sample(3, seed=7))
        np.testing.assert_array_equal(client.sample("dcgan", n=3, seed=7, truncation=0.5),
                                      edge.sample(3, seed=7, truncation=0.5))
        got = client.predict("dcgan", {"z": z})["images"]
        assert got.shape == (3, 16, 16, 1) and got.dtype == np.uint8
        with pytest.raises(KerasGenError, match="whole numbers"):
            client.sample("dcgan", n=2.5)
        client.close()


def test_the_client_names_what_tf_servings_metadata_gives_no_default_for(strict):
    """TF Serving's metadata has no defaults: an input left out is named, not guessed."""
    rest, _ = strict
    client = ServingClient(rest, retries=0)
    metadata = client.metadata("dcgan")
    del metadata["keras_gen"]  # what TF Serving answers
    client._metadata[("dcgan", None)] = metadata
    with pytest.raises(KerasGenError, match="dcgan sample needs truncation.*--truncation VALUE"):
        client.sample("dcgan", n=2, seed=0)
    assert client.sample("dcgan", n=2, seed=0, truncation=1).shape == (2, 16, 16, 1)
    client.close()


def test_a_few_dozen_concurrent_requests_wait_and_only_an_overload_gets_429(exports):
    """The default queue: 48 requests at once on 4 busy workers all wait their turn; past
    workers + queue, the next is refused at once with 429."""
    options = ServerOptions()
    repository = ModelRepository(exports)
    repository.poll_once()
    _, app = create_app(repository, options)
    predictor = app.state.predictor
    loaded = repository.version("dcgan")
    gate = threading.Event()
    slow = loaded.endpoints["sample"]
    loaded.endpoints["sample"] = type(slow)(slow.name, slow.inputs, slow.outputs,
                                            lambda v: (gate.wait(60), slow.run(v))[1], slow.counts_from)
    body = {"signature_name": "sample", "inputs": {"n": 1, "seed": 0, "truncation": 1.0}}
    try:
        futures = [predictor.submit("dcgan", None, None, "sample", body, request_values)[0]
                   for _ in range(options.workers + options.queue)]
        assert len(futures) >= 48
        with pytest.raises(ServingError) as refused:
            predictor.submit("dcgan", None, None, "sample", body, request_values)
        assert refused.value.status == 429
        gate.set()
        assert all(f.result(60)["images"].shape == (1, 16, 16, 1) for f in futures)
        predictor.submit("dcgan", None, None, "sample", body, request_values)[0].result(60)  # room again
    finally:
        gate.set()
        loaded.endpoints["sample"] = slow
        predictor.pool.shutdown(wait=True)


def test_refusals_before_routing_are_logged_and_counted(exports, caplog):
    """A 413 from Content-Length and a GET with a body never reach a route: they still get an
    access-log line and a sample in /metrics, under the route they were sent to."""
    asgi, _ = create_app(ModelRepository(exports), ServerOptions(limits=Limits(max_body_bytes=1000)))
    with TestClient(asgi) as client, caplog.at_level(logging.INFO, logger="keras_gen.serving.access"):
        assert client.post("/v1/models/dcgan:predict", content=b"x" * 2000).status_code == 413
        assert client.request("GET", "/v1/models/dcgan", content=b"body").status_code == 400
        assert client.get("/nowhere").status_code == 404
        metrics = client.get("/metrics").text
    assert 'keras_gen_requests_total{route="/v1/models/{name}:predict",status="413"} 1' in metrics
    assert 'keras_gen_requests_total{route="/v1/models/{name}",status="400"} 1' in metrics
    assert 'keras_gen_requests_total{route="unmatched",status="404"} 1' in metrics
    assert 'keras_gen_request_seconds_count{route="/v1/models/{name}:predict"} 1' in metrics
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "keras_gen.serving.access"]
    assert {(line["method"], line["path"], line["status"]) for line in lines} >= {
        ("POST", "/v1/models/dcgan:predict", 413), ("GET", "/v1/models/dcgan", 400), ("GET", "/nowhere", 404)}


def test_strict_values_for_an_empty_code_are_drawn(exports):
    """A code given as an empty list is drawn from the seed, as the SavedModel's `sample` does it:
    checked on the request parser with a sample endpoint that declares a code."""
    from keras_gen import inputs as kinds
    from serving.models import Endpoint

    specs = (*kinds.sample_count_and_seed(), kinds.code("c", "uniform", dim=2))
    endpoint = Endpoint("sample", specs, (), lambda v: v, counts_from="n")
    values, _ = request_values({"inputs": {"n": 3, "seed": 1, "c": []}}, endpoint, Limits())
    assert set(values) == {"n", "seed"}
    values, _ = request_values({"inputs": {"n": 3, "seed": 1, "c": [[0.5, -0.5]]}}, endpoint, Limits())
    assert values["c"].shape == (1, 2)  # the sampler cycles it to n
    with pytest.raises(ServingError, match="missing input.*c"):
        request_values({"inputs": {"n": 3, "seed": 1}}, endpoint, Limits())


def test_keras_gen_serve_gets_the_default_queue_and_strictness(exports, monkeypatch):
    """What `keras-gen serve EXPORTS` hands the server: the default queue and strict requests;
    `--lenient` turns strictness off."""
    import serving.server
    from keras_gen.cli import main

    seen = []
    monkeypatch.setattr(serving.server, "serve", lambda exports, **kwargs: seen.append(kwargs["options"]))
    assert main(["serve", str(exports)]) == 0 and main(["serve", str(exports), "--lenient"]) == 0
    assert seen[0].queue == ServerOptions().queue >= 48 and seen[0].lenient is False
    assert seen[1].lenient is True
