"""`keras-gen stylize --model RUN|EXPORT`: one forward pass of a trained stylizer, instead of an
optimisation (gatys.py).

    fast_style   --style-mix 0.3,0.7 (one weight per trained style; or one style's index, default 0)
    adain        --style IMAGE [--style IMAGE ...] [--style-mix 0.5,0.5] [--alpha 1]

On a run the Keras model runs (with its EMA weights when it kept them); on an export, the ONNX
network on onnxruntime (no TensorFlow). Mixing several AdaIN styles mixes their AdaIN targets
inside the network, which only a run can do: the export takes one style image.
"""

from __future__ import annotations

import time

import numpy as np

from keras_gen.errors import KerasGenError

MODELS = ("fast_style", "adain")


def _load(path):
    """(name, runner) where runner(**inputs) -> float32 images in [-1, 1]; a run or an export."""
    from keras_gen.paths import RUN, path_kind

    if path_kind(path) == RUN:
        from keras_gen.runs import load_run

        model, _ = load_run(path)
        name = model.registered_name
        return name, model, "Keras"
    from keras_gen.edge import EdgeModel

    edge = EdgeModel.from_path(path)
    return edge.metadata.get("model") or edge.manifest.get("model"), edge, f"onnxruntime ({edge.provider})"


def _channels(image: np.ndarray, channels: int) -> np.ndarray:
    from keras_gen.images import PIXEL_RANGE, convert_channels

    return np.asarray(convert_channels(image[None], channels, value_range=PIXEL_RANGE), np.float32)


def stylize_with_model(model_path, content: str, out, styles=(), style_mix=None, alpha: float = 1.0,
                       size: int | None = 256) -> tuple:
    """Stylise `content` (a file or bundled picture, longer side `size`) with a fast_style or adain
    run or export; writes `out` and returns (path, seconds of the forward pass, runtime, model
    name, the style weights used)."""
    from keras_gen.models.style import io
    from keras_gen.models.style.style_images import style_weights

    name, model, runtime = _load(model_path)
    if name not in MODELS:
        raise KerasGenError(f"stylize --model takes a fast_style or adain run or export; {model_path} is {name}.")
    channels = model.channels if hasattr(model, "channels") else model.image_shape[-1]
    image, _ = io.load_float(content, size, "content image")
    image = _channels(image, channels)
    keras_model = hasattr(model, "ema_weights")
    if name == "fast_style":
        if styles:
            raise KerasGenError("a fast_style model was trained for its own styles: pick them with --style-mix "
                                "(weights, or one style's index), not --style.")
        num_styles = model.num_styles if keras_model else next(s.shape[0] for s in model.input_specs
                                                               if s.name == "style")
        mix = style_weights(0 if style_mix is None else (int(style_mix) if str(style_mix).isdigit() else style_mix),
                            num_styles)
        inputs = {"image": image, "style": mix[None]}
    else:
        if not styles:
            raise KerasGenError("adain needs --style IMAGE (any picture; repeat it to mix styles).")
        style_images = [_channels(io.load_float(s, size, "style image")[0], channels) for s in styles]
        mix = style_weights([1.0] * len(styles) if style_mix is None else style_mix, len(styles))
        if not 0.0 <= float(alpha) <= 1.0:
            raise KerasGenError(f"--alpha must be from 0 to 1, got {alpha}.")
        if len(styles) > 1 and not keras_model:
            raise KerasGenError("mixing several styles mixes AdaIN targets inside the network, which needs a run "
                                "(the export takes one style image); pass the run's folder or one --style.")
        inputs = {"content": image, "style": style_images[0], "alpha": np.float32(alpha)}
    start = time.perf_counter()
    if keras_model:
        with model.ema_weights():
            if name == "adain":
                result = np.asarray(model.stylize(image, style_images, mix, alpha))
            else:
                result = np.asarray(model.generate(**inputs))
    else:
        result = model.generate(**inputs)
    seconds = time.perf_counter() - start
    return io.save_float(result[0], out), seconds, runtime, name, mix
