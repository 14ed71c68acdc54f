"""Sampling an export on onnxruntime, without TensorFlow, for any model.

    model = EdgeModel.from_path("exports/cdcgan")       # newest complete version
    images = model.sample(64, seed=0, label=7)          # (64, H, W, C) uint8
    EdgeModel.from_path("exports/faceswap").run_endpoint("swap_a_to_b", image=faces)["images"]

The manifest declares every input with its kind (keras_gen.core.inputs); the runner resolves a
request `(n, seed, **conditions)` with the same `resolve_inputs` as the Keras model, then either
runs the ONNX network once (direct models, in chunks) or drives the model's sampler loop in
numpy over the session (keras_gen.core.samplers). So the same request gives the same images here, in
Keras and from the SavedModel's `sample` endpoint, up to an off-by-one at a uint8 rounding
boundary where the runtimes' float results straddle it.

Extra endpoints that a model marks `edge=True` have their own NAME.onnx, listed in the
manifest's "edge_endpoints"; `run_endpoint` opens its session on first use.

`EdgeModel.from_path(path, variant="int8")` runs the smaller files `keras-gen export
--onnx-variants fp16,int8` wrote (the manifest names them; a refused or missing variant is an
error that says why). Sessions open tuned (keras_gen.core.edge.tuning) unless `tuned=False`.

Before anything runs, the manifest is checked against the ONNX model's real inputs, and its
labels' classes against the network's own class tables: a manifest edited by hand (say, its
latent size or num_classes) is one clear error, not an onnxruntime trace.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.edge.manifest import read_manifest
from keras_gen.core.edge.onnx_safety import check_onnx_file
from keras_gen.core.edge.repository import resolve_version
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import to_uint8
from keras_gen.core.samplers import DIRECT, get_sampler

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_ORT_TYPES = {"tensor(float)": "float32", "tensor(int32)": "int32", "tensor(int64)": "int64",
              "tensor(uint8)": "uint8", "tensor(double)": "float64"}


def _cuda_device_present() -> bool:
    """Whether the CUDA driver loads and sees a GPU. Asked of the driver directly, so machines
    without one never try onnxruntime's CUDA provider, which would log an error on every load
    (and silencing that means changing onnxruntime's global log level behind the user's back)."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        return driver.cuInit(0) == 0 and driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    except (OSError, AttributeError):
        return False


def make_session(model_path: str | Path, providers: list[str] | None = None, tuned: bool = True, threads: int = 0):
    """An onnxruntime InferenceSession on CUDA when a GPU is there and the provider really loads,
    else on CPU. An explicit `providers` list is passed through as given. `tuned` (the default)
    opens the in-memory rewrite of keras_gen.core.edge.tuning with its session options; the file on
    disk is never changed. `threads`: onnxruntime's intra-op threads (0: one per physical core)."""
    import onnxruntime as ort

    from keras_gen.core.edge.tuning import session_options, tuned_model

    options = session_options(tuned, threads)
    model = str(model_path)
    if tuned:
        import onnx

        rewritten, counts = tuned_model(onnx.load(model))
        if any(counts.values()):
            model = rewritten.SerializeToString()
    if providers is not None:
        return ort.InferenceSession(model, options, providers=list(providers))
    if CUDA in ort.get_available_providers() and _cuda_device_present():
        try:
            session = ort.InferenceSession(model, options, providers=[CUDA, CPU])
        except Exception:  # a broken CUDA install must not stop CPU sampling
            session = None
        if session is not None and CUDA in session.get_providers():
            return session
    return ort.InferenceSession(model, options, providers=[CPU])


def onnx_file_for(manifest: dict, file: str, variant: str | None, where) -> str:
    """The file to run for `file` (model.onnx or an endpoint's NAME.onnx): itself for float32
    (variant None or "float32"), else the variant's file as the manifest records it."""
    if variant in (None, "", "float32"):
        return file
    record = manifest.get("onnx_variants") or {}
    written = sorted(k for k, v in record.items() if isinstance(v, dict) and v.get("status") == "written")
    entry = record.get(variant)
    if not isinstance(entry, dict) or entry.get("status") != "written":
        why = (entry.get("reason") if isinstance(entry, dict) and entry.get("reason")
               else f"this export has no {variant!r} variant").rstrip(".")
        raise KerasGenError(f"{where}: cannot run the {variant!r} ONNX variant: {why}. Variants here: "
                            f"{', '.join(['float32', *written])}. Re-export with `keras-gen export RUN "
                            f"--onnx-variants fp16,int8`, or run float32.")
    name = ((entry.get("files") or {}).get(file) or {}).get("file")
    if not (isinstance(name, str) and name.endswith(".onnx") and Path(name).name == name and name != file):
        raise KerasGenError(f"{where}: manifest.json lists no usable {variant} file for {file} ({name!r}); "
                            "re-export the model.")
    return name


