"""The TensorFlow-free core (keras_gen/core/): every module imports and runs with TensorFlow,
Keras and tf2onnx blocked, no import statement of it names them (function bodies included), and
the import paths that predate the core still give the same names without loading TensorFlow."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "keras_gen" / "core"
BLOCKED = ("tensorflow", "keras", "tf2onnx", "tf_keras")

# The import paths of before the core, and the names each exposed then (its TF twins included).
OLD_PATHS = {
    "keras_gen.errors": ["KerasGenError"],
    "keras_gen.fileio": ["PARTIAL_PATTERN", "atomic_path", "partial_path", "partial_pid", "pid_alive",
                         "remove_stale_temporaries", "write_json_atomic"],
    "keras_gen.paths": ["EXPORT", "RUN", "RUN_CONFIG", "path_kind"],
    "keras_gen.images": ["IMAGE_SUFFIXES", "LUMA", "PIXEL_RANGE", "SAMPLE_ARRAY_SUFFIX", "check_image_path",
                         "check_samples_path", "convert_channels", "from_uint8", "load_image_file", "make_grid",
                         "save_grid", "save_image", "save_samples", "to_pixel_values", "to_uint8"],
    "keras_gen.latents": ["PARITY_IMAGE_STREAM", "SAMPLER_STREAM_BASE", "TRUNCATION_RANGE", "_uniforms_np",
                          "categorical_codes", "gaussian_latents", "slerp", "truncate", "uniform_codes",
                          "_uniforms_tf", "categorical_codes_tf", "gaussian_latents_tf", "uniform_codes_tf"],
    "keras_gen.inputs": ["InputSpec", "KINDS", "MAX_SAMPLES", "MAX_SEED", "RANDOM_KINDS", "SAMPLE_COUNT",
                         "SAMPLE_SEED", "check_request", "choice", "code", "condition_specs", "image",
                         "image_noise", "label", "latent", "option", "resolve_conditions", "resolve_inputs",
                         "sample_count_and_seed", "streams", "value_of_choice",
                         "check_request_tf", "resolve_inputs_tf"],
    "keras_gen.samplers": ["DIRECT", "get_sampler", "register_sampler", "sample_with_progress", "takes_progress",
                           "Sampler"],
    "keras_gen.samplers.ddim": ["GUIDANCE_RANGE", "DiffusionSampler"],
    "keras_gen.samplers.pixelcnn": ["FEEDS", "TEMPERATURE_RANGE", "PixelCNNSampler"],
    "keras_gen.models.diffusion.schedulers": ["NUMPY", "PREDICTIONS", "SAMPLERS", "SCHEDULES", "DiffusionScheduler",
                                              "beta_schedule", "TF"],
    "keras_gen.edge": ["CPU", "CUDA", "EdgeModel", "MANIFEST_NAME", "check_onnx_file", "list_versions",
                       "make_session", "read_manifest", "resolve_version", "run_onnx", "verify_manifest",
                       "write_manifest"],
    "keras_gen.edge.manifest": ["FORMAT", "FORMAT_VERSION", "MANIFEST_NAME", "is_version_name", "read_manifest",
                                "verify_manifest", "write_manifest"],
    "keras_gen.edge.onnx_safety": ["check_onnx_file"],
    "keras_gen.edge.repository": ["list_versions", "resolve_version"],
    "keras_gen.edge.runner": ["CPU", "CUDA", "EdgeModel", "make_session", "onnx_file_for", "run_onnx"],
    "keras_gen.edge.tuning": ["count_ops", "session_options", "tuned_model"],
}
# Names that are TF twins: on the old paths they load TensorFlow when first asked for, not before.
TWINS = {"_uniforms_tf", "categorical_codes_tf", "gaussian_latents_tf", "uniform_codes_tf", "check_request_tf",
         "resolve_inputs_tf", "Sampler", "DiffusionSampler", "PixelCNNSampler", "TF"}

# Run in a fresh interpreter: a finder at the head of sys.meta_path refuses every blocked package
# and records the attempt (a module that caught the ImportError would still be caught out).
BLOCKING_PRELUDE = f"""
import importlib, json, pkgutil, sys

