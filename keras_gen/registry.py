"""Model name -> model class, so the CLI, training, export and evaluation find models by name.

A family registers the class itself:

    @register("dcgan", family="adversarial", paper="Radford et al. 2016", description="...")
    class DCGAN(GenerativeModel):
        @dataclass
        class Options(ModelOptions):
            latent_dim: int = option(100, "the paper's z size", min=1)

Its options, their defaults, types and bounds come from that one `Options` dataclass: they are
the `--set key=value` flags, the model's `get_config`, and what `keras-gen models` prints.
Every module under keras_gen/models/ is imported on the first lookup, so a new family is one new
file and no edit elsewhere.

`catalog()` lists the registered models *without importing TensorFlow*: it reads the model
files' source (the `@register` call and the `Options` fields are literals), so `keras-gen models`
answers at once. A test holds the catalog equal to the imported registry.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path

from keras_gen.errors import KerasGenError

_MODELS_PACKAGE = "keras_gen.models"
RESERVED = ("image_size", "channels", "num_classes")  # set from the data, not by --set


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model_class: type
    description: str
    family: str
    paper: str

    @property
    def defaults(self) -> dict:
        return {f.name: f.default for f in dataclasses.fields(self.model_class.Options)}

    @property
    def help(self) -> dict:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(self.model_class.Options)}

    @property
    def data_kind(self) -> str:
        return self.model_class.data_kind

    @property
    def exports(self) -> tuple[str, ...]:
        from keras_gen.models.base import GenerativeModel

        loop = self.model_class.sampler is not GenerativeModel.sampler
        # A model adding endpoints in export_endpoints() names them in `extra_exports`.
        return ("serving_default", "sample", "network" if loop else "generate",
                *getattr(self.model_class, "extra_exports", ()))


_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


def register(name: str, description: str, family: str = "", paper: str = ""):
    """Class decorator: register a GenerativeModel subclass under `name`."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].model_class.__qualname__ != cls.__qualname__:
            raise KerasGenError(f"Two models are registered as {name!r}: {_REGISTRY[name].model_class} and {cls}.")
        clash = sorted(set(RESERVED) & {f.name for f in dataclasses.fields(cls.Options)})
        if clash:
            raise KerasGenError(f"{cls.__name__}.Options may not define {clash}: they come from the data.")
        cls.registered_name = name
        _REGISTRY[name] = ModelSpec(name, cls, description, family, paper)
        return cls

    return wrap


def _model_files() -> list[Path]:
    """Every Python file under keras_gen/models/ but the base class and package markers: the
    files `catalog()` reads and `family_modules()` imports, so the two always agree. A family
    folder needs no __init__.py (it imports as a namespace package, and setuptools packages it)."""
    root = Path(__file__).parent / "models"
    return sorted(p for p in root.rglob("*.py")
                  if p.name != "__init__.py" and p != root / "base.py" and "__pycache__" not in p.parts)


def family_modules() -> list[str]:
    """Every module under keras_gen/models/ except the base class: each may register models."""
    root = Path(__file__).parent / "models"
    return [".".join((_MODELS_PACKAGE, *p.relative_to(root).with_suffix("").parts)) for p in _model_files()]


def _load_families() -> None:
    global _loaded
    if not _loaded:
        for module in family_modules():
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
    from keras_gen.models.base import coerce_option, option_fields

    fields = option_fields(spec.model_class.Options)
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise KerasGenError(f"--set expects key=value, got {pair!r}.")
        key, raw = (part.strip() for part in pair.split("=", 1))
        check_option_names(spec, [key])
        options[key] = coerce_option(fields[key], raw)
    return options


def build(name: str, image_size: int, channels: int, num_classes: int | None = None, **options):
    """Build a registered model with its defaults overridden by `options`."""
    spec = get(name)
    check_option_names(spec, sorted(options))
    return spec.model_class(image_size=image_size, channels=channels, num_classes=num_classes, **options)


# -- the catalog, read from source: `keras-gen models` without importing TensorFlow -----------
def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError):
        return None


def _option_fields(class_node: ast.ClassDef) -> dict[str, tuple]:
    """{name: (default, help)} of the annotated fields in an Options class body."""
    out = {}
    for item in class_node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
            value = item.value
            if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "option":
                keywords = {k.arg: k.value for k in value.keywords}  # option(default=..., help=...) too
                default = value.args[0] if value.args else keywords.get("default")
                help_node = value.args[1] if len(value.args) > 1 else keywords.get("help")
                out[item.target.id] = (None if default is None else _literal(default),
                                       (None if help_node is None else _literal(help_node)) or "")
            else:
                out[item.target.id] = (_literal(value), "")
    return out


def catalog() -> list[dict]:
    """[{name, description, family, paper, data_kind, options: {name: (default, help)}}], sorted by
    name, read from the source of every family module (no import)."""
    owners: dict[str, tuple] = {}  # model class name -> (own Options fields, base owner name, data_kind)
    registered = []
    for path in [Path(__file__).parent / "models" / "base.py", *_model_files()]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            if node.name == "ModelOptions":
                owners["ModelOptions"] = (_option_fields(node), None, None)
                continue
            inner = next((n for n in node.body if isinstance(n, ast.ClassDef) and n.name == "Options"), None)
            base = None
            if inner is not None and inner.bases:  # class Options(DCGAN.Options) or (ModelOptions)
                first = inner.bases[0]
                base = first.value.id if isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name) \
                    else getattr(first, "id", None)
            elif node.bases:  # no Options of its own: the parent model's
                base = getattr(node.bases[0], "id", None)
            data_kind = next((_literal(n.value) for n in node.body if isinstance(n, ast.Assign)
                              and any(getattr(t, "id", None) == "data_kind" for t in n.targets)), None)
            owners[node.name] = (_option_fields(inner) if inner is not None else {}, base, data_kind)
            call = next((d for d in node.decorator_list if isinstance(d, ast.Call)
                         and getattr(d.func, "id", None) == "register"), None)
            if call is not None:
                registered.append((node.name, call))

    def resolve(owner, key):  # walk up the Options bases: options merge, data_kind inherits
        chain = []
        while owner in owners and owner not in chain:
            chain.append(owner)
            owner = owners[owner][1]
        if key == "options":
            merged = {}
            for name in reversed(chain):
                merged.update(owners[name][0])
            return merged
        return next((owners[n][2] for n in chain if owners[n][2]), "images")

    entries = []
    for class_name, call in registered:
        kwargs = {k.arg: _literal(k.value) for k in call.keywords}
        entries.append({"name": _literal(call.args[0]),
                        "description": _literal(call.args[1]) if len(call.args) > 1 else kwargs.get("description", ""),
                        "family": kwargs.get("family", ""), "paper": kwargs.get("paper", ""),
                        "data_kind": resolve(class_name, "data_kind"), "options": resolve(class_name, "options")})
    return sorted(entries, key=lambda e: e["name"])