def run_onnx(session, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run an onnxruntime session; outputs keyed by graph output name."""
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def check_session_against_manifest(session, specs: list, where) -> None:
    """The ONNX model's real inputs must be the manifest's: names, dtypes and fixed sizes."""
    real = {i.name: i for i in session.get_inputs()}
    declared = {s.name: s for s in specs}
    problems = []
    if sorted(real) != sorted(declared):
        problems.append(f"inputs {sorted(real)} in model.onnx, {sorted(declared)} in manifest.json")
    for name in sorted(set(real) & set(declared)):
        spec, onnx_input = declared[name], real[name]
        dtype = _ORT_TYPES.get(onnx_input.type, onnx_input.type)
        if dtype != spec.dtype:
            problems.append(f"{name}: dtype {dtype} in model.onnx, {spec.dtype} in manifest.json")
        shape = list(onnx_input.shape[1:] if spec.batched else onnx_input.shape)
        want = list(spec.shape)
        fixed = [(a, b) for a, b in zip(shape, want) if isinstance(a, int) and b is not None]
        if len(shape) != len(want) or any(a != b for a, b in fixed):
            problems.append(f"{name}: shape {shape} in model.onnx, {want} in manifest.json")
    if problems:
        raise KerasGenError(f"{where}: manifest.json does not match model.onnx (" + "; ".join(problems)
                            + "). The manifest was edited or belongs to another model: re-export with `keras-gen export`.")


def label_table_sizes(model_path, names) -> dict[str, tuple[int, str]]:
    """{input: (rows, table)} of the smallest constant table model.onnx gathers from with indices
    computed from each named input (a class embedding, a one-hot table, a VQ codebook): the number
    of classes the network was really built with. Inputs whose values reach no such table are left
    out. The shape of an input (Shape, Size) carries no label values and is not followed."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    constants = {t.name: list(t.dims) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants.update({node.output[0]: list(a.t.dims) for a in node.attribute if a.name == "value"})
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found = {}
    for label in names:
        reached, frontier = {label}, [label]
        while frontier:
            tensor = frontier.pop()
            for node in consumers.get(tensor, ()):
                if node.op_type in ("Shape", "Size"):
                    continue
                if node.op_type == "Gather" and node.input[1] == tensor and node.input[0] in constants:
                    dims = constants[node.input[0]]
                    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
                    if dims and -len(dims) <= axis < len(dims) and (label not in found or dims[axis] < found[label][0]):
                        found[label] = (int(dims[axis]), node.name)
                    continue  # the rows gathered are features, not labels
                for out in node.output:
                    if out and out not in reached:
                        reached.add(out)
                        frontier.append(out)
    return found


def check_labels_against_network(model_path, specs: list, where) -> None:
    """No label or categorical code may promise more classes than the network's table holds: a
    manifest edited to num_classes 20 over a 10-class network would pass a request's range check
    (`--label 15`) and then fail inside onnxruntime (Gather out of bounds)."""
    promised: dict[str, int] = {}
    for spec in specs:
        if spec.kind in ("label", "code") and spec.num_classes:
            promised[spec.name] = max(promised.get(spec.name, 0), int(spec.num_classes))
    if not promised:
        return
    tables = label_table_sizes(model_path, sorted(promised))
    problems = [f"{name}: {promised[name]} classes in manifest.json, {rows} in model.onnx ({table})"
                for name, (rows, table) in sorted(tables.items()) if promised[name] > rows]
    if problems:
        raise KerasGenError(f"{where}: manifest.json promises more classes than the network was built with ("
                            + "; ".join(problems) + "). The manifest was edited or belongs to another model: "
                            "re-export with `keras-gen export`.")


class EdgeModel:
    """An export's model.onnx driven by its manifest: inputs by kind, direct or looped sampling."""

    def __init__(self, version_dir: Path, manifest: dict, session, chunk_size: int = 256,
                 providers: list[str] | None = None, variant: str | None = None, tuned: bool = True):
        self.version_dir = Path(version_dir)
        self.tuned, self.threads = tuned, 0  # sessions of extra endpoints open as the main one did
        self.onnx_path = None  # the file the main session runs (set by from_path)
        self.manifest = manifest
        self.session = session
        self.variant = variant  # None: the float32 files; "fp16"/"int8": NAME.<variant>.onnx (onnx_file)
        self.providers = providers  # for the sessions of extra endpoints, opened when first run
        self._endpoint_sessions = {}
        if int(chunk_size) < 1:
            raise KerasGenError(f"chunk_size must be at least 1, got {chunk_size}.")
        self.chunk_size = int(chunk_size)
        self.metadata = manifest.get("metadata") or {}
        onnx_endpoint = (manifest.get("onnx") or {}).get("endpoint")
        try:
            endpoint = manifest["endpoints"][onnx_endpoint]
            self.network_specs = [kinds.InputSpec.from_json(i) for i in endpoint["inputs"]]
            self.input_specs = [kinds.InputSpec.from_json(i) for i in self.metadata["request_inputs"]]
            sampler = self.metadata["sampler"]
        except (KeyError, TypeError, AttributeError):
            raise KerasGenError(f"{version_dir}/manifest.json does not declare its inputs and sampler: it was written "
                                "by an older keras-gen. Re-export the model with `keras-gen export`.") from None
        check_session_against_manifest(session, self.network_specs, self.version_dir)
        self.output_names = [o.name for o in session.get_outputs()]
        if sampler.get("name") == DIRECT:
            self.sampler = None
            if [s.to_json() for s in self.input_specs] != [s.to_json() for s in self.network_specs]:
                raise KerasGenError(f"{version_dir}/manifest.json: the request inputs differ from model.onnx's inputs; "
                                    "re-export the model with `keras-gen export`.")
        else:
            self.sampler = get_sampler(sampler.get("name"), sampler.get("config"))

    @classmethod
    def from_path(cls, path: str | Path, providers: list[str] | None = None, chunk_size: int = 256,
                  variant: str | None = None, tuned: bool = True, threads: int = 0):
        """Load EXPORTS/NAME (newest complete version) or EXPORTS/NAME/VERSION; `variant` "fp16" or
        "int8" runs the smaller files `keras-gen export --onnx-variants` wrote (None: float32);
        `tuned=False` opens the files as they are, with onnxruntime's default options; `threads`
        sets onnxruntime's intra-op threads (0: one per physical core; 1 suits a machine shared
        with other work, see docs/BENCHMARKS.md)."""
        version_dir = resolve_version(path)
        manifest = read_manifest(version_dir)
        onnx_file = onnx_file_for(manifest, (manifest.get("onnx") or {}).get("file", "model.onnx"), variant,
                                  version_dir)
        model_path = check_onnx_file(version_dir / onnx_file, version_dir)
        model = cls(version_dir, manifest, make_session(model_path, providers, tuned, threads), chunk_size, providers,
                    variant, tuned)
        # Requests are checked against the manifest's classes: those must be the network's own.
        fed = {s.name for s in model.network_specs}
        check_labels_against_network(model_path, model.network_specs + [s for s in model.input_specs if s.name in fed],
                                     version_dir)
        model.threads = threads
        model.onnx_path = Path(model_path)
        return model

    @property
    def provider(self) -> str:
        """The execution provider the session runs on ("CUDAExecutionProvider" or "CPUExecutionProvider")."""
        return self.session.get_providers()[0]

    @property
    def condition_specs(self) -> list:
        """What a request may set: labels, images, options (random inputs come from the seed)."""
        return kinds.condition_specs(self.input_specs)

    @property
    def image_shape(self) -> tuple:
        return tuple(self.metadata.get("image_shape") or ())

    def _image_output(self, outputs: dict) -> np.ndarray:
        return outputs["images"] if "images" in outputs else outputs[self.output_names[0]]

    def run_network(self, feeds: dict) -> dict[str, np.ndarray]:
        """One evaluation of the ONNX network, batched inputs in chunks of `chunk_size`."""
        return self._run_chunked(self.session, self.network_specs, feeds)

    def _run_chunked(self, session, specs, feeds: dict) -> dict[str, np.ndarray]:
        batched = [s.name for s in specs if s.batched]
        total = len(feeds[batched[0]]) if batched else 1
        parts = []
        for start in range(0, total, self.chunk_size):
            chunk = {k: np.ascontiguousarray(v[start:start + self.chunk_size] if k in batched else v)
                     for k, v in feeds.items()}
            parts.append(run_onnx(session, chunk))
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}

    # -- extra endpoints exported for onnxruntime (Endpoint(edge=True): faceswap's swaps) ---------
    @property
    def endpoint_names(self) -> list[str]:
        """The extra endpoints this export runs on onnxruntime (each has its own NAME.onnx)."""
        return sorted(self.manifest.get("edge_endpoints") or {})

    def endpoint_specs(self, name: str) -> list:
        """The declared inputs of extra endpoint `name`."""
        if name not in self.endpoint_names:
            exported = sorted(self.manifest.get("endpoints") or {})
            runs = (f"the extra endpoints it runs on onnxruntime: {', '.join(self.endpoint_names)}"
                    if self.endpoint_names else "it runs no extra endpoints on onnxruntime")
            if name in ("generate", "network", "sample", "serving_default"):
                why = "the sampling endpoints run through generate() and sample()"
            elif name in exported:
                why = ("it is a SavedModel signature here but has no ONNX file (an export by an older keras-gen, "
                       "or a model that does not mark it edge=True); re-export the run with this keras-gen")
            else:
                why = f"no such endpoint (SavedModel signatures: {', '.join(exported)})"
            raise KerasGenError(f"{self.version_dir}: endpoint {name!r} does not run on onnxruntime: {why}; {runs}.")
        try:
            return [kinds.InputSpec.from_json(i) for i in self.manifest["endpoints"][name]["inputs"]]
        except (KeyError, TypeError):
            raise KerasGenError(f"{self.version_dir}/manifest.json does not declare the inputs of {name!r}; "
                                "re-export the model with `keras-gen export`.") from None

    def _endpoint_session(self, name: str, specs: list):
        if name not in self._endpoint_sessions:
            onnx_file = onnx_file_for(self.manifest, self.manifest["edge_endpoints"][name].get("file", f"{name}.onnx"),
                                      self.variant, self.version_dir)
            path = check_onnx_file(self.version_dir / onnx_file, self.version_dir)
            session = make_session(path, self.providers, self.tuned, self.threads)
            check_session_against_manifest(session, specs, self.version_dir / onnx_file)
            self._endpoint_sessions[name] = session
        return self._endpoint_sessions[name]

    def run_endpoint(self, name: str, **inputs) -> dict[str, np.ndarray]:
        """Run extra endpoint `name` on onnxruntime: inputs by name (images as uint8 or [-1, 1]
        floats, options default when left out) -> its outputs by name, as the SavedModel
        signature of the same name returns them (parity-checked at export)."""
        specs = self.endpoint_specs(name)
        unknown = sorted(set(inputs) - {s.name for s in specs})
        missing = [s.name for s in specs if s.name not in inputs and s.kind != "option"]
        if unknown or missing:
            raise KerasGenError(f"endpoint {name!r} takes {', '.join(s.name for s in specs)}"
                                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                                + (f"; missing: {', '.join(missing)}" if missing else "") + ".")
        n = next((len(np.asarray(inputs[s.name])) if np.ndim(inputs[s.name]) > len(s.shape) else 1
                  for s in specs if s.batched), 1)
        values = {s.name: (s.check(inputs[s.name], n) if s.name in inputs else np.asarray(s.default, s.dtype))
                  for s in specs}
        return self._run_chunked(self._endpoint_session(name, specs), specs, values)

    def generate(self, **inputs) -> np.ndarray:
        """Every input given -> float32 images in [-1, 1] (direct models)."""
        if self.sampler is not None:
            raise KerasGenError(f"{self.version_dir}: this model samples with {self.sampler.name!r}; use sample().")
        n = next((len(np.atleast_1d(v)) for k, v in inputs.items()
                  if any(s.name == k and s.batched for s in self.input_specs)), None)
        if n is None:
            raise KerasGenError("generate() needs at least one batched input.")
        missing = [s.name for s in self.input_specs if s.name not in inputs and s.kind != "option"]
        if missing:
            raise KerasGenError(f"generate() needs {', '.join(missing)}; or call sample(n, seed) to draw them.")
        values = {s.name: (s.check(inputs[s.name], n) if s.name in inputs else np.asarray(s.default, s.dtype))
                  for s in self.input_specs}
        return self._image_output(self.run_network(values))

    def sample(self, n: int, seed: int = 0, **conditions) -> np.ndarray:
        """`n` uint8 images (N, H, W, C) for (seed, conditions); the same images as the Keras
        model's and the SavedModel's `sample` give for the same request."""
        n, seed = kinds.check_request(n, seed)
        values = kinds.resolve_inputs(self.input_specs, n, seed, conditions)
        if self.sampler is None:
            images = self._image_output(self.run_network(values))
        else:
            images = self.sampler.run_numpy(self.run_network, values, n, seed)
        return to_uint8(images)
