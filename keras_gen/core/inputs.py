"""Inputs that say what they are: the declarations every endpoint, manifest and runner builds on.

A generator's inputs are each of one kind:

    latent   Gaussian noise (B, dim), drawn from the shared seeded sampler (keras_gen.core.latents)
    label    a class index (B,) int32, with its number of classes
    code     InfoGAN's codes: categorical (B,) int32 over `num_classes` (or a map (B, h, w), a VQ-VAE code
             map), or uniform (B, dim) in (-1, 1)
    image    an image batch (B, H, W, C), float32 in [-1, 1] or uint8; H and W may be None (any size)
    option   a scalar with a default and a range: steps, guidance, truncation, temperature
    text     a caption as token ids (B, max_words) int32 over the input's `vocabulary` (keras_gen/core/text.py);
             requests may give the caption as a string, tokenised here (and, in a SavedModel signature
             that takes strings, by the TF twin): `as_signature` gives that string form, (B,) strings

`resolve_inputs` turns a request `(n, seed, **conditions)` into arrays: random kinds are drawn
from (seed, stream) with one stream per random input, labels default to every class in turn,
options to their defaults, and a batched condition of any length cycles to n. The Keras model,
the SavedModel `sample` endpoint and the onnxruntime runner all go through `resolve_inputs` or
its TF twin `resolve_inputs_tf` (keras_gen/core_tf/inputs.py, with `draw_tf`, `check_request_tf`
and `tensor_spec`), so a request gives the same inputs, hence the same images, on each. A caption
nobody gave is the input's `examples` in turn, as a label nobody gave is every class in turn.

Plain Python and numpy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from keras_gen.core import latents, text
from keras_gen.core.errors import KerasGenError
from keras_gen.core.images import from_uint8, to_uint8

KINDS = ("latent", "label", "code", "image", "option", "text")
RANDOM_KINDS = ("latent", "code")
SAMPLE_COUNT, SAMPLE_SEED = "n", "seed"  # the two inputs every `sample` endpoint takes first
MAX_SAMPLES = 65536  # one request; larger jobs loop over seeds
MAX_SEED = 2**32 - 1  # seeds are 32-bit everywhere (latents.py keeps the low 32 bits)


@dataclass(frozen=True)
class InputSpec:
    """One named input of an endpoint. `shape` excludes the batch axis (options are scalars)."""

    name: str
    kind: str
    shape: tuple = ()
    dtype: str = "float32"
    num_classes: int | None = None  # label; categorical code
    distribution: str | None = None  # latent: "gaussian"; code: "categorical" | "uniform"
    default: float | int | None = None  # option
    range: tuple | None = None  # option: [lo, hi] inclusive; image: value range of its dtype
    description: str = ""
    choices: tuple | None = None  # option: names of its values 0, 1, ... (`--sampler ddpm` is 1)
    vocabulary: tuple | None = None  # text: the words of ids 2, 3, ... (0 pads, 1 is an unknown word)
    examples: tuple | None = None  # text: captions a request that gives none goes through in turn

    def __post_init__(self):
        if self.kind not in KINDS:
            raise KerasGenError(f"input {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}.")
        if self.kind == "label" and not (self.num_classes or 0) >= 1:
            raise KerasGenError(f"label input {self.name!r} needs num_classes >= 1.")
        if self.kind == "option" and (self.default is None or self.range is None):
            raise KerasGenError(f"option {self.name!r} needs a default and a range.")
        if self.kind == "option":  # the manifest is strict JSON (no inf), and the default must be requestable
            lo, hi = self.range
            if not all(isinstance(v, (int, float, np.number)) and np.isfinite(v) for v in (lo, hi, self.default)) \
                    or not lo <= self.default <= hi:
                raise KerasGenError(f"option {self.name!r} needs finite numbers lo <= default <= hi, got range "
                                    f"{self.range!r} and default {self.default!r}.")
        object.__setattr__(self, "shape", tuple(self.shape))
        if self.kind == "text":
            self._check_text_declaration()
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        if self.range is not None:
            object.__setattr__(self, "range", tuple(self.range))

    def _check_text_declaration(self):
        vocabulary = text.check_vocabulary(self.vocabulary or ())
        object.__setattr__(self, "vocabulary", vocabulary)
        if self.dtype == "int32":
            if len(self.shape) != 1:
                raise KerasGenError(f"text input {self.name!r}: shape is (max_words,), got {self.shape}.")
            text.check_max_words(self.shape[0])
        elif self.dtype != "string" or self.shape != ():
            raise KerasGenError(f"text input {self.name!r} is int32 token ids of shape (max_words,) or, in a "
                                f"signature, one string a caption; got {self.dtype} {self.shape}.")
        if self.examples is not None:
            object.__setattr__(self, "examples", tuple(str(e) for e in self.examples))

    @property
    def max_words(self) -> int:
        """text: the most words a caption may have (the ids form's row length; the string form keeps
        it in its description's stead as `range`)."""
        return int(self.shape[0]) if self.dtype == "int32" else int(self.range[1])

    @property
    def batched(self) -> bool:
        return self.kind != "option"

    @property
    def random(self) -> bool:
        return self.kind in RANDOM_KINDS

    # -- manifest ----------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        out["shape"] = [None if d is None else int(d) for d in self.shape]
        if self.range is not None:
            out["range"] = list(self.range)
        if self.choices is not None:
            out["choices"] = list(self.choices)
        for key in ("vocabulary", "examples"):
            if getattr(self, key) is not None:
                out[key] = list(getattr(self, key))
        return out

    @classmethod
    def from_json(cls, data: dict) -> "InputSpec":
        try:
            return cls(**{k: (tuple(v) if k in ("shape", "range", "choices", "vocabulary", "examples") else v)
                          for k, v in data.items()})
        except TypeError as err:
            raise KerasGenError(f"malformed input declaration {data!r}: {err}") from None

    # -- values ------------------------------------------------------------------------------
    def check(self, value, n: int) -> np.ndarray:
        """A user-given value as this input's array for a request of `n`: batched conditions of any
        length cycle to n (label 7 -> all sevens, labels [0, 1, 2] -> 0, 1, 2, 0, ...)."""
        if self.kind == "option" and self.choices:
            value = value_of_choice(self, value)
        if self.kind == "text":
            return _cycled(self._text_values(value), n)
        try:
            array = np.asarray(value)
        except Exception:
            raise KerasGenError(f"{self.name}: cannot read {value!r} as an array.") from None
        if self.kind == "option":
            if array.ndim != 0 or not np.issubdtype(array.dtype, np.number) or not np.isfinite(array):
                raise KerasGenError(f"option {self.name} takes one number, got {value!r}.")
            lo, hi = self.range
            if not lo <= float(array) <= hi:
                raise KerasGenError(f"option {self.name}={value!r} is out of range: pass a value from {lo} to {hi}.")
            if np.dtype(self.dtype).kind == "i" and float(array) != int(array):
                raise KerasGenError(f"option {self.name} takes a whole number, got {value!r}.")
            return np.asarray(array, self.dtype)
        if self.kind in ("label", "code") and self.num_classes:
            if self.shape:  # a categorical map (a VQ-VAE code map): (N, *shape), or one map
                if array.ndim == len(self.shape):
                    array = array[None]
                if array.shape[1:] != self.shape:
                    shape = ", ".join(map(str, self.shape))
                    raise KerasGenError(f"{self.name} takes maps of shape (N, {shape}), got {array.shape}.")
            else:
                array = np.atleast_1d(array)
            if array.ndim != len(self.shape) + 1 or not np.issubdtype(array.dtype, np.integer) and not (
                    np.issubdtype(array.dtype, np.floating) and np.isfinite(array).all()
                    and np.all(array == np.round(array))):
                raise KerasGenError(f"{self.name} takes class indices (whole numbers), got {value!r}.")
            if array.size == 0 or array.min() < 0 or array.max() >= self.num_classes:
                raise KerasGenError(f"{self.name} must be class indices from 0 to {self.num_classes - 1}, got {value!r}.")
        else:
            if array.ndim == len(self.shape):
                array = array[None]
            if array.ndim != len(self.shape) + 1 or any(
                    want is not None and got != want for got, want in zip(array.shape[1:], self.shape)):
                shape = ", ".join("any" if d is None else str(d) for d in self.shape)
                raise KerasGenError(f"{self.name} takes arrays of shape (N, {shape}), got {array.shape}.")
            if array.shape[0] == 0:
                raise KerasGenError(f"{self.name}: got an empty batch.")
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                raise KerasGenError(f"{self.name} holds NaN or infinite values.")
            if self.kind == "image":
                array = self._image_values(array)
        if array.shape[0] != n:
            array = array[np.arange(n) % array.shape[0]]
        return np.ascontiguousarray(array, dtype=self.dtype)

    def _text_values(self, value) -> np.ndarray:
        """Captions as this input takes them: the ids form tokenises text (unknown words become
        UNK) or checks ids; the string form checks the captions tokenise and keeps them as text."""
        is_text = isinstance(value, (str, bytes, np.str_, np.bytes_)) or (
            np.asarray(value, dtype=object).dtype == object and np.asarray(value, dtype=object).ndim == 1
            and all(isinstance(v, (str, bytes, np.str_, np.bytes_)) for v in np.asarray(value, dtype=object)))
        if self.dtype == "string":
            if not is_text:
                raise KerasGenError(f"{self.name} takes captions as text (a string or a list of strings), got "
                                    f"{value!r:.80}.")
            captions = [text.normalise(c) for c in text.as_caption_list(value)]
            text.tokenize(captions, self.vocabulary, self.max_words)  # the errors: no words, too many
            return np.asarray(captions, dtype=object)
        if is_text:
            return text.tokenize(value, self.vocabulary, self.max_words)[0]
        return text.check_ids(value, len(self.vocabulary), self.max_words)

    def example_values(self, n: int) -> np.ndarray:
        """The captions of a request that gives none: the input's examples in turn, in its form."""
        if not self.examples:
            raise KerasGenError(f"this model needs a caption for {self.name!r}: pass one, e.g. --text \"...\".")
        return _cycled(self._text_values(list(self.examples)), n)

    def as_signature(self) -> "InputSpec":
        """The input as a serving signature takes it: a text input's string form, (B,) captions
        (TF Serving's clients then need no vocabulary); every other input as it is."""
        if self.kind != "text" or self.dtype == "string":
            return self
        return InputSpec(self.name, "text", (), "string", range=(1, self.max_words), vocabulary=self.vocabulary,
                         examples=self.examples, description=f"captions of 1 to {self.max_words} words (strings)")

    def _image_values(self, array: np.ndarray) -> np.ndarray:
        """Images as this input's dtype: uint8 [0, 255] and float [-1, 1] are both accepted and
        converted; anything else (float pixels in [0, 255] or [0, 1]) is an error, not a cast."""
        if np.issubdtype(array.dtype, np.integer):
            if array.size and (array.min() < 0 or array.max() > 255):
                raise KerasGenError(f"{self.name}: integer images must be in [0, 255], got values from "
                                    f"{array.min()} to {array.max()}.")
            array = array.astype(np.uint8)
            return array if self.dtype == "uint8" else from_uint8(array)
        if not np.issubdtype(array.dtype, np.floating):
            raise KerasGenError(f"{self.name} takes images as uint8 in [0, 255] or floats in [-1, 1], "
                                f"got {array.dtype}.")
        if array.size and (array.min() < -1.0 - 1e-3 or array.max() > 1.0 + 1e-3):
            raise KerasGenError(f"{self.name}: float images must be in [-1, 1] (or pass uint8 in [0, 255]), "
                                f"got values from {array.min():.3g} to {array.max():.3g}.")
        return to_uint8(array) if self.dtype == "uint8" else array

    def draw(self, n: int, seed: int, stream: int) -> np.ndarray:
        """Seeded values of a random input (numpy); `resolve_inputs` assigns the streams. Its TF
        twin is keras_gen.core_tf.inputs.draw_tf."""
        if self.kind == "latent":  # any shape: (dim,) for a GAN, (H, W, C) for a diffusion model's noise
            size = int(np.prod(self.shape))
            return latents.gaussian_latents(n, size, seed, stream).reshape(n, *self.shape)
        if self.distribution == "categorical":  # a map (h, w) is h * w draws of the stream, row-major
            size = int(np.prod(self.shape))
            return latents.categorical_codes(n * size, self.num_classes, seed, stream).reshape(n, *self.shape)
        return latents.uniform_codes(n, self.shape[0], seed, stream)

def _cycled(array: np.ndarray, n: int) -> np.ndarray:
    return array if len(array) == n else array[np.arange(n) % len(array)]


# -- constructors, so declarations read as what they are ---------------------------------------
def latent(dim: int, name: str = "z") -> InputSpec:
    return InputSpec(name, "latent", (int(dim),), "float32", distribution="gaussian",
                     description=f"Gaussian latent (N, {dim})")


def label(num_classes: int, name: str = "label") -> InputSpec:
    return InputSpec(name, "label", (), "int32", num_classes=int(num_classes),
                     description=f"class index in [0, {num_classes})")


def code(name: str, distribution: str, dim: int = 1, num_classes: int | None = None, shape: tuple = ()) -> InputSpec:
    """An InfoGAN code: categorical over `num_classes`, or `dim` uniforms in (-1, 1). Drawn from
    the seed unless a request gives it; given uniform values are not held to (-1, 1) (InfoGAN
    traverses its continuous codes to +-2). A categorical code may be a map of `shape` (a VQ-VAE
    code map (h, w) of codebook indices), each entry drawn uniformly."""
    if distribution not in ("categorical", "uniform"):
        raise KerasGenError(f"code {name!r}: distribution must be 'categorical' or 'uniform', got {distribution!r}.")
    if distribution == "categorical" and not (num_classes or 0) >= 2:
        raise KerasGenError(f"categorical code {name!r} needs num_classes >= 2, got {num_classes!r}.")
    if distribution == "uniform" and not int(dim) >= 1:
        raise KerasGenError(f"uniform code {name!r} needs dim >= 1, got {dim!r}.")
    if distribution == "categorical":
        shape = tuple(int(d) for d in shape)
        what = f"categorical code map {shape}" if shape else "categorical code"
        return InputSpec(name, "code", shape, "int32", num_classes=int(num_classes), distribution="categorical",
                         description=f"{what} in [0, {num_classes})")
    return InputSpec(name, "code", (int(dim),), "float32", distribution="uniform", range=(-1.0, 1.0),
                     description=f"uniform code (N, {dim}) in (-1, 1)")


def image(shape, name: str = "image", dtype: str = "float32") -> InputSpec:
    value_range = (0, 255) if dtype == "uint8" else (-1.0, 1.0)
    return InputSpec(name, "image", tuple(shape), dtype, range=value_range, description=f"images {dtype} in {value_range}")


def option(name: str, default, lo, hi, dtype: str | None = None, description: str = "") -> InputSpec:
    dtype = dtype or ("int32" if isinstance(default, int) and not isinstance(default, bool) else "float32")
    return InputSpec(name, "option", (), dtype, default=default, range=(lo, hi), description=description)


def caption(vocabulary, max_words: int, examples=None, name: str = "caption") -> InputSpec:
    """A text input: captions as token ids (N, max_words) over `vocabulary`; `examples` are what a
    request without a caption goes through in turn."""
    vocabulary = text.check_vocabulary(vocabulary)
    return InputSpec(name, "text", (text.check_max_words(max_words),), "int32", vocabulary=vocabulary,
                     examples=None if examples is None else tuple(examples),
                     description=f"a caption of 1 to {max_words} words over a vocabulary of {len(vocabulary)}, as "
                                 "text or token ids")


def as_signature(specs) -> list[InputSpec]:
    """Each input as a serving signature takes it (a caption as a string)."""
    return [s.as_signature() for s in specs]


def choice(name: str, choices, default: str, description: str = "") -> InputSpec:
    """An option that picks one of named alternatives (a sampler): the value is the index into
    `choices`, so signatures stay numeric; the CLI and `value_of_choice` read the names."""
    choices = tuple(choices)
    return InputSpec(name, "option", (), "int32", default=choices.index(default), range=(0, len(choices) - 1),
                     description=description or " | ".join(f"{i}: {c}" for i, c in enumerate(choices)),
                     choices=choices)


def value_of_choice(spec: InputSpec, value):
    """A choice option's name (or index) -> its index; KerasGenError for an unknown name."""
    if isinstance(value, str) and spec.choices:
        if value not in spec.choices:
            raise KerasGenError(f"{spec.name} must be one of {', '.join(spec.choices)}, got {value!r}.")
        return spec.choices.index(value)
    return value


def sample_count_and_seed() -> list[InputSpec]:
    """`n` and `seed`, the first two inputs of every `sample` endpoint (options with ranges)."""
    return [option(SAMPLE_COUNT, 64, 1, MAX_SAMPLES, "int32", "number of samples"),
            option(SAMPLE_SEED, 0, 0, MAX_SEED, "int64", "seed: the same seed gives the same samples")]


# -- requests ---------------------------------------------------------------------------------
def check_request(n, seed) -> tuple[int, int]:
    """(n, seed) as ints, or one clear error: the same limits on every runtime."""
    for value, spec in zip((n, seed), sample_count_and_seed()):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
                spec.range[0] <= int(value) <= spec.range[1]):
            flag = "--n" if spec.name == SAMPLE_COUNT else "--seed"
            raise KerasGenError(f"{flag} must be an integer from {spec.range[0]} to {spec.range[1]}, got {value!r}.")
    return int(n), int(seed)


