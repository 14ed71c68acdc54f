"""Model name -> model class, so the CLI, training, export and evaluation find models by name.

One registration per model, in its family's `__init__.py`, which imports no TensorFlow:

    # keras_gen/models/gan/__init__.py
    from keras_gen.registry import Family

    family = Family("adversarial", __name__)
    family.register("dcgan", "dcgan:DCGAN", data_kind="images",
                    summary="DCGAN: convolutional GAN, non-saturating or minimax loss",
                    paper="Radford, Metz & Chintala 2016")

The registration says what `keras-gen models` lists (name, family, data kind, one-line summary,
paper) and where the class is ("module:Class", relative to the family's package); the class is
imported only when the model is used, so listing models imports no TensorFlow and reads no
source, and finding one model imports its module alone. A family is a package under
keras_gen/models/ whose `__init__.py` registers its models: a new family is a new folder, and
nothing else changes.

What the class declares stays in the class: its `Options` dataclass (options, defaults, types and
bounds: the `--set` flags, the model's config and `keras-gen models NAME`), its networks and its
`train_step`. `data_kind` is the registration's: the class receives it (and `registered_name`)
when it is defined. A model defined outside the package (a test's, a user's script) registers
with the decorator form, `@register(name, family=..., data_kind=..., summary=...)`.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass

from keras_gen.errors import KerasGenError

_MODELS_PACKAGE = "keras_gen.models"
RESERVED = ("image_size", "channels", "num_classes")  # set from the data, not by --set
DATA_KINDS = ("images", "labelled", "paired", "unpaired", "indexed", "attributes",  # keras_gen/data/training_data.py
              "degraded", "captioned")


@dataclass(frozen=True)
class ModelSpec:
    """One registration. Everything but `model_class` and what derives from it is known without
    importing the model's module."""

    name: str
    target: str  # "package.module:Class"
    family: str
    data_kind: str
    summary: str
    paper: str = ""

    @property
    def model_class(self) -> type:
        """The class, imported on first use."""
        module, _, qualname = self.target.partition(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj

    @property
    def description(self) -> str:
        return self.summary

    @property
    def option_fields(self) -> dict:
        return {f.name: f for f in dataclasses.fields(self.model_class.Options)}

    @property
    def defaults(self) -> dict:
        return {name: f.default for name, f in self.option_fields.items()}

    @property
    def help(self) -> dict:
        return {name: f.metadata.get("help", "") for name, f in self.option_fields.items()}

    @property
    def exports(self) -> tuple[str, ...]:
        from keras_gen.models.base import GenerativeModel

        cls = self.model_class
        loop = cls.sampler is not GenerativeModel.sampler
        # A model adding endpoints in export_endpoints() names them in `extra_exports`.
        return ("serving_default", "sample", "network" if loop else "generate", *getattr(cls, "extra_exports", ()))

    def to_json(self) -> dict:
        return {"name": self.name, "family": self.family, "data_kind": self.data_kind, "summary": self.summary,
                "paper": self.paper}


_REGISTRY: dict[str, ModelSpec] = {}
_BY_TARGET: dict[str, ModelSpec] = {}
_loaded = False


def _check_data_kind(name: str, data_kind: str) -> None:
    if data_kind not in DATA_KINDS:
        raise KerasGenError(f"model {name!r}: data_kind must be one of {', '.join(DATA_KINDS)}, got {data_kind!r}.")


def _add(spec: ModelSpec) -> ModelSpec:
    known = _REGISTRY.get(spec.name)
    if known is not None and known.target != spec.target:
        raise KerasGenError(f"Two models are registered as {spec.name!r}: {known.target} and {spec.target}.")
    _check_data_kind(spec.name, spec.data_kind)
    _REGISTRY[spec.name] = _BY_TARGET[spec.target] = spec
    return spec


class Family:
    """The registrations of one family package: `Family("adversarial", __name__).register(...)`."""

    def __init__(self, name: str, package: str):
        self.name, self.package = name, package

    def register(self, name: str, target: str, *, data_kind: str, summary: str, paper: str = "") -> ModelSpec:
        """Register model `name`, the class at "module:Class" of this package (e.g. "dcgan:DCGAN")."""
        module, _, qualname = target.partition(":")
        if not module or not qualname:
            raise KerasGenError(f"model {name!r}: target must be 'module:Class', got {target!r}.")
        return _add(ModelSpec(name, f"{self.package}.{module}:{qualname}", self.name, data_kind, summary, paper))


def register(name: str, *, family: str, data_kind: str, summary: str, paper: str = ""):
    """Class decorator for a model defined outside keras_gen/models/ (tests, a user's script):
    registered when its module is imported."""

    def wrap(cls: type) -> type:
        spec = _add(ModelSpec(name, target_of(cls), family, data_kind, summary, paper))
        claim(cls, spec)
        return cls

    return wrap


def target_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def registration_of(cls: type) -> ModelSpec | None:
    """The registration naming this very class, if any (no import: classes are registered by path)."""
    return _BY_TARGET.get(target_of(cls))


def claim(cls: type, spec: ModelSpec) -> None:
    """Give a registered class what its registration says: its name and the data it trains on.
    Called as the class is defined (GenerativeModel.__init_subclass__, or the decorator)."""
    clash = sorted(set(RESERVED) & {f.name for f in dataclasses.fields(cls.Options)})
    if clash:
        raise KerasGenError(f"{cls.__name__}.Options may not define {clash}: they come from the data.")
    cls.registered_name, cls.data_kind = spec.name, spec.data_kind


def import_class_of_checkpoint(config: dict) -> None:
    """Import the registered class a `.keras` file's config names ({"module", "class_name"}), so
    Keras finds it when deserialising; nothing is imported for a class that is not registered
    (Keras then says it cannot locate it)."""
    _load_families()
    spec = _BY_TARGET.get(f"{config.get('module')}:{config.get('class_name')}")
    if spec is not None:
        spec.model_class  # noqa: B018  (importing its module registers it with Keras)


def family_packages() -> list[str]:
    """The family packages under keras_gen/models/: each registers its models when imported."""
    package = importlib.import_module(_MODELS_PACKAGE)
    return [f"{_MODELS_PACKAGE}.{info.name}" for info in pkgutil.iter_modules(package.__path__) if info.ispkg]


def _load_families() -> None:
    global _loaded
    if not _loaded:
        for package in family_packages():
            importlib.import_module(package)
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


def catalog() -> list[dict]:
    """[{name, family, data_kind, summary, paper}] of every registered model, sorted by name, from
    the registrations alone: no model module (and no TensorFlow) is imported."""
    return [_REGISTRY[name].to_json() for name in names()]


def check_option_names(spec: ModelSpec, names) -> None:
    """Every name is an option of the model, or one error listing the options it has."""
    unknown = [name for name in names if name not in spec.defaults]
    if unknown:
        raise KerasGenError(
            f"Model {spec.name!r} has no option {unknown[0]!r}. Its options: "
            + ", ".join(f"{k}={v!r}" for k, v in sorted(spec.defaults.items()))
        )


def parse_options(spec: ModelSpec, pairs: list[str] | None) -> dict:
    """Turn `--set key=value` strings into typed options, checked against the model's Options."""
    from keras_gen.models.base import coerce_option

    fields = spec.option_fields
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise KerasGenError(f"--set expects key=value, got {pair!r}.")
        key, raw = (part.strip() for part in pair.split("=", 1))
        check_option_names(spec, [key])
        options[key] = coerce_option(fields[key], raw)
    return options


def build(name: str, image_size, channels: int, num_classes: int | None = None, **options):
    """Build a registered model with its defaults overridden by `options`."""
    spec = get(name)
    check_option_names(spec, sorted(options))
    return spec.model_class(image_size=image_size, channels=channels, num_classes=num_classes, **options)
