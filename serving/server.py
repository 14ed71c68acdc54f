"""The edge server: onnxruntime behind TF Serving's REST and gRPC surface (`keras-gen serve`).

    keras-gen serve exports --port 8501 --grpc-port 8500

REST (FastAPI on uvicorn, OpenAPI schema at /openapi.json):
    GET  /                                       the web page (serving/web/: static HTML + JS on this API)
    GET  /v1/models                              every model's status (not in TF Serving: the page's list)
    GET  /v1/models/NAME[/versions/V|/labels/L]            model status (versions, failures and why)
    GET  /v1/models/NAME[/versions/V|/labels/L]/metadata   signatures with their inputs and kinds
    POST /v1/models/NAME[/versions/V|/labels/L]:predict     any Content-Type: the body is JSON
    GET  /healthz, /readyz, /metrics (Prometheus; also /monitoring/prometheus/metrics as TF Serving)
gRPC (grpcio): PredictionService/Predict, GetModelMetadata; ModelService/GetModelStatus.

Requests run on a bounded thread pool (onnxruntime releases the GIL); up to `queue` requests wait
for a worker (64 by default: a few dozen concurrent clients wait their turn, as on TF Serving);
past `workers + queue` in flight the server answers 429 at once. Requests are held to what TF
Serving takes (every declared input, in its dtype; `lenient` keeps the older defaults). Errors are
`{"error": "..."}` with TF Serving's status for their kind. On SIGTERM uvicorn stops accepting,
finishes what is in flight, then the gRPC server drains and the process exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from serving.models import ModelRepository, ServingError, endpoint_for
from serving.requests import Limits, parse_json, request_values, response_body

access_log = logging.getLogger("keras_gen.serving.access")
WEB = Path(__file__).resolve().parent / "web"  # the page: shipped as package data
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class ServerOptions:
    workers: int = 4               # concurrent predictions
    # Requests allowed to wait for a worker; past it: 429. Sized so that a few dozen clients at
    # once wait (a 16 px sample takes ~1 ms, so 64 waiting is tens of ms), while a real overload
    # is still refused at once instead of piling up until every request times out.
    queue: int = 64
    timeout_seconds: float = 30.0  # per prediction (time waiting for a worker included); past it: 504
    poll_seconds: float = 2.0      # how often EXPORTS is scanned for new versions
    limits: Limits = Limits()
    lenient: bool = False          # True: options may be left out, gRPC dtypes converted, b64 images decoded


class Metrics:
    """Counters and a latency histogram in Prometheus' text format; one lock, no dependency."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = {}   # (route, status) -> count
        self.latency = {}    # route -> [bucket counts..., +Inf count, sum]
        self.loaded = {}     # model -> version
        self.started = self.finished = 0  # requests the app began and ended (in flight: the difference)
        self.unanswered = 0  # of the ended ones, those without a complete response sent

    def observe(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, status)] = self.requests.get((route, status), 0) + 1
            row = self.latency.setdefault(route, [0] * (len(LATENCY_BUCKETS) + 1) + [0.0])
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[len(LATENCY_BUCKETS)] += 1
            row[-1] += seconds

    def begin(self) -> None:
        with self._lock:
            self.started += 1

    def end(self, answered: bool = True) -> None:
        with self._lock:
            self.finished += 1
            self.unanswered += not answered

    def text(self) -> str:
        with self._lock:
            lines = ["# TYPE keras_gen_requests_started_total counter",
                     f"keras_gen_requests_started_total {self.started}",
                     "# TYPE keras_gen_requests_finished_total counter",
                     f"keras_gen_requests_finished_total {self.finished}",
                     "# TYPE keras_gen_requests_in_flight gauge",
                     f"keras_gen_requests_in_flight {self.started - self.finished}",
                     "# TYPE keras_gen_requests_unanswered_total counter",
                     f"keras_gen_requests_unanswered_total {self.unanswered}",
                     "# TYPE keras_gen_requests_total counter"]
            lines += [f'keras_gen_requests_total{{route="{r}",status="{s}"}} {c}'
                      for (r, s), c in sorted(self.requests.items())]
            lines.append("# TYPE keras_gen_errors_total counter")
            lines += [f'keras_gen_errors_total{{route="{r}",status="{s}"}} {c}'
                      for (r, s), c in sorted(self.requests.items()) if s >= 400]
            lines.append("# TYPE keras_gen_request_seconds histogram")
            for route, row in sorted(self.latency.items()):
                for bound, count in zip(LATENCY_BUCKETS, row):
                    lines.append(f'keras_gen_request_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
                lines.append(f'keras_gen_request_seconds_bucket{{route="{route}",le="+Inf"}} {row[-2]}')
                lines.append(f'keras_gen_request_seconds_count{{route="{route}"}} {row[-2]}')
                lines.append(f'keras_gen_request_seconds_sum{{route="{route}"}} {row[-1]:.6f}')
            lines.append("# TYPE keras_gen_loaded_version gauge")
            lines += [f'keras_gen_loaded_version{{model="{m}"}} {v}' for m, v in sorted(self.loaded.items())]
        return "\n".join(lines) + "\n"


class Predictor:
    """Runs predictions on the bounded pool; shared by REST and gRPC."""

    def __init__(self, repository: ModelRepository, options: ServerOptions):
        self.repository = repository
        self.options = options
        self.pool = ThreadPoolExecutor(options.workers, thread_name_prefix="keras-gen-predict")
        self._slots = threading.BoundedSemaphore(options.workers + options.queue)
        self.draining = False

    def submit(self, name: str, version: str | None, label: str | None, signature: str, data_or_values, parse):
        """Start one prediction; returns a concurrent Future of (outputs, style). Over capacity: 429."""
        if self.draining:
            raise ServingError(503, "the server is shutting down")
        loaded = self.repository.version(name, version, label)  # held by this request to the end
        endpoint = endpoint_for(loaded, signature)
        values, style = parse(data_or_values, endpoint, self.options.limits, not self.options.lenient)
        if not self._slots.acquire(blocking=False):
            raise ServingError(429, f"over capacity: {self.options.workers + self.options.queue} requests in flight; "
                                    "retry with back-off")
        try:
            future = self.pool.submit(endpoint.run, values)
        except RuntimeError:  # the pool is shut down
            self._slots.release()
            raise ServingError(503, "the server is shutting down") from None
        future.add_done_callback(lambda _: self._slots.release())
        return future, style, loaded.version


def _error(status: int, message: str):
    return JSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """ASGI middleware: 413 from Content-Length before the body is read (a streamed body is cut off
    at the limit by `read_body`); a GET with a body is a 400 (TF Serving refuses both)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        has_body = (length not in (None, b"0")) or b"transfer-encoding" in headers
        if scope["method"] in ("GET", "HEAD") and has_body:
            return await _error(400, "a GET request must not have a body")(scope, receive, send)
        if length is not None:
            if not length.isdigit():
                return await _error(400, "bad Content-Length")(scope, receive, send)
            if int(length) > self.max_bytes:
                return await _error(413, f"request body of {int(length)} bytes is over the limit of "
                                         f"{self.max_bytes}")(scope, receive, send)
        await self.app(scope, receive, send)  # a streamed body is counted as the predict reads it (read_body)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body of a request without a Content-Length (chunked), refused with 413 as soon as it
    passes the limit; raised here, in the handler, so it is a ServingError like any other."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ServingError(413, f"request body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class AccessLog:
    """ASGI middleware outside BodyLimit: one JSON access-log line and one metrics sample per HTTP
    request, the ones refused before routing (413, a GET with a body) included. The route label is
    the route's template (`/v1/models/{name}:predict`), found by matching when the app refused the
    request before its router ran; "unmatched" when no route takes the path."""

    def __init__(self, app, metrics: Metrics, routes):
        self.app, self.metrics, self.routes = app, metrics, routes

    def route_of(self, scope) -> str:
        route = scope.get("route")
        if route is None:
            from starlette.routing import Match

            route = next((r for r in self.routes() if r.matches(scope)[0] == Match.FULL), None)
        return getattr(route, "path", None) or "unmatched"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), None

        async def seen_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, seen_send)
        except BaseException:
            status = status or 500
            raise
        finally:
            seconds = time.perf_counter() - start
            # No status: the client went away before an answer began (nginx's 499).
            self.metrics.observe(self.route_of(scope), status or 499, seconds)
            client = scope.get("client")
            access_log.info(json.dumps({"method": scope["method"], "path": scope["path"][:200], "status": status or 499,
                                        "ms": round(seconds * 1000, 2), "client": client[0] if client else None}))


class InFlight:
    """ASGI middleware, outermost: counts the HTTP requests begun and those whose last byte was sent,
    so a shutdown can say whether every request it had begun was answered."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.metrics.begin()
        done = False

        async def counted_send(message):
            nonlocal done
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") and not done:
                done = True
                self.metrics.end()

        try:
            await self.app(scope, receive, counted_send)
        finally:
            if not done:  # the app ended without a complete answer (a disconnected client): not in flight
                self.metrics.end(answered=False)


PREDICT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "properties": {
        "signature_name": {"type": "string"},
        "instances": {"type": "array", "minItems": 1, "items": {}},
        "inputs": {}}},
    # every input the signature declares (GET .../metadata lists them): a DCGAN's sample takes truncation
    "example": {"signature_name": "sample", "inputs": {"n": 4, "seed": 0, "truncation": 1.0}}}}}}