def streams(specs) -> dict[str, int]:
    """Stream index of each random input, in declaration order (the first latent gets stream 0)."""
    return {spec.name: i for i, spec in enumerate(s for s in specs if s.random)}


def resolve_inputs(specs, n: int, seed: int, conditions: dict | None = None, image_filler=None) -> dict:
    """Arrays for every input of a request; unknown or missing conditions are clear errors.

    `image_filler(spec, n, seed)` supplies image inputs nobody gave (the parity check's random
    images); without it an image input must be given."""
    n, seed = check_request(n, seed)
    conditions = dict(conditions or {})
    names = [s.name for s in specs]
    unknown = sorted(set(conditions) - set(names))
    if unknown:
        settable = [s.name for s in specs] or ["nothing"]
        raise KerasGenError(f"unknown input(s) {', '.join(unknown)}: this model takes {', '.join(settable)}.")
    stream_of = streams(specs)
    out = {}
    for spec in specs:
        if spec.name in conditions and conditions[spec.name] is not None:
            out[spec.name] = spec.check(conditions[spec.name], n)
        elif spec.random:
            out[spec.name] = spec.draw(n, seed, stream_of[spec.name])
        elif spec.kind == "label":
            out[spec.name] = (np.arange(n) % spec.num_classes).astype(spec.dtype)  # every class in turn
        elif spec.kind == "option":
            out[spec.name] = np.asarray(spec.default, spec.dtype)
        elif spec.kind == "text":
            out[spec.name] = spec.example_values(n)  # the examples in turn
        elif image_filler is not None:
            out[spec.name] = image_filler(spec, n, seed)
        else:
            raise KerasGenError(f"this model needs an input image {spec.name!r} ({spec.description}); pass it.")
    return out