BLOCKED = {BLOCKED!r}
attempts = []


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            raise ImportError(f"{{name}} is blocked: the TensorFlow-free core must not import it")
        return None


sys.meta_path.insert(0, Blocker())


def heavy():
    return sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)


def fail(name):
    raise ImportError(f"cannot import {{name}}")
"""


def _run(script: str, tmp_path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", BLOCKING_PRELUDE + script, str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _core_modules() -> list[str]:
    """Every module of the core by its file, so a module the package walk missed fails the test."""
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_core_module_imports_and_the_edge_code_runs_with_tensorflow_blocked(tmp_path):
    result = _run("""
import keras_gen.core
walked = ["keras_gen.core"] + [m.name for m in pkgutil.walk_packages(keras_gen.core.__path__, "keras_gen.core.",
                                                                     onerror=fail)]
for name in walked:
    importlib.import_module(name)

# What the edge runs, in this interpreter: request resolution, both loop samplers over numpy
# networks (the diffusion scheduler with them), the image helpers and file decoding.
import numpy as np
from pathlib import Path
from keras_gen.core import inputs as kinds
from keras_gen.core.decoding import load_image_file
from keras_gen.core.images import save_image, to_uint8
from keras_gen.core.samplers import get_sampler

diffusion = get_sampler("diffusion", {"scheduler": {"timesteps": 10}, "height": 4, "width": 4, "channels": 1,
                                      "num_classes": 3})
specs = [kinds.InputSpec("noise", "latent", (4, 4, 1), distribution="gaussian"), kinds.label(3),
         *diffusion.option_specs()]
values = kinds.resolve_inputs(specs, 2, 5, {"guidance": 2.0, "steps": 4})
x = diffusion.run_numpy(lambda feeds: {"prediction": 0.5 * feeds["x"]}, values, 2, 5)
pixelcnn = get_sampler("pixelcnn", {"height": 2, "width": 2, "categories": 4})
codes = pixelcnn.run_numpy(lambda feeds: {"logits": np.zeros((len(feeds["images"]), 2, 2, 1, 4), np.float32)},
                           kinds.resolve_inputs(pixelcnn.option_specs(), 3, 0), 3, 0)
picture = Path(sys.argv[1]) / "picture.png"
save_image(to_uint8(x[0]), picture, upscale=4)  # 16 px: above the 8 px minimum
loaded = load_image_file(picture, (None, None, 3))
levels = sorted(set(np.round(codes.astype(np.float64), 4).ravel().tolist()))
print(json.dumps({"walked": walked, "attempts": attempts, "heavy": heavy(), "diffusion": list(x.shape),
                  "finite": bool(np.isfinite(x).all()), "codes": levels, "loaded": list(loaded.shape)}))
""", tmp_path)
    assert result["attempts"] == [] and result["heavy"] == []
    assert sorted(result["walked"]) == _core_modules()  # every file of keras_gen/core, none skipped
    assert {"keras_gen.core.inputs", "keras_gen.core.samplers.ddim", "keras_gen.core.edge.runner",
            "keras_gen.core.decoding"} <= set(result["walked"])
    assert result["diffusion"] == [2, 4, 4, 1] and result["finite"]
    assert set(result["codes"]) <= {-1.0, -0.3333, 0.3333, 1.0} and len(result["codes"]) > 1  # the 4 levels
    assert result["loaded"] == [1, 16, 16, 3]  # gray file, read as the RGB input asks


def test_the_old_import_paths_import_without_tensorflow_and_load_it_only_for_a_twin(tmp_path):
    result = _run(f"""
old = {sorted(OLD_PATHS)!r}
for name in old:
    importlib.import_module(name)
before = {{"attempts": list(attempts), "heavy": heavy()}}
import keras_gen.latents
try:
    keras_gen.latents.gaussian_latents_tf
    twin = "loaded"
except ImportError as err:
    twin = str(err)
