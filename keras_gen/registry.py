"""Model name -> builder, so the CLI, export and serving find models by name.

A model family registers itself with `@register("name", ...)` on a builder function
`build(image_size, channels, num_classes=None, **options) -> keras.Model`; options are what a
user passes as `--set key=value`. Registration happens when the family's module is imported;
`_FAMILY_MODULES` lists the modules imported on first lookup, so adding a family is one line
there plus the module itself.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Callable

from keras_gen.errors import KerasGenError

# Modules that register models when imported. A new family adds its module here.
_FAMILY_MODULES = ("keras_gen.models.gan.dcgan",)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable
    description: str
    exports: tuple[str, ...]  # endpoint names the export stage writes
    defaults: dict = field(default_factory=dict)  # the builder's keyword defaults


_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


def register(name: str, description: str, exports: tuple[str, ...]):
    """Decorator: register `builder` under `name`."""

    def wrap(builder: Callable) -> Callable:
        params = inspect.signature(builder).parameters
        defaults = {
            k: p.default
            for k, p in params.items()
            if p.default is not inspect.Parameter.empty and k not in ("image_size", "channels", "num_classes")
        }
        _REGISTRY[name] = ModelSpec(name, builder, description, tuple(exports), defaults)
        return builder

    return wrap


def _load_families() -> None:
    global _loaded
    if not _loaded:
        for module in _FAMILY_MODULES:
            importlib.import_module(module)
        _loaded = True


def names() -> list[str]:
    _load_families()
    return sorted(_REGISTRY)


def get(name: str) -> ModelSpec:
    _load_families()
    if name not in _REGISTRY:
        raise KerasGenError(
            f"Unknown model {name!r}. Registered models: {', '.join(sorted(_REGISTRY))}. "
            "Run `keras-gen models` to list them."
        )
    return _REGISTRY[name]


def parse_options(spec: ModelSpec, pairs: list[str] | None) -> dict:
    """Turn `--set key=value` strings into typed builder options, checked against its defaults."""
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise KerasGenError(f"--set expects key=value, got {pair!r}.")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if key not in spec.defaults:
            raise KerasGenError(
                f"Model {spec.name!r} has no option {key!r}. Its options: "
                + ", ".join(f"{k}={v!r}" for k, v in sorted(spec.defaults.items()))
            )
        options[key] = _coerce(raw.strip(), spec.defaults[key], key)
    return options


def _coerce(raw: str, default, key: str):
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise KerasGenError(f"Option {key}={raw!r}: expected a {type(default).__name__}.") from None
    return raw


def build(name: str, image_size: int, channels: int, num_classes: int | None = None, **options):
    """Build a registered model with its defaults overridden by `options`."""
    spec = get(name)
    return spec.builder(image_size=image_size, channels=channels, num_classes=num_classes, **options)