def condition_specs(specs) -> list[InputSpec]:
    """The inputs a sampling request may set: everything but the latents (codes are drawn from
    the seed unless given)."""
    return [s for s in specs if s.kind != "latent"]


def resolve_conditions(specs, n: int, seed: int, conditions: dict | None = None, image_filler=None) -> dict:
    """The condition inputs of a request, spelled out per sample (codes drawn from their own
    streams of the whole request when not given): what a request was drawn with."""
    values = resolve_inputs(specs, n, seed, conditions, image_filler)
    return {s.name: values[s.name] for s in condition_specs(specs)}


def image_noise(spec: InputSpec, n: int, seed: int) -> np.ndarray:
    """Seeded random images for an image input (parity checks); `None` sides become 16 pixels."""
    shape = [n, *(16 if d is None else d for d in spec.shape)]
    u = latents.uniform_codes(int(np.prod(shape[:1])), int(np.prod(shape[1:])), seed,
                              stream=latents.PARITY_IMAGE_STREAM)
    u = u.reshape(shape)
    return (np.round((u + 1) * 127.5).astype(np.uint8) if spec.dtype == "uint8" else u.astype(spec.dtype))


__all__ = ["InputSpec", "KINDS", "as_signature", "caption", "code", "condition_specs", "image", "label", "latent", "option",
           "resolve_conditions", "resolve_inputs", "sample_count_and_seed", "check_request"]
