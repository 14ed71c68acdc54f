"""The parity check run before an export version becomes visible.

The same inputs go through three runtimes: the Keras endpoint function (in-process TF), the
written SavedModel (reloaded with `tf.saved_model.load`, called through its signature as TF
Serving would) and `model.onnx` in onnxruntime. For every float output of the ONNX endpoint the
max abs difference of each pair must be <= atol (default 1e-4); a NaN fails too.

Two uint8 checks ride along and fail only on a difference > 1 (an off-by-one is a float result
landing on the other side of a rounding boundary in `to_uint8`):
  - `serving_default` (SavedModel) vs `to_uint8` of the Keras float output, same inputs;
  - `sample` (SavedModel, TF latents) vs the onnxruntime edge path (numpy latents), same (n, seed),
    when the model's metadata says its sampler is "gaussian_latents".

Everything runs on CPU: the figure describes the exported math, not a GPU's TF32 choice.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import to_uint8
from keras_gen.latents import gaussian_latents

_PAIRS = (("keras", "savedmodel"), ("keras", "onnxruntime"), ("savedmodel", "onnxruntime"))


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def _uint8_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    if a.shape != b.shape:
        return {"max_abs_diff": None, "differing": None, "total": int(b.size), "shape_mismatch": [list(a.shape), list(b.shape)]}
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return {"max_abs_diff": int(diff.max()) if diff.size else 0, "differing": int(np.count_nonzero(diff)), "total": int(diff.size)}


def run_onnx(session, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run an onnxruntime session; outputs keyed by graph output name."""
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def _to_numpy(outputs: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in outputs.items()}


def check_parity(endpoints: dict, onnx_endpoint: str, saved_model_dir, onnx_path, inputs: dict[str, np.ndarray],
                 atol: float, metadata: dict, seed: int) -> dict:
    """Measure parity and return the manifest's "parity" record; raise KerasGenError on failure."""
    import tensorflow as tf

    from serving.onnx_runner import CPU, make_session

    ep = endpoints[onnx_endpoint]
    names = [spec.name for spec in ep.input_signature]
    if sorted(inputs) != sorted(names):
        raise KerasGenError(f"parity_inputs() returned {sorted(inputs)}, but endpoint {onnx_endpoint!r} takes {names}.")
    feeds = {spec.name: np.asarray(inputs[spec.name], dtype=spec.dtype.as_numpy_dtype) for spec in ep.input_signature}
    n = int(next(iter(feeds.values())).shape[0])

    session = make_session(onnx_path, providers=[CPU])
    with tf.device("/CPU:0"):
        keras_out = _to_numpy(ep.fn(*[tf.constant(feeds[name]) for name in names]))
        broken = [k for k, v in keras_out.items() if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all()]
        if broken:  # say what is wrong: the model, not the conversion
            raise KerasGenError(f"The model itself outputs NaN or infinite values ({', '.join(broken)}): its training "
                                "diverged. Export a checkpoint from before the divergence.")
        loaded = tf.saved_model.load(str(saved_model_dir))
        sm_out = _to_numpy(loaded.signatures[onnx_endpoint](**{k: tf.constant(v) for k, v in feeds.items()}))
        ort_out = run_onnx(session, feeds)
        results = {"keras": keras_out, "savedmodel": sm_out, "onnxruntime": ort_out}

        record = {"n": n, "seed": seed, "atol": atol, "device": "CPU", "endpoint": onnx_endpoint,
                  "onnxruntime_provider": session.get_providers()[0], "outputs": {}}
        failures = []
        for key, ref in keras_out.items():
            if not np.issubdtype(ref.dtype, np.floating):
                continue
            per_output = {}
            for a, b in _PAIRS:
                if key not in results[b] or key not in results[a]:
                    failures.append(f"output {key!r} missing from {b}")
                    continue
                d = _max_abs_diff(results[a][key], results[b][key])
                per_output[f"{a}_vs_{b}"] = d
                if not d <= atol:  # also catches NaN
                    failures.append(f"{a} vs {b} on {key!r}: max abs diff {d:.3g} > atol {atol:g}")
            record["outputs"][key] = per_output
        if not record["outputs"]:
            raise KerasGenError(f"Endpoint {onnx_endpoint!r} has no float outputs to compare for parity.")
        record["max_abs_diff"] = max(v for o in record["outputs"].values() for v in o.values())

        record["serving_default"] = _check_serving_default(endpoints, onnx_endpoint, loaded, feeds, keras_out, failures)
        record["sample"] = _check_sample(endpoints, loaded, session, metadata, n, seed, failures)

    record["passed"] = not failures
    if failures:
        raise KerasGenError(
            "Export parity check failed (" + "; ".join(failures) + "). No version was written. "
            "The converted model does not reproduce the Keras model: check for ops that tf2onnx or the "
            "SavedModel handle differently (e.g. training-only behaviour in the endpoint)."
        )
    return record


def _check_serving_default(endpoints, onnx_endpoint, loaded, feeds, keras_out, failures) -> dict | None:
    """SavedModel serving_default (uint8) vs to_uint8(Keras float), when it takes the same inputs."""
    sd = endpoints.get("serving_default")
    if sd is None or onnx_endpoint == "serving_default":
        return None
    if sorted(s.name for s in sd.input_signature) != sorted(feeds):
        return None
    import tensorflow as tf

    out = _to_numpy(loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in feeds.items()}))
    record = {}
    for key, value in out.items():
        if value.dtype == np.uint8 and key in keras_out:
            record[key] = _uint8_agreement(value, to_uint8(keras_out[key]))
            if not (record[key]["max_abs_diff"] is not None and record[key]["max_abs_diff"] <= 1):
                failures.append(f"serving_default {key!r} differs from to_uint8(keras) by {record[key]['max_abs_diff']}")
    return record or None


def _check_sample(endpoints, loaded, session, metadata, n, seed, failures) -> dict | None:
    """SavedModel `sample(n, seed)` vs the onnxruntime edge path for the same (n, seed)."""
    ep = endpoints.get("sample")
    if ep is None or metadata.get("sampler") != "gaussian_latents" or "latent_dim" not in metadata:
        return None
    import tensorflow as tf

    onnx_inputs = session.get_inputs()
    if len(onnx_inputs) != 1 or len(ep.input_signature) != 2:
        return None
    n_spec, seed_spec = ep.input_signature
    out = _to_numpy(loaded.signatures["sample"](**{n_spec.name: tf.constant(n, n_spec.dtype),
                                                   seed_spec.name: tf.constant(seed, seed_spec.dtype)}))
    z = gaussian_latents(n, int(metadata["latent_dim"]), seed)
    edge = {k: to_uint8(v) for k, v in run_onnx(session, {onnx_inputs[0].name: z}).items()}
    record = {}
    for key, value in out.items():
        if key in edge:
            record[key] = _uint8_agreement(value, edge[key])
            if not (record[key]["max_abs_diff"] is not None and record[key]["max_abs_diff"] <= 1):
                failures.append(f"sample {key!r} (SavedModel) differs from the onnxruntime path by {record[key]['max_abs_diff']}")
    return record or None
