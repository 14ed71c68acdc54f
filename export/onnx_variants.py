"""Smaller ONNX files for edge devices: `model.fp16.onnx` and `model.int8.onnx` beside model.onnx.

    keras-gen export RUN --onnx-variants fp16,int8

Every ONNX file an export writes (model.onnx and each extra endpoint's NAME.onnx) gets one file
per variant, NAME.<variant>.onnx, made with onnxruntime's own tools:

    fp16   onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True): weights
           and arithmetic in float16, inputs and outputs still float32, so callers do not change.
    int8   onnxruntime.quantization.quantize_static in QDQ format: int8 weights (per channel) and
           uint8 activations whose ranges are calibrated on the model's own inputs, drawn with the
           seeded latent machinery from the manifest's declared input kinds (`KindCalibrationReader`:
           latents and codes from their seeded streams, every class in turn, option defaults,
           seeded random images for image inputs).

Each variant is measured before it is kept, on CPU, against the float32 file:

    size      bytes of each file, and the ratio to float32;
    parity    max abs difference of every float output on the parity inputs (the same seeded
              inputs as the float32 parity check), per file; a NaN or infinity refuses the variant;
    FID       the domain FID (keras_gen.evaluation's Evaluator: the domain classifier's features,
              against the training split of the data the run was trained on) of `fid_n` samples
              drawn by the edge runner from the float32 file and from the variant on the same
              seeds, and the FID between the two sample sets. When no domain classifier can be had
              (the export records no training data, or the data has no labels) the reason is
              recorded instead. FID judges the sampling network (model.onnx); an extra endpoint's
              file is judged by its parity figures.

A variant whose FID moves by more than `fid_tolerance` (10%) relative to float32's is refused:
its files are deleted from the temporary export folder before the manifest is written (so the
version never holds them), and the manifest's "onnx_variants" records why, with the figures.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from pathlib import Path

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.errors import KerasGenError

VARIANTS = ("fp16", "int8")
DEFAULT_FID_TOLERANCE = 0.10
DEFAULT_FID_N = 256  # more than the domain features' 128 dimensions: FID needs a full-rank covariance
CALIBRATION_BATCHES = 8
CALIBRATION_BATCH_SIZE = 16
METHODS = {
    "fp16": "onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)",
    "int8": "onnxruntime.quantization.quantize_static(QDQ, per-channel QInt8 weights, QUInt8 activations, "
            "MinMax calibration on seeded inputs of the declared kinds)",
}


def parse_variants(value) -> tuple[str, ...]:
    """'fp16,int8' (or a sequence) -> ('fp16', 'int8'); unknown names are one clear error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise KerasGenError(f"--onnx-variants takes a comma list of {', '.join(VARIANTS)}; got {value!r}.")
    return tuple(dict.fromkeys(names))


def variant_file(file: str, variant: str) -> str:
    """model.onnx -> model.fp16.onnx."""
    stem = file[:-len(".onnx")] if file.endswith(".onnx") else file
    return f"{stem}.{variant}.onnx"


class KindCalibrationReader:
    """onnxruntime's CalibrationDataReader over seeded inputs of the declared kinds: batch b is
    `resolve_inputs(specs, batch_size, seed + b)`, as the runner would feed the network."""

    def __init__(self, specs, batches: int = CALIBRATION_BATCHES, batch_size: int = CALIBRATION_BATCH_SIZE,
                 seed: int = 0):
        self.specs = list(specs)
        self.batches, self.batch_size, self.seed = int(batches), int(batch_size), int(seed)
        self._next = 0

    def feeds(self, index: int) -> dict[str, np.ndarray]:
        values = kinds.resolve_inputs(self.specs, self.batch_size, self.seed + index, image_filler=kinds.image_noise)
        return {s.name: np.asarray(values[s.name], dtype=s.dtype) for s in self.specs}

    def get_next(self):
        if self._next >= self.batches:
            return None
        self._next += 1
        return self.feeds(self._next - 1)

    def rewind(self) -> None:
        self._next = 0


