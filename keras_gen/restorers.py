"""The restoration models behind `keras-gen upscale` and `keras-gen inpaint`, run alike on a
training run (Keras, TensorFlow imported) and on an export (onnxruntime, no TensorFlow):

    Upscaler.from_path(PATH)      a super-resolution model (vdsr, srresnet, srgan, espcn): its
                                  trained scales, tile margin and channels from the model's
                                  export metadata (the manifest's, on an export), and
                                  `upscale(images, scale)` through `generate` (model.onnx)
    Completer.from_path(PATH)     an inpainting network (`inpaint`: `generate(image, mask)`), or a
                                  diffusion model (ddpm, cddpm) completing by RePaint
                                  (keras_gen/core/samplers/repaint.py: the tf.while_loop on a
                                  run, the numpy loop over model.onnx on an export)

The image rules (tiles, colour, masks, canvases) are keras_gen/core/upscaling.py and
keras_gen/core/inpainting.py.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core.errors import KerasGenError

SR_MODELS = "vdsr, srresnet, srgan, espcn"


def _load(path):
    """(runtime, model or EdgeModel, metadata, name): a run's Keras model or an export's edge model."""
    from keras_gen.core.paths import RUN, path_kind

    if path_kind(path) == RUN:
        from keras_gen.commands.common import quiet_tensorflow

        quiet_tensorflow()
        from keras_gen.runs import load_run

        model, config = load_run(path)
        return "Keras", model, model.export_metadata(), config["model"]
    from keras_gen.core.edge import EdgeModel

    return _loaded(EdgeModel.from_path(path))


def _loaded(model):
    """(runtime, model, metadata, name) of a model already loaded: a Keras model of a run, or an
    export's EdgeModel."""
    if callable(getattr(model, "export_metadata", None)):
        return "Keras", model, model.export_metadata(), model.registered_name or type(model).__name__
    return f"onnxruntime ({model.provider})", model, model.metadata, model.metadata.get("model", "this model")


class Upscaler:
    """A super-resolution model of a run or an export (module docstring)."""

    def __init__(self, path=None, loaded=None):
        self.runtime, self.model, metadata, self.name = loaded or _load(path)
        facts = metadata.get("upscale")
        if not facts:
            raise KerasGenError(f"upscale works with super-resolution models ({SR_MODELS}); {self.name} is not one.")
        self.scales = tuple(int(s) for s in facts["scales"])
        self.margin = int(facts["tile_margin"])
        self.min_side = int(facts["min_image_side"])
        self.channels = int(metadata["channels"])
        self.takes_scale = any(s.name == "scale" for s in self._input_specs())

    from_path = classmethod(lambda cls, path: cls(path))

    @classmethod
    def of(cls, model) -> "Upscaler":
        """The Upscaler of a model already loaded (a run's Keras model or an export's EdgeModel)."""
        return cls(loaded=_loaded(model))

    def _input_specs(self):
        specs = self.model.input_specs
        return specs() if callable(specs) else specs

    def check_scale(self, scale: int | None) -> int:
        if scale is None:
            return self.scales[0]
        if scale not in self.scales:
            raise KerasGenError(f"{self.name} was trained for x{', x'.join(map(str, self.scales))}, not x{scale}: pass "
                                f"--scale {' or '.join(map(str, self.scales))}.")
        return int(scale)

    def upscale(self, images: np.ndarray, scale: int) -> np.ndarray:
        """float [-1, 1] (N, h, w, C) at the model's channels -> (N, s h, s w, C) float."""
        inputs = {"image": np.asarray(images, np.float32)}
        if self.takes_scale:
            inputs["scale"] = np.int32(scale)
        if self.runtime == "Keras":
            with self.model.ema_weights():
                return np.asarray(self.model.generate(**inputs))
        return np.asarray(self.model.generate(**inputs))


class Completer:
    """An inpainting network or a diffusion model of a run or an export (module docstring)."""

    def __init__(self, path):
        self.runtime, self.model, metadata, self.name = _load(path)
        self.metadata = metadata
        sampler = (metadata.get("sampler") or {}).get("name")
        if metadata.get("inpaint"):
            self.kind, self.min_side = "network", int(metadata["inpaint"]["min_image_side"])
        elif sampler == "diffusion":
            self.kind, self.min_side = "diffusion", 1
        else:
            raise KerasGenError(f"inpaint works with inpainting networks (inpaint) and diffusion models (ddpm, cddpm); "
                                f"{self.name} is neither.")
        self.image_shape = tuple(int(d) for d in metadata["image_shape"])
        self.channels = int(metadata["channels"])

    from_path = classmethod(lambda cls, path: cls(path))

    @property
    def fixed_size(self) -> bool:
        """A diffusion model completes images of its own size; the network takes any size."""
        return self.kind == "diffusion"

    def request_specs(self, resample: int = 1) -> list:
        """What a diffusion completion's request takes (its noise, sampler options, label...)."""
        from keras_gen.core.samplers.repaint import RePaintSampler

        sampler = RePaintSampler.from_diffusion(self.metadata["sampler"]["config"], resample)
        specs = self.model.input_specs() if self.runtime == "Keras" else self.model.input_specs
        return [*specs, *sampler.option_specs()], sampler

    def complete(self, image: np.ndarray, hole: np.ndarray, n: int = 1, seed: int = 0, conditions=None,
                 resample: int = 1, progress=None) -> np.ndarray:
        """float [-1, 1] image (1, H, W, C) and 0/1 hole (1, H, W, 1) at what the model takes ->
        float completions (n, H, W, C); the known pixels are the image's."""
        if self.kind == "network":
            masks = np.where(hole > 0, 1.0, -1.0).astype(np.float32)
            images, masks = np.repeat(image, n, axis=0), np.repeat(masks, n, axis=0)
            if self.runtime == "Keras":
                with self.model.ema_weights():
                    return np.asarray(self.model.generate(images, masks))
            return np.asarray(self.model.generate(image=images, mask=masks))
        from keras_gen.core import inputs as kinds

        if self.runtime == "Keras":
            from keras_gen.core_tf.repaint import complete_keras

            with self.model.ema_weights():
                return complete_keras(self.model, np.repeat(image, n, 0), np.repeat(hole, n, 0), n, seed, conditions,
                                      resample, progress)
        specs, sampler = self.request_specs(resample)
        n, seed = kinds.check_request(n, seed)
        values = kinds.resolve_inputs(specs, n, seed, conditions)
        values.update(image=np.repeat(image, n, 0).astype(np.float32), mask=np.repeat(hole, n, 0).astype(np.float32))
        return sampler.run_numpy(self.model.run_network, values, n, seed, progress=progress)


__all__ = ["Completer", "Upscaler"]
