"""Write one export version: SavedModel + model.onnx + manifest.json, checked, then renamed into place.

Steps (nothing is visible to a server until the last one):
  1. make OUT/NAME/.tmp-<version>-<pid>-<random>/ (dot-prefixed: TF Serving and the edge
     repository only look at numeric directories; same filesystem as the final directory, so
     the final rename is atomic), after removing leftovers whose exporting process is gone;
  2. SavedModel via `keras.export.ExportArchive`: every endpoint of `model.export_endpoints()`
     with its input signature, `serving_default` included, outputs as named dicts;
  3. model.onnx from the `onnx=True` endpoint via tf2onnx (named inputs/outputs, dynamic batch),
     and NAME.onnx for each extra endpoint marked `edge=True` (recorded in the manifest's
     "edge_endpoints", run by `EdgeModel.run_endpoint`);
  4. parity (export/parity.py): the network on Keras vs SavedModel vs onnxruntime, a sampling
     request on the SavedModel's `sample` vs the onnxruntime edge runner vs the Keras model, and
     each edge endpoint on Keras vs SavedModel vs the edge runner;
  4b. with `onnx_variants`, NAME.fp16.onnx / NAME.int8.onnx beside each ONNX file, measured
     (size, parity, domain FID) and deleted again when refused (export/onnx_variants.py);
  5. manifest.json with the parity figures and every file's sha256 and size; fsync;
  6. rename to OUT/NAME/<version>. On any failure the temporary directory is removed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import numbers
import os
import re
import shutil
import tempfile
from pathlib import Path

from keras_gen.core.edge.manifest import FORMAT, FORMAT_VERSION, is_version_name, write_manifest
from keras_gen.core.errors import KerasGenError
from keras_gen.core.fileio import remove_stale_temporaries

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _versions(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if is_version_name(p.name))


def _temporary_pid(name: str) -> int:
    """The exporting process's pid in a `.tmp-<version>-<pid>-<random>` folder name."""
    return int(name.split("-")[2])


def _check_version(version) -> int:
    if isinstance(version, bool) or not (isinstance(version, int) or (isinstance(version, str) and version.isdigit())):
        raise KerasGenError(f"--version must be a non-negative integer (TF Serving's rule), got {version!r}.")
    version = int(version)
    if not 0 <= version < 2**63:
        raise KerasGenError(f"--version must be a non-negative int64, got {version}.")
    return version


def _check_endpoints(model) -> tuple[dict, str]:
    endpoints = model.export_endpoints()
    if "serving_default" not in endpoints:
        raise KerasGenError(f"{type(model).__name__}.export_endpoints() has no 'serving_default' endpoint (TF Serving needs one).")
    onnx_names = [name for name, ep in endpoints.items() if ep.onnx]
    if len(onnx_names) != 1:
        raise KerasGenError(
            f"{type(model).__name__}.export_endpoints() marks {len(onnx_names)} endpoints onnx=True; exactly one is exported to ONNX."
        )
    for name, ep in endpoints.items():
        if getattr(ep, "edge", False) and (ep.onnx or name in ("model", "serving_default", "sample")):
            raise KerasGenError(f"Endpoint {name!r} is marked edge=True, which is for extra endpoints: the ONNX "
                                "network is model.onnx already, and sample runs on EdgeModel.sample.")
        unnamed = [i for i, spec in enumerate(ep.inputs) if not getattr(spec, "name", None)]
        if unnamed:
            raise KerasGenError(f"Endpoint {name!r}: inputs {unnamed} have no name; signatures need named inputs.")
    return endpoints, onnx_names[0]


def _spec_json(spec, value_range=None) -> dict:
    out = {"name": spec.name, "dtype": spec.dtype.name, "shape": None if spec.shape.rank is None else spec.shape.as_list()}
    if value_range is not None:
        out["range"] = list(value_range)
    return out


def _describe_endpoint(ep, tf_function) -> dict:
    """Inputs and outputs (from the traced function) of one endpoint, for the manifest."""
    import tensorflow as tf

    outputs = tf_function.get_concrete_function().structured_outputs
    if not isinstance(outputs, dict):
        raise KerasGenError(f"Endpoint functions must return a dict of named outputs, got {type(outputs).__name__}.")
    ranges = ep.output_ranges or {}
    return {
        "description": ep.description,
        "onnx": bool(ep.onnx),
        "inputs": [spec.to_json() for spec in ep.inputs],  # each with its kind (keras_gen.inputs)
        "outputs": [
            _spec_json(tf.TensorSpec(t.shape, t.dtype, name=key), ranges.get(key))
            for key, t in sorted(outputs.items())
        ],
    }


