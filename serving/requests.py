"""TF Serving's predict request and response formats, validated against an endpoint's declared inputs.

REST bodies (https://www.tensorflow.org/tfx/serving/api_rest):

    {"signature_name": "sample", "inputs": {"n": 16, "seed": 0, "label": [7]}}      columnar
    {"instances": [{"z": [...16 floats], "label": 3}, ...]}                         row format
    {"instances": [[...16 floats], ...]}                                            one input, rows only

Every value becomes an array checked by the input's own `InputSpec.check` (shape, dtype, range,
NaN), after the server's limits (batch size, image size, steps); any problem is a `ServingError` 400.

Strict by default, as TF Serving is: every input the signature declares must be given (TF
Serving: "input size does not match signature ... Missing but required"), a JSON number must fit
the input's dtype (an integer for int32/int64), and `{"b64": ...}` is for string inputs only.
The one thing a SavedModel signature reads from a value besides the numbers is kept: a code
given as an empty list is drawn from the seed. Lenient (`keras-gen serve --lenient`, the
server's behaviour before it was strict): options left out take their defaults, and
`{"b64": PNG or JPEG}` is decoded for an image input.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass

import numpy as np

from keras_gen.core.errors import KerasGenError
from serving.models import Endpoint, ServingError


@dataclass(frozen=True)
class Limits:
    max_batch: int = 256          # samples (or rows) in one request
    max_image_side: int = 1024    # pixels, for image inputs (checked before decoding a b64 image)
    max_steps: int = 1000         # a sampler's `steps` option
    max_body_bytes: int = 8 << 20  # request body (413 past it)


def bad(message: str) -> ServingError:
    return ServingError(400, message)


def parse_json(body: bytes) -> dict:
    """The request body as a JSON object; NaN and Infinity are refused, as TF Serving does."""
    def no_constants(name):
        raise bad(f"JSON value {name} is not allowed")

    try:
        data = json.loads(body, parse_constant=no_constants)
    except ServingError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise bad(f"JSON Parse error: {str(err)[:200]}") from None
    if not isinstance(data, dict):
        raise bad("the request body must be a JSON object with \"instances\" or \"inputs\"")
    return data


def decode_image(value: dict, limits: Limits) -> np.ndarray:
    """{"b64": PNG or JPEG} -> uint8 (H, W, C); size checked from the header before decoding."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise bad("b64: not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw)) as picture:
            width, height = picture.size
            if max(width, height) > limits.max_image_side:
                raise bad(f"image of {width}x{height} pixels is over the limit of {limits.max_image_side} a side")
            array = np.asarray(picture.convert("L" if picture.mode in ("L", "I", "1", "P") else "RGB"))
    except ServingError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise bad("b64: not a readable PNG or JPEG image") from None
    return array[..., None] if array.ndim == 2 else array


def _array(value, spec, limits: Limits, strict: bool = True) -> np.ndarray:
    """A JSON value as a numeric array (b64 images decoded when lenient); ragged or non-numeric
    values are 400s, and so (strict) are fractions for an integer input. A caption (a `text`
    input) is a string or a list of strings, kept as text for its spec to check."""
    if spec.kind == "text":  # JSON strings, or a gRPC DT_STRING tensor already decoded to text
        if isinstance(value, np.ndarray) and value.dtype.kind in "OU":
            value = value.reshape(-1).tolist()
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return np.asarray([value] if isinstance(value, str) else value, dtype=object)  # [] : the examples
        if spec.dtype == "string":
            raise bad(f"{spec.name}: expected captions as strings (a string or a list of strings), got "
                      f"{str(value)[:60]}")
    if isinstance(value, dict) and set(value) == {"b64"}:
        if strict:
            raise bad(f"{spec.name}: {{\"b64\": ...}} values are for string inputs; this one takes {spec.dtype} "
                      "numbers (TF Serving refuses it too). Send the pixels as numbers.")
        if spec.kind != "image":
            raise bad(f"{spec.name}: b64 values are for image inputs")
        return decode_image(value, limits)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        if not all(isinstance(v, dict) and set(v) == {"b64"} for v in value):
            _bad_value(spec, strict)
        if strict:
            return _array(value[0], spec, limits, strict)  # refused: b64 is for string inputs
        return np.stack([_array(v, spec, limits, strict) for v in value])
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise bad(f"{spec.name}: ragged or mixed values (every row must have the same shape)") from None
    if array.dtype.kind not in "iuf":
        _bad_value(spec, strict)
    if array.dtype.kind == "f" and spec.dtype.startswith("int") and not np.all(np.isfinite(array)):
        raise bad(f"{spec.name} holds NaN or infinite values")
    if strict and array.size and array.dtype.kind == "f" and np.dtype(spec.dtype).kind in "iu":
        raise bad(f"{spec.name}: expects {spec.dtype} values (JSON integers), got {_first(array)!r}")
    return array


def _first(array: np.ndarray):
    return array.reshape(-1)[0].item()


def _bad_value(spec, strict: bool = True):
    raise bad(f"{spec.name}: expected numbers of dtype {spec.dtype}" + (" (or {\"b64\": ...} images)"
                                                                         if spec.kind == "image" and not strict else ""))