def create_app(repository: ModelRepository, options: ServerOptions | None = None, grpc_port: int | None = None):
    """The ASGI app; with `grpc_port`, the gRPC server starts and stops with it."""
    options = options or ServerOptions()
    metrics = Metrics()
    repository.on_loaded = lambda name, version: metrics.loaded.__setitem__(name, version)
    predictor = Predictor(repository, options)

    @asynccontextmanager
    async def lifespan(app):
        repository.poll_once()
        for name, served in repository.models.items():
            if served.current:
                metrics.loaded[name] = served.current.version
        repository.start_polling(options.poll_seconds)
        grpc_server = None
        if grpc_port is not None:
            from serving.grpc_service import start_grpc_server

            grpc_server, app.state.grpc_port = start_grpc_server(predictor, grpc_port, metrics)
            # the bound port: with --grpc-port 0 the only place it is said (uvicorn logs REST's)
            logging.getLogger("keras_gen.serving").info(json.dumps({"event": "grpc", "port": app.state.grpc_port}))
        yield
        # uvicorn has stopped accepting and finished the requests in flight by now.
        predictor.draining = True
        repository.stop_polling()
        if grpc_server is not None:
            grpc_server.stop(grace=options.timeout_seconds).wait()
        predictor.pool.shutdown(wait=True)
        # Every request the app began has been answered unless these differ (benchmarks/serve_load.py reads it).
        logging.getLogger("keras_gen.serving").info(json.dumps(
            {"event": "drained", "started": metrics.started, "finished": metrics.finished,
             "unanswered": metrics.unanswered}))

    app = FastAPI(title="keras-gen edge server", version="1", lifespan=lifespan,
                  description="onnxruntime behind TF Serving's REST API")
    app.state.repository, app.state.predictor, app.state.metrics = repository, predictor, metrics

    @app.exception_handler(ServingError)
    async def serving_error(request, err: ServingError):
        return _error(err.status, err.message)

    @app.exception_handler(HTTPException)
    async def http_error(request, err: HTTPException):
        return _error(err.status_code, str(err.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, err):
        return _error(400, "invalid request: " + "; ".join(str(e.get("msg")) for e in err.errors())[:500])

    @app.exception_handler(Exception)
    async def bug(request, err):  # a 500 is a bug: say so, keep serving
        logging.getLogger("keras_gen.serving").exception("unhandled error")
        return _error(500, f"internal error: {type(err).__name__}")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        if predictor.draining or not repository.ready():
            return _error(503, "not ready: " + ("shutting down" if predictor.draining else "a model has no version"))
        return {"status": "ready"}

    @app.get("/metrics", response_class=PlainTextResponse)
    @app.get("/monitoring/prometheus/metrics", response_class=PlainTextResponse)
    def prometheus():
        return metrics.text()

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=WEB), name="web")

    @app.get("/v1/models")
    def list_models():
        """Every model with its versions' status (TF Serving has no list; the web page needs one)."""
        names = sorted(list(repository.models))  # one C-level copy: safe beside the poller's inserts
        return {"models": [{"name": name, **repository.status(name)} for name in names]}

    @app.get("/v1/models/{name}")
    def model_status(name: str):
        return repository.status(name)

    @app.get("/v1/models/{name}/versions/{version}")
    def version_status(name: str, version: str):
        return repository.status(name, version)

    @app.get("/v1/models/{name}/labels/{label}")
    def label_status(name: str, label: str):
        """As TF Serving answers it: GetModelStatus reads only a version number from the model
        spec (get_model_status_impl.cc), so a label gives the status of every version."""
        return repository.status(name)

    @app.get("/v1/models/{name}/metadata")
    def model_metadata(name: str):
        return metadata_json(repository.version(name), name)

    @app.get("/v1/models/{name}/versions/{version}/metadata")
    def version_metadata(name: str, version: str):
        return metadata_json(repository.version(name, version), name)

    @app.get("/v1/models/{name}/labels/{label}/metadata")
    def label_metadata(name: str, label: str):
        return metadata_json(repository.version(name, label=label), name)

    async def predict(request: Request, name: str, version: str | None = None, label: str | None = None):
        # Any Content-Type: TF Serving reads every predict body as JSON (`curl -d` sends form-urlencoded).
        data = parse_json(await read_body(request, options.limits.max_body_bytes))
        signature = data.get("signature_name", "serving_default")
        if not isinstance(signature, str):
            raise ServingError(400, "signature_name must be a string")
        future, style, served_version = predictor.submit(name, version, label, signature, data, request_values)
        try:
            outputs = await asyncio.wait_for(asyncio.wrap_future(future), options.timeout_seconds)
        except asyncio.TimeoutError:
            raise ServingError(504, f"prediction took longer than {options.timeout_seconds} s") from None
        except ServingError:
            raise
        except Exception as err:  # the runner refused the values (KerasGenError) or onnxruntime did
            raise ServingError(400, str(err)[:500] or type(err).__name__) from None
        body = response_body(outputs, style)
        return JSONResponse(body, headers={"X-Model-Version": str(served_version)})

    @app.post("/v1/models/{name}:predict", openapi_extra=PREDICT_BODY)
    async def predict_latest(request: Request, name: str):
        return await predict(request, name)

    @app.post("/v1/models/{name}/versions/{version}:predict", openapi_extra=PREDICT_BODY)
    async def predict_version(request: Request, name: str, version: str):
        return await predict(request, name, version=version)

    @app.post("/v1/models/{name}/labels/{label}:predict", openapi_extra=PREDICT_BODY)
    async def predict_label(request: Request, name: str, label: str):
        return await predict(request, name, label=label)

    logged = AccessLog(BodyLimit(app, options.limits.max_body_bytes), metrics, lambda: app.router.routes)
    return InFlight(logged, metrics), app


