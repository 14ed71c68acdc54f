"""The parity check run before an export version becomes visible. Every check runs; a check that
cannot run fails the export with a message, never a silent skip.

1. The ONNX endpoint (the network): the same inputs, built from the declared input kinds
   (`model.parity_inputs`), go through the Keras function (in-process TF), the written
   SavedModel (reloaded, called through its signature as TF Serving would) and `model.onnx` in
   onnxruntime (the edge runner's tuned session, also compared with the file opened plainly).
   For every float output the max abs difference of each pair must be <= atol
   (default 1e-4) times max(1, max |Keras output|): images in [-1, 1] get atol itself, while
   unbounded outputs (a PixelCNN's 256-way logits, ~20 in size after training) get the same
   relative precision, since float32 rounding grows with the values; a NaN fails too.
2. `serving_default` (SavedModel, uint8) against `to_uint8` of the Keras float output, when it
   takes the network's inputs (a direct generator); for a looped sampler it is `sample`, checked in 3.
3. `sample(n, seed, conditions)`: the SavedModel endpoint, the onnxruntime edge runner
   (`keras_gen.core.edge.EdgeModel`, the very code that serves) and the Keras model's `sample`, for
   the same request, every condition spelled out (all classes in turn for a label input,
   defaults for options, seeded images for image inputs) but codes, which each runtime draws
   from the seed.
4. Each extra endpoint exported for onnxruntime (`edge=True`, its own NAME.onnx): the Keras
   function vs the SavedModel signature vs `EdgeModel.run_endpoint`, on seeded inputs of its
   declared kinds (images at the shape the model reads them); recorded under "endpoints".
5. A network that takes images of any size is checked again, as in 1, at a second, non-square
   size of its image inputs (`GenerativeModel.parity_image_shape`); recorded under "second_size".

The uint8 checks fail only on a difference > 1: an off-by-one is a float result landing on the
other side of a rounding boundary in `to_uint8`. Everything runs on CPU: the figures describe the
exported math, not a GPU's TF32 choice.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.edge.runner import CPU, EdgeModel, make_session, run_onnx
from keras_gen.core.errors import KerasGenError
from keras_gen.images import to_uint8

_PAIRS = (("keras", "savedmodel"), ("keras", "onnxruntime"), ("savedmodel", "onnxruntime"))
UINT8_TOLERANCE = 1


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _uint8_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    if a.shape != b.shape:
        return {"max_abs_diff": None, "differing": None, "total": int(b.size), "shape_mismatch": [list(a.shape), list(b.shape)]}
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return {"max_abs_diff": int(diff.max()) if diff.size else 0, "differing": int(np.count_nonzero(diff)), "total": int(diff.size)}


def _agree(record: dict, failures: list, what: str) -> dict:
    if not (record["max_abs_diff"] is not None and record["max_abs_diff"] <= UINT8_TOLERANCE):
        failures.append(f"{what}: uint8 images differ by {record['max_abs_diff']} (shapes {record.get('shape_mismatch')})")
    return record


def _to_numpy(outputs: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in outputs.items()}


def _signature_feeds(specs, values: dict) -> dict:
    """Values as a signature takes them; a caption its string form takes goes as its text (token
    ids detokenised: the tokeniser in the graph must give the same ids back)."""
    import tensorflow as tf

    from keras_gen.core.text import detokenize

    def feed(spec, value):
        if spec.kind == "text" and spec.dtype == "string":
            array = np.asarray(value)
            captions = detokenize(array, spec.vocabulary) if array.dtype.kind in "iu" else [str(v) for v in array]
            return tf.constant(captions, tf.string, shape=(len(captions),))
        return tf.constant(np.asarray(value, dtype=spec.dtype))

    return {s.name: feed(s, values[s.name]) for s in specs}


def output_tolerance(atol: float, reference) -> float:
    """The allowed max abs difference for one float output: atol, scaled by the output's largest
    magnitude when that exceeds 1 (float32 error is relative to the values)."""
    peak = float(np.max(np.abs(reference))) if np.size(reference) else 0.0
    return atol * max(1.0, peak)


def check_parity(model, endpoints: dict, onnx_endpoint: str, saved_model_dir, onnx_path, manifest: dict,
                 n: int, atol: float, seed: int) -> dict:
    """Measure parity and return the manifest's "parity" record; raise KerasGenError on failure.
    `manifest` is the version's manifest without its parity and file table (the edge runner
    reads its declarations)."""
    import tensorflow as tf

    ep = endpoints[onnx_endpoint]
    feeds = model.parity_inputs(n, seed=seed)
    names = [spec.name for spec in ep.inputs]
    if sorted(feeds) != sorted(names):
        raise KerasGenError(f"parity_inputs() returned {sorted(feeds)}, but endpoint {onnx_endpoint!r} takes {names}.")
    feeds = {s.name: np.asarray(feeds[s.name], dtype=s.dtype) for s in ep.inputs}

    session = make_session(onnx_path, providers=[CPU])
    failures: list[str] = []
    with tf.device("/CPU:0"):
        keras_out = _to_numpy(ep.fn(*[tf.constant(feeds[name]) for name in names]))
        broken = [k for k, v in keras_out.items() if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all()]
        if broken:  # say what is wrong: the model, not the conversion
            raise KerasGenError(f"The model itself outputs NaN or infinite values ({', '.join(broken)}): its training "
                                "diverged. Export a checkpoint from before the divergence.")
        loaded = tf.saved_model.load(str(saved_model_dir))
        sm_out = _to_numpy(loaded.signatures[onnx_endpoint](**_signature_feeds(ep.inputs, feeds)))
        results = {"keras": keras_out, "savedmodel": sm_out, "onnxruntime": run_onnx(session, feeds)}

        record = {"n": n, "seed": seed, "atol": atol, "device": "CPU", "endpoint": onnx_endpoint,
                  "onnxruntime_provider": session.get_providers()[0], "outputs": {}}
        for key, ref in keras_out.items():
            if not np.issubdtype(ref.dtype, np.floating):
                continue
            per_output, limit = {}, output_tolerance(atol, ref)
            for a, b in _PAIRS:
                if key not in results[b] or key not in results[a]:
                    failures.append(f"output {key!r} missing from {b}")
                    continue
                d = _max_abs_diff(results[a][key], results[b][key])
                per_output[f"{a}_vs_{b}"] = d
                if not d <= limit:  # also catches NaN
                    failures.append(f"{a} vs {b} on {key!r}: max abs diff {d:.3g} > {limit:.3g} (atol {atol:g} "
                                    "scaled by the output's magnitude)")
            record["outputs"][key] = per_output
        if not record["outputs"]:
            raise KerasGenError(f"Endpoint {onnx_endpoint!r} has no float outputs to compare for parity.")
        record["max_abs_diff"] = max(v for o in record["outputs"].values() for v in o.values())
        record["tuned_vs_plain"] = _check_tuned(onnx_path, feeds, results["onnxruntime"], atol, failures)

        record["input_shapes"] = {s.name: list(feeds[s.name].shape[1:]) for s in ep.inputs if s.kind == "image"}
        if any(None in s.shape for s in ep.inputs if s.kind == "image"):
            record["second_size"] = _check_second_size(model, ep, onnx_endpoint, loaded, session, min(n, 8), seed,
                                                       atol, failures)
        record["serving_default"] = _check_serving_default(endpoints, onnx_endpoint, loaded, feeds, keras_out, failures)
        record["sample"] = _check_sample(model, endpoints, loaded, session, saved_model_dir, manifest, n, seed, failures)
        if manifest.get("edge_endpoints"):
            record["endpoints"] = _check_edge_endpoints(model, endpoints, loaded, session, saved_model_dir, manifest, n,
                                                        seed, atol, failures)

    record["passed"] = not failures
    if failures:
        raise KerasGenError(
            "Export parity check failed (" + "; ".join(failures) + "). No version was written. "
            "The converted model does not reproduce the Keras model: check for ops that tf2onnx or the "
            "SavedModel handle differently (e.g. training-only behaviour in the endpoint)."
        )
    return record


def _check_second_size(model, ep, onnx_endpoint, loaded, session, n, seed, atol, failures) -> dict:
    """The network at a second size of its any-size image inputs: Keras vs SavedModel vs onnxruntime."""
    import tensorflow as tf

    feeds = model.parity_inputs(n, seed=seed, second_size=True)
    feeds = {s.name: np.asarray(feeds[s.name], dtype=s.dtype) for s in ep.inputs}
    results = {"keras": _to_numpy(ep.fn(*[tf.constant(feeds[s.name]) for s in ep.inputs])),
               "savedmodel": _to_numpy(loaded.signatures[onnx_endpoint](**_signature_feeds(ep.inputs, feeds))),
               "onnxruntime": run_onnx(session, feeds)}
    record = {"input_shapes": {s.name: list(feeds[s.name].shape[1:]) for s in ep.inputs if s.kind == "image"},
              "outputs": {}}
    for key, ref in results["keras"].items():
        if not np.issubdtype(ref.dtype, np.floating):
            continue
        limit, per_output = output_tolerance(atol, ref), {}
        for a, b in _PAIRS:
            d = _max_abs_diff(results[a][key], results[b][key])
            per_output[f"{a}_vs_{b}"] = d
            if not d <= limit:
                failures.append(f"at the second size {record['input_shapes']}, {a} vs {b} on {key!r}: max abs diff "
                                f"{d:.3g} > {limit:.3g}")
        record["outputs"][key] = per_output
        record["output_shape"] = list(ref.shape[1:])
    return record


def _check_tuned(onnx_path, feeds, tuned_out, atol, failures) -> dict:
    """The runner's tuned session (keras_gen.core.edge.tuning: ConvTranspose rewritten in memory, tuned
    options) against model.onnx opened as it is with onnxruntime's defaults, as any other
    onnxruntime user would open the file."""
    plain = run_onnx(make_session(onnx_path, providers=[CPU], tuned=False), feeds)
    record = {}
    for key, ref in plain.items():
        if np.issubdtype(ref.dtype, np.floating):
            record[key] = _max_abs_diff(ref, tuned_out[key])
            if not record[key] <= output_tolerance(atol, ref):
                failures.append(f"tuned vs plain onnxruntime on {key!r}: max abs diff {record[key]:.3g}")
    return record


def _check_serving_default(endpoints, onnx_endpoint, loaded, feeds, keras_out, failures) -> dict:
    """SavedModel serving_default (uint8) vs to_uint8(Keras float) on the network's inputs."""
    sd = endpoints.get("serving_default")
    if sd is None:
        failures.append("the model has no serving_default endpoint")
        return {}
    if sd is endpoints.get("sample"):
        return {"same_as": "sample"}
    if [s.name for s in sd.inputs] != [s.name for s in endpoints[onnx_endpoint].inputs]:
        failures.append("serving_default takes other inputs than the ONNX endpoint, so nothing checks it")
        return {}
    out = _to_numpy(loaded.signatures["serving_default"](**_signature_feeds(sd.inputs, feeds)))
    record = {}
    for key, value in out.items():
        if key in keras_out:
            record[key] = _agree(_uint8_agreement(value, to_uint8(keras_out[key])), failures, f"serving_default {key!r}")
    if not record:
        failures.append("serving_default shares no output with the ONNX endpoint")
    return record