def _write_saved_model(endpoints: dict, path: Path) -> dict:
    """SavedModel with one signature per endpoint; returns the archive's tf.functions by name."""
    import keras
    import tensorflow as tf

    # No archive.track(model): the archive then saves only the variables the endpoints use (the
    # generator's), not the discriminator's or an EMA copy's. Nothing here needs lookup tables.
    archive = keras.export.ExportArchive()
    functions, traced = {}, {}
    # serving_default first: ExportArchive aliases the first endpoint when none is named so.
    for name in sorted(endpoints, key=lambda k: k != "serving_default"):
        ep = endpoints[name]
        if id(ep) in traced:  # one endpoint under two names (a loop model's sample is its serving_default):
            # the same traced function under both, so its sampling loop is traced and saved once, not twice
            functions[name] = archive.add_endpoint(name, traced[id(ep)])
            continue
        functions[name] = archive.add_endpoint(name, ep.fn, input_signature=list(ep.input_signature))
        functions[name].get_concrete_function()  # traced now: add_endpoint takes a traced tf.function as it is
        traced[id(ep)] = functions[name]
    # Without custom gradients: tf.saved_model.save would otherwise trace the gradient function of
    # every custom-gradient op into the SavedModel (about 1 CPU-s of a diffusion export, plus their
    # reload in the parity check); serving never differentiates through an export.
    archive.write_out(str(path), verbose=False, options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    return functions


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory so a renamed version survives a crash intact."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _jsonable(value):
    """JSON-safe copy: unknown objects as strings, NaN/inf (e.g. a diverged loss) as null."""
    if value is None:
        return {}

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return clean(json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))))


WEIGHTS = ("auto", "ema", "raw")


def export_model(model, out_dir, name: str | None = None, version: int | None = None, training_info: dict | None = None,
                 parity_n: int = 64, atol: float = 1e-4, opset: int = 17, parity_seed: int = 0,
                 weights: str = "auto", onnx_variants=(), fid_tolerance: float | None = None,
                 fid_n: int | None = None, cache_dir=None) -> Path:
    """Export `model` to OUT_DIR/NAME/VERSION (TF Serving layout) and return that directory.

    `name` defaults to the model's registered name (export_metadata()["model"]); `version=None`
    takes the next integer after the highest existing one. An existing version is never
    overwritten. Raises KerasGenError if the parity check fails (nothing is written then).
    `weights`: "ema" exports the moving average of the weights (a model trained with
    `--set ema=...`), "raw" the trained weights, "auto" the EMA when there is one.
    `onnx_variants` ("fp16,int8" or a sequence) adds NAME.<variant>.onnx beside every ONNX file,
    measured and refused past `fid_tolerance` (export/onnx_variants.py; `fid_n` samples, the domain
    classifier from `cache_dir`).
    """
    from export.onnx_variants import DEFAULT_FID_N, DEFAULT_FID_TOLERANCE, parse_variants

    variants = {"variants": parse_variants(onnx_variants), "cache_dir": cache_dir,
                "fid_tolerance": DEFAULT_FID_TOLERANCE if fid_tolerance is None else fid_tolerance,
                "fid_n": DEFAULT_FID_N if fid_n is None else int(fid_n)}
    if weights not in WEIGHTS:
        raise KerasGenError(f"--weights must be one of {', '.join(WEIGHTS)}, got {weights!r}.")
    with model.ema_weights() if weights != "raw" else contextlib.nullcontext(False) as swapped:
        if weights == "ema" and not swapped:
            raise KerasGenError("--weights ema: this model keeps no moving average of its weights (train it with "
                                "--set ema=0.999), or export with --weights raw.")
        return _export(model, out_dir, name, version, training_info, parity_n, atol, opset, parity_seed,
                       "ema" if swapped else "raw", variants)