print(json.dumps({{"before": before, "twin": twin, "asked": attempts}}))
""", tmp_path)
    assert result["before"] == {"attempts": [], "heavy": []}
    assert "tensorflow is blocked" in result["twin"] and result["asked"][0] == "tensorflow"


def _imported_modules(tree: ast.Module, module: str, is_package: bool):
    """(line, absolute module name) of every import statement anywhere in the tree, function
    bodies included; `from x import y` also yields x.y (y may be a module), relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call):  # importlib.import_module("...") / __import__("...") with a literal
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                yield node.lineno, str(node.args[0].value)


def test_no_core_module_imports_tensorflow_or_the_tf_side_anywhere():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 15
    problems = []
    for path in files:
        parts = path.relative_to(REPO).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        for line, name in _imported_modules(ast.parse(path.read_text(), str(path)), module, is_package):
            root = name.split(".")[0]
            if root in BLOCKED:
                problems.append(f"{path.relative_to(REPO)}:{line} imports {name}")
            # keras_gen itself (its package __init__ pins the backend only) and keras_gen.core.*; any
            # other keras_gen module is the TF side, which may import TensorFlow.
            elif root == "keras_gen" and name != "keras_gen" and not (name + ".").startswith("keras_gen.core."):
                problems.append(f"{path.relative_to(REPO)}:{line} imports {name}, outside the core")
    assert problems == []


def test_the_static_check_sees_imports_inside_function_bodies():
    source = "def f():\n    if True:\n        import tensorflow as tf\n    from keras import ops\n" \
             "    from ..images import x\n    importlib.import_module('tf2onnx')\n"
    found = [name for _, name in _imported_modules(ast.parse(source), "keras_gen.core.edge.runner", False)]
    assert {"tensorflow", "keras", "keras.ops", "keras_gen.core.images", "tf2onnx"} <= set(found)


@pytest.mark.parametrize("path", sorted(OLD_PATHS))
def test_the_old_import_paths_expose_their_names(path):
    import importlib

    module = importlib.import_module(path)
    missing = [name for name in OLD_PATHS[path] if not hasattr(module, name)]
    assert missing == []


def test_the_old_paths_are_the_core_and_its_twins():
    import importlib

    from keras_gen.core import errors, inputs, latents, samplers, schedulers
    from keras_gen.core.edge import runner
    from keras_gen.core_tf import inputs as inputs_tf
    from keras_gen.core_tf import latents as latents_tf
    from keras_gen.core_tf import samplers as samplers_tf
    from keras_gen.core_tf import schedulers as schedulers_tf

    assert importlib.import_module("keras_gen.errors") is errors
    assert importlib.import_module("keras_gen.edge.runner") is runner  # one module: a patch of either is seen
    assert importlib.import_module("keras_gen").KerasGenError is errors.KerasGenError
    old = {name: importlib.import_module(f"keras_gen.{name}") for name in ("inputs", "latents", "samplers")}
    assert old["inputs"].InputSpec is inputs.InputSpec and old["inputs"].resolve_inputs is inputs.resolve_inputs
    assert old["inputs"].resolve_inputs_tf is inputs_tf.resolve_inputs_tf
    assert old["latents"].gaussian_latents is latents.gaussian_latents
    assert old["latents"].gaussian_latents_tf is latents_tf.gaussian_latents_tf
    assert old["samplers"].get_sampler is samplers.get_sampler and old["samplers"].Sampler is samplers_tf.Sampler
    assert importlib.import_module("keras_gen.models.diffusion.schedulers").TF is schedulers_tf.TF
    assert importlib.import_module("keras_gen.models.diffusion.schedulers").NUMPY is schedulers.NUMPY
    # A model's sampler has both loops; the edge finds the numpy one by name.
    assert issubclass(samplers_tf.DiffusionSampler, samplers.get_sampler("diffusion", _DIFFUSION).__class__)
    assert not hasattr(samplers.get_sampler("diffusion", _DIFFUSION), "run_tf")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        old["inputs"].nothing  # noqa: B018


_DIFFUSION = {"scheduler": {"timesteps": 4}, "height": 2, "width": 2, "channels": 1}