def _check_sample(model, endpoints, loaded, session, version_dir, manifest, n, seed, failures) -> dict:
    """SavedModel `sample` vs the onnxruntime edge runner vs the Keras model, for one request."""
    ep = endpoints.get("sample")
    if ep is None:
        failures.append("the model has no sample endpoint")
        return {}
    try:
        edge = EdgeModel(version_dir, manifest, session)
    except KerasGenError as err:
        failures.append(f"the edge runner cannot load this export: {err}")
        return {}
    request = model.request_specs()
    # Every condition spelled out, except codes: the SavedModel gets empty ones ("draw from the
    # seed") and the other runtimes none, so the draw itself is compared across runtimes.
    codes = {s.name for s in request if s.kind == "code"}
    given = {k: v for k, v in kinds.resolve_conditions(request, n, seed, image_filler=model.parity_images()).items()
             if k not in codes}
    empty_codes = {s.name: np.zeros((0, *s.shape), s.dtype) for s in request if s.kind == "code"}
    count_and_seed = {kinds.SAMPLE_COUNT: np.int32(n), kinds.SAMPLE_SEED: np.int64(seed)}
    saved = _to_numpy(loaded.signatures["sample"](**_signature_feeds(ep.inputs, {**count_and_seed, **given,
                                                                                 **empty_codes})))
    if "images" not in saved:
        failures.append("the sample endpoint has no 'images' output")
        return {}
    runtimes = {"edge": edge.sample(n, seed, **given), "keras": to_uint8(model.sample(n, seed, **given))}
    record = {"conditions": sorted(given), "codes_drawn_from_seed": sorted(codes)}
    for name, images in runtimes.items():
        record[f"savedmodel_vs_{name}"] = _agree(_uint8_agreement(saved["images"], images), failures,
                                                 f"sample: SavedModel vs {name}")
    return record