def _calibration_reader(specs, **kwargs):
    """A KindCalibrationReader that is also an onnxruntime CalibrationDataReader."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(KindCalibrationReader, CalibrationDataReader):
        pass

    return Reader(specs, **kwargs)


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime.quantization logs advice on the root logger; keep it out of the CLI's output."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def convert_fp16(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    _sort_topologically(model.graph)  # the converter appends its input casts after their users
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(dst), save_as_external_data=False)


def _sort_topologically(graph) -> None:
    """Reorder `graph.node` so every node follows the nodes whose outputs it reads (the ONNX rule)."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = [n for n in pending if not all(i in ready for i in n.input)]
        done = [n for n in pending if all(i in ready for i in n.input)]
        if not done:
            raise KerasGenError("the float16 conversion produced a graph with a cycle or a dangling input.")
        for node in done:
            ordered.append(node)
            ready.update(node.output)
        pending = rest
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def quantize_int8(src: Path, dst: Path, specs, seed: int = 0) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with _quiet_root_logger():
        quantize_static(str(src), str(dst), _calibration_reader(specs, seed=seed), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    for leftover in dst.parent.glob(f"{src.stem}*-inferred.onnx"):  # shape-inference scratch, if any
        leftover.unlink()


def _output_diffs(reference: dict, other: dict) -> dict:
    out = {}
    for key, ref in reference.items():
        if not np.issubdtype(ref.dtype, np.floating):
            continue
        got = other[key].astype(np.float64)
        out[key] = float(np.max(np.abs(ref.astype(np.float64) - got))) if np.isfinite(got).all() else float("nan")
    return out


def _onnx_files(manifest: dict) -> dict[str, list]:
    """{file name: declared input specs} for model.onnx and each extra endpoint's file."""
    onnx_info = manifest["onnx"]
    files = {onnx_info["file"]: manifest["endpoints"][onnx_info["endpoint"]]["inputs"]}
    for name, info in sorted((manifest.get("edge_endpoints") or {}).items()):
        files[info["file"]] = manifest["endpoints"][name]["inputs"]
    return {f: [kinds.InputSpec.from_json(s) for s in specs] for f, specs in files.items()}


@functools.lru_cache(maxsize=2)
def _evaluator(data, image_size, channels, n, seed, data_dir, cache_dir):
    """The domain Evaluator with its real features embedded; kept for the next export of the same
    data in this process (a sweep exporting several runs embeds the real images once)."""
    from keras_gen.evaluation import Evaluator

    evaluator = Evaluator(data, image_size=image_size, channels=channels, features="domain", n_real=n, seed=seed,
                          data_dir=data_dir, cache_dir=cache_dir)
    evaluator.check_sample_count(n)
    evaluator.train  # noqa: B018 - trains or loads the classifier and embeds the real images now
    return evaluator


class VariantFid:
    """Domain FID of edge-runner samples: the Evaluator of the data the run was trained on."""

    def __init__(self, manifest: dict, n: int, seed: int, cache_dir=None):
        self.n, self.seed, self.evaluator, self.unavailable = int(n), int(seed), None, None
        training, metadata = manifest.get("training") or {}, manifest.get("metadata") or {}
        data = training.get("data")
        if not data:
            self.unavailable = ("the export records no training data (export a run with `keras-gen export RUN`), "
                                "so there is no domain classifier to score it")
            return
        try:
            evaluator = _evaluator(data, metadata.get("image_size"), metadata.get("channels"), self.n,
                                   training.get("seed") or 0, training.get("data_dir"),
                                   None if cache_dir is None else str(cache_dir))
        except KerasGenError as err:
            self.unavailable = f"no domain classifier for {data!r}: {err}"
            return
        self.evaluator, self.data = evaluator, data

    def features(self, edge_model) -> np.ndarray:
        from keras_gen.images import from_uint8

        return self.evaluator.extractor(from_uint8(edge_model.sample(self.n, self.seed)))["features"]

    def record(self, reference: np.ndarray, features: np.ndarray) -> dict:
        from keras_gen.metrics import fid_from_features

        real = self.evaluator.train["features"]
        base, fid = fid_from_features(real, reference), fid_from_features(real, features)
        return {"features": "domain", "data": self.data, "n": self.n, "seed": self.seed,
                "classifier": self.evaluator.feature_description.get("classifier"),
                "float32": base, "variant": fid, "relative_change": abs(fid - base) / max(base, 1e-12),
                "vs_float32_samples": fid_from_features(reference, features)}


def build_variants(version_dir: Path, manifest: dict, variants, parity_n: int = 64, parity_seed: int = 0,
                   fid_n: int = DEFAULT_FID_N, fid_seed: int = 1, fid_tolerance: float = DEFAULT_FID_TOLERANCE,
                   cache_dir=None) -> dict:
    """Write NAME.<variant>.onnx for every ONNX file in `version_dir` (the export's temporary
    folder), measure each, delete refused ones; return the manifest's "onnx_variants" record."""
    from keras_gen.core.edge.runner import CPU, EdgeModel, make_session, run_onnx

    variants = parse_variants(variants)
    if not (isinstance(fid_tolerance, (int, float)) and fid_tolerance >= 0):
        raise KerasGenError(f"fid_tolerance must be a non-negative number, got {fid_tolerance!r}.")
    version_dir = Path(version_dir)
    files = _onnx_files(manifest)
    feeds = {f: KindCalibrationReader(specs, batch_size=parity_n, seed=parity_seed).feeds(0)
             for f, specs in files.items()}
    reference = {f: run_onnx(make_session(version_dir / f, providers=[CPU]), feeds[f]) for f in files}
    fid = VariantFid(manifest, fid_n, fid_seed, cache_dir) if variants else None
    base_features = None
    record = {"fid_tolerance": float(fid_tolerance)}
    for variant in variants:
        entry = {"method": METHODS[variant], "files": {}}
        written, problem = [], None
        try:
            for f, specs in files.items():
                dst = version_dir / variant_file(f, variant)
                written.append(dst)
                if variant == "fp16":
                    convert_fp16(version_dir / f, dst)
                else:
                    quantize_int8(version_dir / f, dst, specs, seed=parity_seed)
                diffs = _output_diffs(reference[f], run_onnx(make_session(dst, providers=[CPU]), feeds[f]))
                size, base_size = dst.stat().st_size, (version_dir / f).stat().st_size
                entry["files"][f] = {"file": dst.name, "size": size, "size_ratio": size / base_size,
                                     "parity": {"n": parity_n, "seed": parity_seed, "outputs": diffs,
                                                "max_abs_diff": max(diffs.values(), default=0.0)}}
        except Exception as err:  # the tool cannot handle this graph: the variant is refused, the export stands
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            tool = "float16 converter" if variant == "fp16" else "quantisation"
            problem = f"onnxruntime's {tool} failed on {f}: {first_line}"
        if problem is None:
            entry["size"] = sum(e["size"] for e in entry["files"].values())
            entry["size_ratio"] = entry["size"] / sum((version_dir / f).stat().st_size for f in files)
            entry["max_abs_diff"] = max(e["parity"]["max_abs_diff"] for e in entry["files"].values())
            if not math.isfinite(entry["max_abs_diff"]):
                problem = "it outputs NaN or infinite values on the parity inputs"
            elif fid.unavailable:
                entry["fid"] = {"unavailable": fid.unavailable}
            else:
                main_file = manifest["onnx"]["file"]
                if base_features is None:
                    base_features = fid.features(EdgeModel(version_dir, manifest,
                                                           make_session(version_dir / main_file, providers=[CPU])))
                variant_model = EdgeModel(version_dir, manifest,
                                          make_session(version_dir / variant_file(main_file, variant), providers=[CPU]))
                entry["fid"] = fid.record(base_features, fid.features(variant_model))
                change = entry["fid"]["relative_change"]
                if not change <= fid_tolerance:
                    problem = (f"its domain FID moves by {change:.1%} (float32 {entry['fid']['float32']:.4g}, {variant} "
                               f"{entry['fid']['variant']:.4g} on {fid.n} samples, seed {fid.seed}), more than the "
                               f"{fid_tolerance:.0%} allowed")
        if problem:
            for path in written:
                path.unlink(missing_ok=True)
            entry = {"status": "refused", "reason": f"{variant} variant refused, not written: {problem}.",
                     **{k: v for k, v in entry.items() if k != "files"},
                     "measured_files": {f: {k: v for k, v in e.items() if k != "file"} for f, e in entry["files"].items()}}
        else:
            entry = {"status": "written", **entry}
        record[variant] = _finite(entry)
    return record


def _finite(value):
    """NaN/inf (a broken variant's figures) as None: the manifest is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def refused(record: dict) -> dict[str, str]:
    """{variant: reason} for the variants a build refused."""
    return {k: v["reason"] for k, v in (record or {}).items() if isinstance(v, dict) and v.get("status") == "refused"}


def written(record: dict) -> list[str]:
    return [k for k, v in (record or {}).items() if isinstance(v, dict) and v.get("status") == "written"]


__all__ = ["DEFAULT_FID_TOLERANCE", "KindCalibrationReader", "VARIANTS", "build_variants", "parse_variants",
           "refused", "variant_file", "written"]
