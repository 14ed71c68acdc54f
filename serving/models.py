"""What the edge server serves: every model of an export repository, its versions and endpoints.

Versions are found as TF Serving finds them, by polling EXPORTS/NAME/ for numeric folders. A new
version is loaded (its manifest verified, model.onnx checked against it) beside the one serving,
and only then swapped in; a request holds the `LoadedVersion` it started with, so in-flight work
finishes on that version. A version that fails to load is recorded in the model's status and the
previous one keeps serving. Each endpoint a version declares is an `Endpoint`: its inputs (with
their kinds) and a function from arrays to named output arrays.

A poll costs a directory listing and a stat of the files of versions newer than the one serving:
files are hashed (against the manifest) only when a version is loaded. A version that failed is
remembered with the size and mtime of its files and tried again only when they change, or after
a back-off that doubles from RETRY_FIRST_SECONDS to RETRY_MAX_SECONDS (a failure that was the
machine's, not the files', such as memory running out, heals without a restart).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.edge import EdgeModel
from keras_gen.core.edge.manifest import is_version_name
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import to_uint8

log = logging.getLogger("keras_gen.serving")
VARIANT_ENV = "KERAS_GEN_ONNX_VARIANT"  # the variant when none is passed (`keras-gen serve --onnx-variant` passes it)
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class ServingError(Exception):
    """A request the server refuses: `status` is the HTTP status TF Serving gives that kind of error."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    """One signature served on onnxruntime: inputs by kind, and arrays -> named output arrays."""

    name: str
    inputs: tuple
    outputs: tuple  # manifest output declarations: name, dtype, shape
    run: Callable[[dict], dict]
    counts_from: str | None = None  # the option that sets the batch size (sample's `n`), if any


@dataclass
class LoadedVersion:
    version: int
    model: EdgeModel
    endpoints: dict[str, Endpoint]
    saved_model_signatures: tuple[str, ...]


RETRY_FIRST_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class FailedLoad:
    """A version that did not load: the files it was tried with, how often, and when to try again."""

    fingerprint: tuple
    attempts: int
    retry_at: float  # the repository's clock


def files_fingerprint(version_dir: Path) -> tuple:
    """(relative path, size, mtime in ns) of every file under `version_dir`, sorted: what changes
    when a version's files do, at the cost of a stat per file (no reading)."""
    found = []
    for root, dirs, files in os.walk(version_dir):
        dirs.sort()
        for name in files:
            path = os.path.join(root, name)
            stat = os.stat(path)
            found.append((os.path.relpath(path, version_dir), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


@dataclass
class ServedModel:
    name: str
    current: LoadedVersion | None = None
    failures: dict[int, str] = field(default_factory=dict)  # version -> why it is not served
    loading: set = field(default_factory=set)


def endpoints_of(model: EdgeModel) -> dict[str, Endpoint]:
    """The endpoints a version runs on onnxruntime, named as its SavedModel signatures."""
    manifest = model.manifest
    declared = manifest.get("endpoints") or {}

    def outputs(name):
        return tuple((declared.get(name) or {}).get("outputs") or ())

    def sample(values):
        conditions = {k: v for k, v in values.items() if k not in (kinds.SAMPLE_COUNT, kinds.SAMPLE_SEED)}
        return {"images": model.sample(int(values[kinds.SAMPLE_COUNT]), int(values[kinds.SAMPLE_SEED]), **conditions)}

    # Captions go as strings, as the SavedModel's signatures take them (InputSpec.as_signature).
    sample_specs = tuple(kinds.sample_count_and_seed()) + tuple(kinds.as_signature(model.condition_specs))
    found = {"sample": Endpoint("sample", sample_specs, outputs("sample"), sample, counts_from=kinds.SAMPLE_COUNT)}
    onnx_name = (manifest.get("onnx") or {}).get("endpoint", "generate")
    found[onnx_name] = Endpoint(onnx_name, tuple(model.network_specs), outputs(onnx_name), model.run_network)
    if model.sampler is None:  # a direct model's serving_default: every input given -> uint8 images
        found["serving_default"] = Endpoint(
            "serving_default", tuple(kinds.as_signature(model.input_specs)), outputs("serving_default"),
            lambda values: {"images": to_uint8(model.generate(**values))})
    else:  # a loop model's serving_default is its sample endpoint
        found["serving_default"] = Endpoint("serving_default", sample_specs, outputs("serving_default"), sample,
                                            counts_from=kinds.SAMPLE_COUNT)
    for name in model.endpoint_names:
        found[name] = Endpoint(name, tuple(model.endpoint_specs(name)), outputs(name),
                               lambda values, name=name: model.run_endpoint(name, **values))
    return found


class ModelRepository:
    """Every model in EXPORTS, polled for new versions; thread-safe reads of what is serving."""

    def __init__(self, root: str | Path, providers: list[str] | None = None, variant: str | None = None,
                 threads: int = 0, clock: Callable[[], float] = time.monotonic):
        """`variant` ("fp16" or "int8"; default: $KERAS_GEN_ONNX_VARIANT, else float32) serves the
        smaller ONNX files `keras-gen export --onnx-variants` wrote; a version without that variant
        fails to load, and its status says why. `threads`: onnxruntime's intra-op threads of each
        session (0: one per physical core)."""
        self.root = Path(root)
        if not self.root.is_dir():
            raise KerasGenError(f"{self.root} is not a directory: pass the export repository (EXPORTS/NAME/VERSION).")
        if any(is_version_name(c.name) for c in self.root.iterdir()):
            raise KerasGenError(f"{self.root} is one model's folder; serve the repository above it ({self.root.parent}).")
        if threads < 0:
            raise KerasGenError(f"session threads (--session-threads) must be 0 (one per physical core) or more, "
                                f"got {threads}.")
        self.providers, self.threads = providers, threads
        self.variant = variant if variant is not None else (os.environ.get(VARIANT_ENV) or None)
        if self.variant not in (None, "float32", "fp16", "int8"):
            raise KerasGenError(f"--onnx-variant must be float32, fp16 or int8, got {self.variant!r}.")
        self.models: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.on_loaded = None  # callback(name, version), for metrics
        self.clock = clock
        self.failed: dict[Path, FailedLoad] = {}  # version directory -> its last failed load
        self._poll_lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------
    def poll_once(self) -> None:
        """Load the newest version of each model that loads, if it is newer than the one serving."""
        with self._poll_lock:  # the poller thread and a caller (wait_for_version) never load twice
            self._poll()

    def _poll(self) -> None:
        for model_dir in sorted(self.root.iterdir()):
            if not model_dir.is_dir() or not MODEL_NAME.match(model_dir.name):
                continue
            try:
                versions = sorted((int(c.name) for c in os.scandir(model_dir)
                                   if is_version_name(c.name) and c.is_dir()), reverse=True)
            except OSError as err:  # a folder removed while listing: try again next poll
                log.warning("cannot list %s: %s", model_dir, err)
                continue
            if not versions:
                continue
            with self._lock:
                served = self.models.setdefault(model_dir.name, ServedModel(model_dir.name))
                served.failures = {v: why for v, why in served.failures.items() if v in versions}
            for path in [p for p in self.failed if p.parent == model_dir and int(p.name) not in versions]:
                del self.failed[path]  # removed: a version of that number later is a new one
            current = served.current.version if served.current else -1
            for version in versions:  # newest first
                if version <= current:
                    break
                if self._try_load(served, version, model_dir / str(version)):
                    break

    def _try_load(self, served: ServedModel, version: int, path: Path) -> bool:
        """Load `version` and serve it, unless it failed before with these very files and its
        back-off has not run out; True when it serves."""
        try:
            fingerprint = files_fingerprint(path)
        except OSError:  # removed or renamed while looking: the next poll sees what is there
            return False
        now, failed = self.clock(), self.failed.get(path)
        if failed is not None and failed.fingerprint == fingerprint and now < failed.retry_at:
            return False
        try:
            loaded = self._load(version, path)
        except Exception as err:  # any load failure is reported; the previous version keeps serving
            attempts = failed.attempts + 1 if failed is not None and failed.fingerprint == fingerprint else 1
            wait = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (attempts - 1))
            self.failed[path] = FailedLoad(fingerprint, attempts, now + wait)
            with self._lock:
                served.failures[version] = str(err) or type(err).__name__
            log.warning("version %s of %s failed to load (attempt %d with these files; next in %.0f s, or when "
                        "they change): %s", version, served.name, attempts, wait, err)
            return False
        self.failed.pop(path, None)
        with self._lock:
            served.current = loaded
            served.failures = {v: why for v, why in served.failures.items() if v > version}
        log.info("serving %s version %s", served.name, version)
        if self.on_loaded:
            self.on_loaded(served.name, version)
        return True

    def _load(self, version: int, path: Path) -> LoadedVersion:
        """The version's files verified against its manifest (hashed: once per change of its
        files, since a failure is remembered) and its sessions opened."""
        model = EdgeModel.from_path(path, providers=self.providers, variant=self.variant, threads=self.threads)
        signatures = tuple((model.manifest.get("saved_model") or {}).get("signatures") or ())
        return LoadedVersion(version, model, endpoints_of(model), signatures)

    def start_polling(self, interval_seconds: float) -> None:
        def loop():
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll_once()
                except Exception:  # the poller must outlive any one bad folder
                    log.exception("polling %s failed", self.root)

        self._thread = threading.Thread(target=loop, name="keras-gen-version-poller", daemon=True)
        self._thread.start()

    def stop_polling(self) -> None:
        self._stop.set()

    # -- lookups ---------------------------------------------------------------------------
    def model(self, name: str) -> ServedModel:
        if not MODEL_NAME.match(name or ""):
            raise ServingError(404, f"Servable not found for request: Latest({name[:80]!r})")
        with self._lock:
            served = self.models.get(name)
        if served is None:
            raise ServingError(404, f"Servable not found for request: Latest({name})")
        return served

    def version(self, name: str, version: str | None = None, label: str | None = None) -> LoadedVersion:
        """The version a request names (none: the newest serving), or a 404 as TF Serving gives."""
        served = self.model(name)
        current = served.current
        if label is not None:
            if label not in ("latest", "stable") or current is None:
                raise ServingError(404, f"Unrecognized servable version label: {label[:80]}")
            return current
        if version is not None:
            if not (version.isdigit() and version.isascii() and len(version) < 19):
                raise ServingError(400, f"version must be a non-negative integer, got {version[:80]!r}")
            if current is None or current.version != int(version):
                raise ServingError(404, f"Servable not found for request: Specific({name}, {int(version)})")
            return current
        if current is None:
            raise ServingError(503, f"{name} has no version loaded yet (see GET /v1/models/{name} for why)")
        return current

    def status(self, name: str, version: str | None = None) -> dict:
        """TF Serving's GetModelStatus answer, with the versions that failed and why."""
        served = self.model(name)
        with self._lock:
            current, failures = served.current, dict(served.failures)
        states = []
        if current is not None:
            states.append({"version": str(current.version), "state": "AVAILABLE",
                           "status": {"error_code": "OK", "error_message": ""}})
        for failed, why in sorted(failures.items(), reverse=True):
            states.append({"version": str(failed), "state": "END",
                           "status": {"error_code": "FAILED_PRECONDITION", "error_message": why}})
        if version is not None:
            states = [s for s in states if s["version"] == version.lstrip("0") or s["version"] == version]
            if not states:
                raise ServingError(404, f"Servable not found for request: Specific({name}, {version[:20]})")
        return {"model_version_status": sorted(states, key=lambda s: -int(s["version"]))}

    def ready(self) -> bool:
        with self._lock:
            return bool(self.models) and all(m.current is not None for m in self.models.values())


def endpoint_for(loaded: LoadedVersion, signature: str) -> Endpoint:
    if signature in loaded.endpoints:
        return loaded.endpoints[signature]
    if signature in loaded.saved_model_signatures:
        raise ServingError(501, f"signature {signature!r} is a SavedModel signature that does not run on onnxruntime "
                                f"(served here: {', '.join(sorted(loaded.endpoints))}); use TF Serving for it")
    raise ServingError(400, f"Serving signature name: {signature[:80]!r} not found in signature def "
                            f"(signatures: {', '.join(sorted(loaded.endpoints))})")


def wait_for_version(repository: ModelRepository, name: str, version: int, timeout: float = 30.0) -> None:
    """Poll until `name` serves `version` (tests and scripts that drop a version in)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        repository.poll_once()
        served = repository.models.get(name)
        if served and served.current and served.current.version == version:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{name} version {version} did not load within {timeout} s")


def output_arrays(outputs: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in outputs.items()}