def _check_edge_endpoints(model, endpoints, loaded, session, version_dir, manifest, n, seed, atol, failures) -> dict:
    """Each extra endpoint with its own ONNX file: Keras vs SavedModel signature vs the edge
    runner's `run_endpoint`, on seeded inputs built from its declared kinds. Float outputs agree
    within atol, integer (uint8) outputs within 1."""
    import tensorflow as tf

    try:
        edge = EdgeModel(version_dir, manifest, session, providers=[CPU])
    except KerasGenError as err:
        failures.append(f"the edge runner cannot load this export: {err}")
        return {}
    record = {}
    for name in sorted(manifest["edge_endpoints"]):
        ep = endpoints[name]
        # Image inputs at the shape the model reads them (an any-size input at its training size).
        feeds = kinds.resolve_inputs(ep.inputs, n, seed, image_filler=model.parity_images())
        feeds = {s.name: np.asarray(feeds[s.name], dtype=s.dtype) for s in ep.inputs}
        results = {"keras": _to_numpy(ep.fn(*[tf.constant(feeds[s.name]) for s in ep.inputs])),
                   "savedmodel": _to_numpy(loaded.signatures[name](**_signature_feeds(ep.inputs, feeds))),
                   "onnxruntime": edge.run_endpoint(name, **feeds)}
        record[name] = {}
        for key, ref in results["keras"].items():
            exact = not np.issubdtype(ref.dtype, np.floating)
            limit = UINT8_TOLERANCE if exact else output_tolerance(atol, ref)
            record[name][key] = {}
            for a, b in _PAIRS:
                if key not in results[b]:
                    failures.append(f"endpoint {name!r}: output {key!r} missing from {b}")
                    continue
                d = _max_abs_diff(results[a][key], results[b][key])
                record[name][key][f"{a}_vs_{b}"] = d
                if not d <= limit:
                    failures.append(f"endpoint {name!r}, {a} vs {b} on {key!r}: max abs diff {d:.3g} > {limit:g}")
    return record