_PROTO_DTYPES = {"float32": "DT_FLOAT", "int32": "DT_INT32", "int64": "DT_INT64", "uint8": "DT_UINT8",
                 "float64": "DT_DOUBLE", "string": "DT_STRING"}


def _tensor_info(spec_json: dict, batched: bool) -> dict:
    shape = spec_json.get("shape")
    dims = ([-1] if batched else []) + [(-1 if d is None else d) for d in (shape or [])]
    return {"dtype": _PROTO_DTYPES.get(spec_json.get("dtype"), "DT_INVALID"), "name": spec_json["name"],
            "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}}


def metadata_json(loaded, name: str) -> dict:
    """GetModelMetadata as TF Serving's REST API writes it, plus each input's kind under "keras_gen"."""
    signatures = {}
    for signature, endpoint in loaded.endpoints.items():
        signatures[signature] = {
            "inputs": {s.name: _tensor_info(s.to_json(), s.batched) for s in endpoint.inputs},
            "outputs": {o["name"]: _tensor_info({**o, "shape": (o.get("shape") or [None])[1:]}, True)
                        for o in endpoint.outputs},
            "method_name": "tensorflow/serving/predict"}
    return {"model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
            "metadata": {"signature_def": {"signature_def": signatures}},
            "keras_gen": keras_gen_metadata(loaded)}


def keras_gen_metadata(loaded) -> dict:
    """Each signature's inputs with their kinds and defaults (keras_gen.inputs), which a
    SignatureDef cannot hold: what clients fill the inputs a request leaves out from."""
    return {"model": loaded.model.manifest.get("model"), "image_shape": list(loaded.model.image_shape),
            "signatures": {k: [s.to_json() for s in e.inputs] for k, e in loaded.endpoints.items()}}


def serve(exports: str, port: int = 8501, grpc_port: int | None = 8500, host: str = "0.0.0.0",
          options: ServerOptions | None = None, onnx_variant: str | None = None, session_threads: int = 0) -> None:
    """Run until SIGTERM/SIGINT (uvicorn's handlers: stop accepting, finish in-flight, exit).

    `onnx_variant` ("fp16" or "int8") serves the smaller ONNX files of `export --onnx-variants`;
    `session_threads` sets onnxruntime's intra-op threads of every session (0: one per physical core)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    repository = ModelRepository(exports, variant=onnx_variant, threads=session_threads)
    asgi, _ = create_app(repository, options, grpc_port=grpc_port)
    logging.getLogger("keras_gen.serving").info(json.dumps({"event": "listening", "page": f"http://{host}:{port}/",
                                                            "rest": f"http://{host}:{port}/v1/models"}))
    config = uvicorn.Config(asgi, host=host, port=port, access_log=False, log_level="info",
                            timeout_graceful_shutdown=(options or ServerOptions()).timeout_seconds + 5)
    uvicorn.Server(config).run()