def request_values(data: dict, endpoint: Endpoint, limits: Limits, strict: bool = True) -> tuple[dict, str]:
    """{input name: array} for the endpoint, and "row" or "columnar" (how to answer)."""
    if ("instances" in data) == ("inputs" in data):
        raise bad("the request must have exactly one of \"instances\" (row format) or \"inputs\" (columnar)")
    unknown = sorted(set(data) - {"instances", "inputs", "signature_name"})
    if unknown:
        raise bad(f"unknown field(s) in the request: {', '.join(map(str, unknown))[:200]}")
    specs = {s.name: s for s in endpoint.inputs}
    batched = [s for s in endpoint.inputs if s.batched]
    if "instances" in data:
        rows = data["instances"]
        if not isinstance(rows, list) or not rows:
            raise bad("\"instances\" must be a non-empty list")
        if len(rows) > limits.max_batch:
            raise bad(f"batch of {len(rows)} instances is over the limit of {limits.max_batch}")
        if all(isinstance(r, dict) and not set(r) == {"b64"} for r in rows):
            names = set().union(*rows)
            columns = {}
            for name in names:
                if any(name not in r for r in rows):
                    raise bad(f"input {str(name)[:80]!r} is missing from some instances")
                if name in specs and not specs[name].batched:
                    values = {json.dumps(r[name]) for r in rows}
                    if len(values) > 1:
                        raise bad(f"option {name} must be the same in every instance")
                    columns[name] = rows[0][name]
                else:
                    columns[name] = [r[name] for r in rows]
        elif len(batched) == 1 and len(endpoint.inputs) == 1:
            columns = {batched[0].name: rows}
        else:
            raise bad(f"instances must be objects naming the inputs ({', '.join(specs)})")
        style = "row"
    else:
        columns = data["inputs"]
        if not isinstance(columns, dict):
            if len(endpoint.inputs) != 1:
                raise bad(f"\"inputs\" must be an object naming the inputs ({', '.join(specs)})")
            columns = {endpoint.inputs[0].name: columns}
        style = "columnar"
    return check_values(columns, endpoint, limits, strict), style


def check_values(columns: dict, endpoint: Endpoint, limits: Limits, strict: bool = True) -> dict:
    """Arrays for every input of the endpoint: declared shapes, dtypes, ranges and the server's limits.

    Strict: every declared input must be given. A code of a sampling endpoint given as an empty
    list is left out of the result, so the sampler draws it from the seed (as the SavedModel's
    `sample` does); lenient: a missing option takes its default."""
    specs = {s.name: s for s in endpoint.inputs}
    unknown = sorted(str(k)[:80] for k in set(columns) - set(specs))
    if unknown:
        raise bad(f"unknown input(s) {', '.join(unknown)}: {endpoint.name} takes {', '.join(specs)}")
    missing = [s.name for s in endpoint.inputs if s.name not in columns and (strict or s.kind != "option")]
    if missing:
        raise bad(f"missing input(s) {', '.join(missing)}: {endpoint.name} takes {', '.join(specs)}"
                  + (" (every input of a signature must be given, as on TF Serving; the metadata says each "
                     "one's default)" if strict else ""))
    arrays = {name: _array(value, specs[name], limits, strict) for name, value in columns.items()}
    drawn = {name for name, array in arrays.items() if endpoint.counts_from is not None
             and specs[name].kind in ("code", "text") and array.size == 0}  # an empty code: drawn from the
    # seed; an empty caption list: the model's example captions in turn
    arrays = {name: array for name, array in arrays.items() if name not in drawn}
    if endpoint.counts_from is not None:
        count = arrays.get(endpoint.counts_from)
        n = int(count) if count is not None and count.ndim == 0 and count.dtype.kind in "iu" else None
        if n is not None and n > limits.max_batch:
            raise bad(f"{endpoint.counts_from}={n} is over the server's batch limit of {limits.max_batch}")
    sizes = set()
    for spec in endpoint.inputs:
        array = arrays.get(spec.name)
        if array is None:
            continue
        if spec.batched and array.ndim > len(spec.shape):
            sizes.add(len(array))
            if len(array) > limits.max_batch:
                raise bad(f"{spec.name}: batch of {len(array)} is over the limit of {limits.max_batch}")
        if spec.kind == "image" and array.ndim >= 3 and max(array.shape[-3:-1]) > limits.max_image_side:
            raise bad(f"{spec.name}: images of {array.shape[-3]}x{array.shape[-2]} are over the limit of "
                      f"{limits.max_image_side} a side")
        if spec.kind == "option" and spec.name == "steps" and array.ndim == 0 and array.dtype.kind in "iuf" \
                and array > limits.max_steps:
            raise bad(f"steps={array} is over the server's limit of {limits.max_steps}")
    if len(sizes) > 1:
        raise bad(f"batched inputs disagree in batch size: {sorted(sizes)}")
    n = max(sizes) if sizes else 1
    values = {}
    for spec in endpoint.inputs:
        if spec.name in drawn:
            continue
        if spec.name not in arrays:
            values[spec.name] = np.asarray(spec.default, spec.dtype)
            continue
        try:
            values[spec.name] = spec.check(arrays[spec.name], n)
        except KerasGenError as err:
            raise bad(str(err)[:500]) from None
        except (ValueError, TypeError, OverflowError):
            raise bad(f"{spec.name}: values do not fit dtype {spec.dtype}") from None
    return values


def response_body(outputs: dict, style: str) -> dict:
    """TF Serving's answer: row format -> "predictions" (one per instance), columnar -> "outputs"."""
    arrays = {k: np.asarray(v) for k, v in outputs.items()}
    if style == "row":
        if len(arrays) == 1:
            return {"predictions": next(iter(arrays.values())).tolist()}
        n = len(next(iter(arrays.values())))
        return {"predictions": [{k: v[i].tolist() for k, v in arrays.items()} for i in range(n)]}
    if len(arrays) == 1:
        return {"outputs": next(iter(arrays.values())).tolist()}
    return {"outputs": {k: v.tolist() for k, v in arrays.items()}}
