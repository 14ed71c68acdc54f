"""Image-to-image endpoints, run on a training run or an export: `keras-gen swap` underneath.

An image-to-image endpoint is an extra export endpoint (beyond the sampling contract's
`generate`, `serving_default`, `sample` and `network`) that takes exactly one input, of kind
`image`, and returns `images`: faceswap's `swap_a_to_b` and `swap_b_to_a` today. The same
endpoint runs

    on a run:     the Keras function of `model.export_endpoints()`, with the EMA weights when
                  the run kept them (the weights an export carries);
    on an export: its own ONNX file on onnxruntime (`EdgeModel.run_endpoint`; the model marks
                  it `edge=True` and the export's parity check holds it equal to the SavedModel
                  signature), so no TensorFlow is imported.

Input files of any size are centre-cropped to a square and resized to the model's image size
(`keras_gen.images.load_image_file`, the data loaders' path); `load_inputs` says which were.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import IMAGE_SUFFIXES

SAMPLING_ENDPOINTS = ("generate", "serving_default", "sample", "network")
BATCH = 64


def image_to_image(endpoint_inputs: dict) -> list[str]:
    """The names among {endpoint name: its InputSpecs} that take one image and nothing else."""
    return sorted(name for name, specs in endpoint_inputs.items()
                  if name not in SAMPLING_ENDPOINTS and len(specs) == 1 and specs[0].kind == "image")


def swap_endpoint(names: list[str], to: str, model_name: str) -> str:
    """The endpoint `swap_X_to_<to>` among `names`; a clear error when there is none."""
    swaps = {name.rsplit("_to_", 1)[1]: name for name in names if name.startswith("swap_") and "_to_" in name}
    if not swaps:
        raise KerasGenError(f"swap works with faceswap runs and exports; {model_name} has no swap endpoints"
                            + (f" (its image-to-image endpoints: {', '.join(names)}; pass --endpoint NAME)"
                               if names else "") + ".")
    if to not in swaps:
        raise KerasGenError(f"--to must be {' or '.join(sorted(swaps))} (the identity to decode as) for "
                            f"{model_name}, got {to!r}.")
    return swaps[to]


class ImageToImage:
    """The image-to-image endpoints of a run (Keras) or an export (onnxruntime), run alike."""

    def __init__(self, model_name: str, image_shape: tuple, inputs: dict, run_fn, runtime: str):
        self.model_name, self.image_shape, self.runtime = model_name, tuple(image_shape), runtime
        self.inputs = inputs  # {endpoint name: its image InputSpec}
        self._run = run_fn

    @property
    def names(self) -> list[str]:
        return sorted(self.inputs)

    @classmethod
    def from_path(cls, path) -> ImageToImage:
        from keras_gen.core.paths import RUN, path_kind

        return cls.from_run(path) if path_kind(path) == RUN else cls.from_export(path)

    @classmethod
    def from_run(cls, run_dir) -> ImageToImage:
        import tensorflow as tf

        from keras_gen.runs import load_run

        model, config = load_run(run_dir)
        endpoints = model.export_endpoints()
        names = image_to_image({k: ep.inputs for k, ep in endpoints.items()})

        def run(name, images):
            with model.ema_weights():
                return _output_images(endpoints[name].fn(tf.constant(images)), name)

        return cls(config["model"], model.image_shape, {k: endpoints[k].inputs[0] for k in names}, run, "Keras")

    @classmethod
    def from_export(cls, path) -> ImageToImage:
        from keras_gen.core import inputs as kinds
        from keras_gen.core.edge import EdgeModel

        edge = EdgeModel.from_path(path)
        declared = {}
        for name, endpoint in (edge.manifest.get("endpoints") or {}).items():
            try:
                declared[name] = [kinds.InputSpec.from_json(i) for i in endpoint["inputs"]]
            except (KeyError, TypeError):
                continue
        names = image_to_image(declared)

        def run(name, images):
            spec = declared[name][0]
            return _output_images(edge.run_endpoint(name, **{spec.name: images}), name)  # says if no ONNX file

        model_name = edge.metadata.get("model") or edge.manifest.get("model", "this model")
        return cls(model_name, edge.image_shape, {k: declared[k][0] for k in names}, run,
                   f"onnxruntime ({edge.provider})")

    def check(self, name: str) -> str:
        if name not in self.inputs:
            raise KerasGenError(f"{self.model_name} has no image-to-image endpoint {name!r}; "
                                + (f"it has {', '.join(self.names)}." if self.names else "it has none."))
        return name

    def run(self, name: str, images_uint8: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W, C) at the model's size -> the endpoint's uint8 images, in batches."""
        spec = self.inputs[self.check(name)]
        images = spec.check(np.asarray(images_uint8), len(images_uint8))  # as the endpoint's dtype
        return np.concatenate([self._run(name, images[i:i + BATCH]) for i in range(0, len(images), BATCH)])


def _output_images(outputs: dict, name: str) -> np.ndarray:
    from keras_gen.images import to_uint8

    if "images" not in outputs:
        raise KerasGenError(f"endpoint {name!r} returns {', '.join(sorted(outputs))}, not images.")
    images = np.asarray(outputs["images"])
    return images if images.dtype == np.uint8 else to_uint8(images)


def image_files(inputs: list[str]) -> list[Path]:
    """Files and folders (their images, sorted, not recursive) as a list of image files."""
    files = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise KerasGenError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise KerasGenError(f"{path} does not exist: pass image files or folders of images to --input.")
    return files


def load_inputs(files: list[Path], shape) -> tuple[np.ndarray, list[Path]]:
    """uint8 (N, H, W, C) at `shape` (channels converted), and the files that were not already
    that size: centre-cropped to a square and resized."""
    from PIL import Image

    from keras_gen.images import load_image_file

    images, resized = [], []
    for path in files:
        images.append(load_image_file(path, shape)[0])  # reads, checks and converts; clear errors
        with Image.open(path) as im:
            if im.size != (shape[1], shape[0]):
                resized.append(path)
    return np.stack(images), resized


def pair_grid_columns(n: int) -> int:
    """Columns of the input | output grid: up to four pairs a row."""
    return 2 * min(n, 4)


def interleave(inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """(in_0, out_0, in_1, out_1, ...): a grid with an even column count shows input | output pairs."""
    return np.stack([inputs, outputs], axis=1).reshape(-1, *outputs.shape[1:])


def output_names(files: list[Path]) -> list[str]:
    """One PNG name per input, from its stem; repeated stems get -1, -2, ..."""
    names, used = [], set()
    for path in files:
        name, k = f"{path.stem}.png", 0
        while name in used:
            k += 1
            name = f"{path.stem}-{k}.png"
        used.add(name)
        names.append(name)
    return names