def _export(model, out_dir, name, version, training_info, parity_n, atol, opset, parity_seed, weights,
            variants) -> Path:
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    import keras_gen
    from export.onnx_export import convert_endpoint
    from export.parity import check_parity

    if isinstance(atol, bool) or not (isinstance(atol, numbers.Real) and atol >= 0):
        raise KerasGenError(f"atol must be a non-negative number, got {atol!r}.")
    if not (isinstance(parity_n, int) and parity_n >= 1):
        raise KerasGenError(f"parity_n must be a positive integer, got {parity_n!r}.")
    endpoints, onnx_name = _check_endpoints(model)
    metadata = {**model.export_metadata(), "weights": weights}
    name = name or metadata.get("model")
    if not name or not _NAME_RE.match(str(name)):
        raise KerasGenError(f"Export name {name!r} is not usable as a directory: use letters, digits, '_', '-', '.'.")
    model_dir = Path(out_dir) / str(name)
    # Folders this call creates, innermost first: a failed first export removes them again.
    created = [d for d in (model_dir, *model_dir.parents) if not d.exists()]
    model_dir.mkdir(parents=True, exist_ok=True)
    existing = _versions(model_dir)
    version = (existing[-1] + 1 if existing else 1) if version is None else _check_version(version)
    final = model_dir / str(version)
    if final.exists():
        raise KerasGenError(
            f"{final} already exists; export versions are never overwritten. Pass another --version, "
            "or omit it to take the next one."
        )

    # Leftovers of exports killed outright (their process is gone) go now; the pid in the name
    # tells them from an export still running beside this one.
    remove_stale_temporaries(model_dir, ".tmp-*", pid_of=_temporary_pid)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-{os.getpid()}-", dir=model_dir))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; a TF Serving process may run as another user
        functions = _write_saved_model(endpoints, tmp)
        ep = endpoints[onnx_name]
        output_keys = sorted(functions[onnx_name].get_concrete_function().structured_outputs)
        onnx_info = convert_endpoint(
            functions[onnx_name], ep.input_signature, output_keys, tmp / "model.onnx", opset=opset,
            metadata={"model": metadata.get("model", name), "endpoint": onnx_name, "version": version},
        )
        onnx_info["endpoint"] = onnx_name
        edge_endpoints = {}  # extra endpoints for onnxruntime: one NAME.onnx each (EdgeModel.run_endpoint)
        for edge_name in sorted(k for k, e in endpoints.items() if getattr(e, "edge", False)):
            keys = sorted(functions[edge_name].get_concrete_function().structured_outputs)
            edge_endpoints[edge_name] = {**convert_endpoint(
                functions[edge_name], endpoints[edge_name].input_signature, keys, tmp / f"{edge_name}.onnx",
                opset=opset, metadata={"model": metadata.get("model", name), "endpoint": edge_name, "version": version},
            ), "endpoint": edge_name}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": str(name),
            "version": version,
            "model": metadata.get("model", str(name)),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "keras_gen_version": keras_gen.__version__,
            "libraries": {"tensorflow": tf.__version__, "keras": keras.__version__, "tf2onnx": tf2onnx.__version__,
                          "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
            "metadata": _jsonable(metadata),
            "training": _jsonable(training_info),
            "saved_model": {"signatures": sorted(endpoints), "default_signature": "serving_default"},
            "endpoints": {k: _describe_endpoint(endpoints[k], functions[k]) for k in sorted(endpoints)},
            "onnx": onnx_info,
            **({"edge_endpoints": edge_endpoints} if edge_endpoints else {}),
        }
        manifest["parity"] = check_parity(model, endpoints, onnx_name, tmp, tmp / "model.onnx", manifest,
                                          parity_n, float(atol), parity_seed)
        if variants["variants"]:  # smaller files beside each ONNX file; refused ones are deleted here
            from export.onnx_variants import build_variants

            manifest["onnx_variants"] = build_variants(
                tmp, manifest, variants["variants"], parity_n=parity_n, parity_seed=parity_seed,
                fid_n=variants["fid_n"], fid_tolerance=variants["fid_tolerance"], cache_dir=variants["cache_dir"])
        write_manifest(tmp, manifest)
        _fsync_tree(tmp)
        if final.exists():  # another export took this version while we worked
            raise KerasGenError(f"{final} appeared during the export; not overwriting it. Export again.")
        os.rename(tmp, final)
        fd = os.open(model_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:  # a first export that failed leaves no trace
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return final
