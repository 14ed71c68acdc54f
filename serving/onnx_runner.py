"""Sampling on the edge: run an export's `model.onnx` with onnxruntime, without TensorFlow.

    keras-gen sample exports/dcgan --n 64 --seed 0 --out grid.png

resolves the newest complete version, draws the seeded latents with numpy
(`keras_gen.latents.gaussian_latents`, bit-identical in construction to the SavedModel's
`sample` endpoint), runs the network, and converts with `keras_gen.images.to_uint8`. So the same
(n, seed) gives the same images here as from TF Serving, up to an off-by-one at a rounding
boundary where the runtimes' float results straddle it.

The CUDA execution provider is used when it really works. onnxruntime-gpu lists it as available
on machines with no GPU or no CUDA libraries, tries to load it, logs an error and falls back to
CPU; we check which provider the session actually got and keep its load error quiet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError
from keras_gen.images import save_grid, to_uint8
from keras_gen.latents import gaussian_latents
from serving.onnx_safety import check_onnx_file
from serving.repository import load_manifest, resolve_version

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
MAX_SAMPLES = 65536  # one request; larger runs should loop over seeds


def make_session(model_path: str | Path, providers: list[str] | None = None):
    """An onnxruntime InferenceSession on CUDA when it truly loads, else on CPU, without log spam.

    `providers=None` means CUDA then CPU. An explicit list is passed through as given.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only for this session's own messages
    if providers is not None:
        return ort.InferenceSession(str(model_path), options, providers=list(providers))
    if CUDA in ort.get_available_providers():
        # A missing CUDA/cuDNN library is logged at ERROR by the provider bridge before the
        # fallback; silence the default logger during the attempt, then restore its default.
        ort.set_default_logger_severity(4)
        try:
            session = ort.InferenceSession(str(model_path), options, providers=[CUDA, CPU])
        except Exception:  # a broken CUDA install must not stop CPU sampling
            session = None
        finally:
            ort.set_default_logger_severity(2)
        if session is not None and CUDA in session.get_providers():
            return session
    return ort.InferenceSession(str(model_path), options, providers=[CPU])


class OnnxGenerator:
    """A latent-to-image generator backed by an export's model.onnx, driven by its manifest."""

    def __init__(self, version_dir: Path, manifest: dict, session, chunk_size: int = 256):
        self.version_dir = Path(version_dir)
        self.manifest = manifest
        self.session = session
        if int(chunk_size) < 1:
            raise KerasGenError(f"chunk_size must be at least 1, got {chunk_size}.")
        self.chunk_size = int(chunk_size)
        onnx_info = manifest.get("onnx") or {}
        inputs = onnx_info.get("inputs") or []
        outputs = onnx_info.get("outputs") or []
        if len(inputs) != 1 or not outputs:
            raise KerasGenError(
                f"{version_dir}: its ONNX model takes {len(inputs)} inputs; OnnxGenerator runs single-input "
                "generators (latent -> images). Use an onnxruntime session directly for this model."
            )
        self.input_name = inputs[0]["name"]
        names = [o["name"] for o in outputs]
        self.output_name = "images" if "images" in names else names[0]
        session_inputs = [i.name for i in session.get_inputs()]
        if session_inputs != [self.input_name]:
            raise KerasGenError(f"{version_dir}/model.onnx inputs {session_inputs} do not match its manifest.")
        self.metadata = manifest.get("metadata") or {}

    @classmethod
    def from_path(cls, path: str | Path, providers: list[str] | None = None, chunk_size: int = 256):
        """Load EXPORTS/NAME (newest complete version) or EXPORTS/NAME/VERSION."""
        version_dir = resolve_version(path)
        manifest = load_manifest(version_dir)
        onnx_file = (manifest.get("onnx") or {}).get("file", "model.onnx")
        model_path = check_onnx_file(version_dir / onnx_file, version_dir)
        return cls(version_dir, manifest, make_session(model_path, providers), chunk_size)

    @property
    def provider(self) -> str:
        """The execution provider the session runs on ("CUDAExecutionProvider" or "CPUExecutionProvider")."""
        return self.session.get_providers()[0]

    @property
    def latent_dim(self) -> int:
        if "latent_dim" not in self.metadata:
            raise KerasGenError(f"{self.version_dir}: the manifest records no latent_dim; this export is not a latent generator.")
        return int(self.metadata["latent_dim"])

    def generate(self, z: np.ndarray) -> np.ndarray:
        """(N, latent_dim) float32 latents -> (N, H, W, C) float32 images in [-1, 1], in chunks."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise KerasGenError(f"Expected latents of shape (N, {self.latent_dim}), got {z.shape}.")
        if z.shape[0] == 0:
            raise KerasGenError("Expected at least one latent vector, got an empty batch.")
        parts = []
        for start in range(0, z.shape[0], self.chunk_size):
            chunk = np.ascontiguousarray(z[start : start + self.chunk_size])
            parts.append(self.session.run([self.output_name], {self.input_name: chunk})[0])
        return np.concatenate(parts, axis=0)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """`n` uint8 images (N, H, W, C) for `seed`; the same images as the SavedModel's `sample`."""
        sampler = self.metadata.get("sampler")
        if sampler != "gaussian_latents":
            raise KerasGenError(
                f"{self.version_dir}: this export's sampler is {sampler!r}; the onnxruntime path samples "
                "only models exported with sampler 'gaussian_latents'."
            )
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= MAX_SAMPLES:
            raise KerasGenError(f"--n must be an integer from 1 to {MAX_SAMPLES}, got {n!r}.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise KerasGenError(f"--seed must be an integer, got {seed!r}.")
        z = gaussian_latents(int(n), self.latent_dim, int(seed))
        return to_uint8(self.generate(z))


def sample_to_grid(path: str | Path, n: int, seed: int, out_png: str | Path, providers: list[str] | None = None) -> Path:
    """`keras-gen sample EXPORT --n N --seed S --out grid.png` on onnxruntime; returns the PNG path."""
    images = OnnxGenerator.from_path(path, providers=providers).sample(n, seed)
    return save_grid(images, out_png)
