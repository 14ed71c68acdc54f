"""Style transfer by optimisation: Gatys, Ecker & Bethge 2016, "Image Style Transfer Using
Convolutional Neural Networks" (CVPR), with colour preservation from Gatys, Bethge, Hertzmann &
Shechtman 2016, "Preserving Color in Neural Artistic Style Transfer".

The picture x is the variable. With VGG feature maps F^l(x) (keras_gen.features.vgg), content
image p and style image a:

    L_content = sum_{l in content layers} 1/(C_l H_l W_l) ||F^l(x) - F^l(p)||^2
    L_style   = sum_{l in style layers}   w_l * mean_ij (G^l(x) - A^l)_ij^2,  G^l = F^l^T F^l / (H_l W_l)
    L         = alpha * L_content + beta * L_style + gamma * TV(x)

(keras_gen.losses.perceptual). Several styles mix through their Gram matrices,
A^l = sum_s m_s A^l(a_s) with mixing weights m_s summing to 1. Following the paper: content from
conv4_2, style from conv1_1 .. conv5_1 with equal weights w_l = 1/L, average pooling, and L-BFGS on the
pixels (here L-BFGS-B with the box [-1, 1], through scipy, on a tf.function's value and
gradient); Adam is the alternative. The style loss is divided by its value for the start image
at every scale (`style_scale`), so alpha/beta means the same at any size and layer set: beta/alpha
= 1e4 (default) lets style dominate while content keeps the layout.

Colour preservation ("luminance-only transfer"): content and style go to YIQ; the style's
luminance is matched to the content's mean and standard deviation; the transfer runs on the
luminance (grey images for VGG); the result's Y is recombined with the content's I and Q.

Coarse-to-fine: a large picture is first stylised at half (quarter, ...) size and the upsampled
result starts the next scale, which costs few steps at full size and keeps large structures.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

from keras_gen.errors import KerasGenError

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYERS = ("conv4_2",)
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ).astype(np.float32)


@dataclasses.dataclass
class StyleSettings:
    """Everything `stylize` needs besides the images; the CLI fills it from its flags."""

    alpha: float = 1.0  # content weight
    beta: float = 1e4  # style weight (on the normalised style loss)
    tv_weight: float = 0.0  # total variation (beta = 1) weight, per pixel
    steps: int = 200  # optimiser iterations at the finest scale
    optimizer: str = "lbfgs"  # lbfgs | adam
    learning_rate: float = 0.02  # Adam, in [-1, 1] pixel units
    init: str = "content"  # content | noise
    preserve_colour: bool = False
    scales: int = 0  # coarse-to-fine levels; 0: one per halving above 256 px
    arch: str = "vgg19"
    weights: str | None = "auto"
    pooling: str = "avg"
    style_layers: tuple = STYLE_LAYERS
    content_layers: tuple = CONTENT_LAYERS
    save_every: int = 0  # write intermediates every k steps (0: never)
    compile: bool | None = None  # tf.function the loss and gradient; None: when steps >= 200 (a trace
    # costs seconds, while eager execution adds only milliseconds to a VGG step)
    seed: int = 0

    def check(self) -> None:
        if self.optimizer not in ("lbfgs", "adam"):
            raise KerasGenError(f"--optimizer must be lbfgs or adam, got {self.optimizer!r}")
        if self.init not in ("content", "noise"):
            raise KerasGenError(f"--init must be content or noise, got {self.init!r}")
        if self.steps < 1:
            raise KerasGenError(f"--steps must be at least 1, got {self.steps}")
        if self.alpha < 0 or self.beta < 0 or self.tv_weight < 0:
            raise KerasGenError("content, style and TV weights must be >= 0")


def parse_style_weights(text: str | None, n_styles: int) -> list[float]:
    """'0.7,0.3' -> [0.7, 0.3] normalised to sum 1; None -> equal weights. Wrong length: error."""
    if text is None or text == "":
        return [1.0 / n_styles] * n_styles
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise KerasGenError(f"--style-weights {text!r}: give comma-separated numbers, e.g. 0.7,0.3") from None
    if len(values) != n_styles:
        raise KerasGenError(f"--style-weights has {len(values)} value(s) for {n_styles} --style image(s): "
                            "give one weight per style image")
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise KerasGenError(f"--style-weights {text!r}: weights must be >= 0 and not all zero")
    return [v / sum(values) for v in values]


# -- colour ---------------------------------------------------------------------------------------
def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """[-1, 1] RGB -> YIQ with Y in [0, 1] (numpy, any leading shape)."""
    return ((np.asarray(image, np.float32) + 1.0) / 2.0) @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(yiq, np.float32) @ YIQ_TO_RGB.T) * 2.0 - 1.0, -1.0, 1.0)


def luminance_image(image: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
    """The luminance of a [-1, 1] RGB image as a grey [-1, 1] RGB image; with `like`, matched
    to the mean and standard deviation of `like`'s luminance (the paper's histogram matching)."""
    y = rgb_to_yiq(image)[..., 0]
    if like is not None:
        ref = rgb_to_yiq(like)[..., 0]
        y = (y - y.mean()) / (y.std() + 1e-6) * ref.std() + ref.mean()
    return np.repeat(np.clip(y * 2.0 - 1.0, -1.0, 1.0)[..., None], 3, axis=-1)


def recombine_colour(stylised: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The stylised picture's luminance with the content's chroma (I, Q)."""
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(stylised)[..., 0]
    return yiq_to_rgb(yiq)


# -- the objective ----------------------------------------------------------------------------------
class StyleObjective:
    """L(x) = alpha L_content + beta L_style / style_scale + gamma TV(x) for one image size.

    `extractor` maps (1, H, W, 3) [-1, 1] images to {layer: activation} for every content and
    style layer. Content features and mixed style Grams are computed once, here."""

    def __init__(self, extractor, content, styles, mix, settings: StyleSettings):
        import tensorflow as tf

        from keras_gen.losses import perceptual as P

        self.extractor, self.s = extractor, settings
        self.content_layers, self.style_layers = tuple(settings.content_layers), tuple(settings.style_layers)
        want = extractor(tf.constant(content[None], tf.float32))
        self.content_targets = {k: tf.constant(want[k]) for k in self.content_layers}
        grams = {k: 0.0 for k in self.style_layers}
        for image, m in zip(styles, mix):
            feats = extractor(tf.constant(image[None], tf.float32))
            for k in self.style_layers:
                grams[k] = grams[k] + m * P.gram_matrix(feats[k])
        self.target_grams = {k: tf.constant(v) for k, v in grams.items()}
        # w_l = 1 / L on the raw Gram errors, as in the paper. (Weighting by 1 / mean(A_l^2), each
        # layer's relative error, was tried: with the offline HED weights it gave noisier textures
        # and style transfers that lose the content at the same beta.)
        self.layer_weights = {k: tf.constant(1.0 / len(grams)) for k in self.target_grams}
        self.style_scale = 1.0
        compile = settings.compile if settings.compile is not None else settings.steps >= 200
        self._vg = _loss_function(extractor, self.content_layers, self.style_layers, compile)

    def _coefficients(self):
        import tensorflow as tf

        return tf.constant([self.s.alpha, self.s.beta, self.s.tv_weight, self.style_scale], tf.float32)

    def losses(self, x):
        """{"loss", "content", "style" (divided by style_scale), "tv"} at x (1, H, W, 3)."""
        return self.value_and_grad(x)[0]

    def value_and_grad(self, x):
        import tensorflow as tf

        x = tf.convert_to_tensor(x, tf.float32)
        return self._vg(x, self.content_targets, self.target_grams, self.layer_weights, self._coefficients())

    def calibrate(self, x0) -> None:
        """Divide the style loss by its value at the start image, so beta is scale-free."""
        self.style_scale = 1.0
        raw = float(self.value_and_grad(x0)[0]["style"])
        self.style_scale = max(raw, 1e-12)


_COMPILED: dict = {}


def _loss_function(extractor, content_layers: tuple, style_layers: tuple, compile: bool = True):
    """One tf.function (value, gradient) per extractor and layer choice, shared by every
    objective: the targets and weights are arguments, so a new image pair or scale costs no
    new trace (tracing VGG with its gradient takes seconds)."""
    import tensorflow as tf

    if not compile:  # eager: no trace (seconds) to pay, a few ms more per step; for tiny runs
        return _eager_loss_function(extractor, content_layers, style_layers)
    key = (id(extractor), content_layers, style_layers)
    if key in _COMPILED and _COMPILED[key][0] is extractor:
        return _COMPILED[key][1]
    if len(_COMPILED) >= 8:
        _COMPILED.clear()
    _COMPILED[key] = (extractor, tf.function(_eager_loss_function(extractor, content_layers, style_layers),
                                             reduce_retracing=True))
    return _COMPILED[key][1]


def _eager_loss_function(extractor, content_layers: tuple, style_layers: tuple):
    import tensorflow as tf

    from keras_gen.losses import perceptual as P

    def value_and_grad(x, content_targets, target_grams, layer_weights, coefficients):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = extractor(x)
            content = (P.content_loss({k: feats[k] for k in content_layers}, content_targets)
                       if content_layers else tf.constant(0.0))
            style = P.style_loss(feats, target_grams, layer_weights) / coefficients[3]
            tv = P.total_variation(x, beta=1.0)
            total = coefficients[0] * content + coefficients[1] * style + coefficients[2] * tv
        parts = {"loss": total, "content": content, "style": style, "tv": tv}
        return parts, tape.gradient(total, x)

    return value_and_grad


def optimise(objective: StyleObjective, x0: np.ndarray, steps: int, optimizer: str = "lbfgs",
             learning_rate: float = 0.02, on_step=None) -> tuple[np.ndarray, list[dict]]:
    """Minimise the objective from x0 (1, H, W, 3) within [-1, 1]; returns (x, history).

    history[i] = {"step", "loss", "content", "style", "tv"} after step i + 1. `on_step(step, x,
    record)` is called after each step (progress, intermediate images)."""
    import tensorflow as tf

    history: list[dict] = []
    shape = x0.shape

    def record(step, parts, x):
        entry = {"step": step, **{k: float(v) for k, v in parts.items()}}
        history.append(entry)
        if on_step is not None:
            on_step(step, x, entry)

    if optimizer == "adam":
        import keras

        x = keras.Variable(x0.astype(np.float32), name="picture")
        opt = keras.optimizers.Adam(learning_rate)
        for step in range(1, steps + 1):
            parts, grad = objective.value_and_grad(tf.convert_to_tensor(x))
            opt.apply_gradients([(grad, x)])
            x.assign(keras.ops.clip(x, -1.0, 1.0))
            record(step, parts, keras.ops.convert_to_numpy(x))
        return keras.ops.convert_to_numpy(x), history

    from scipy.optimize import minimize

    last = {}

    def fun(flat):
        x = tf.constant(flat.reshape(shape), tf.float32)
        parts, grad = objective.value_and_grad(x)
        last["parts"] = parts
        return float(parts["loss"]), grad.numpy().astype(np.float64).ravel()

    def callback(flat):
        record(len(history) + 1, last["parts"], flat.reshape(shape).astype(np.float32))

    result = minimize(fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                      bounds=[(-1.0, 1.0)] * x0.size, callback=callback,
                      options={"maxiter": steps, "maxfun": int(steps * 1.5) + 5, "maxcor": 20})
    return result.x.reshape(shape).astype(np.float32), history


# -- the whole procedure ----------------------------------------------------------------------------
def _resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    import tensorflow as tf

    return tf.image.resize(image[None], hw, method="bicubic", antialias=True).numpy()[0].clip(-1, 1)


def scale_sizes(hw: tuple[int, int], scales: int, min_side: int) -> list[tuple[int, int]]:
    """Coarse-to-fine sizes, finest last: halvings of hw (scales 0: one level per halving above
    256 px on the longer side), none smaller than min_side."""
    if scales <= 0:
        scales = 1 + max(0, math.ceil(math.log2(max(hw) / 256.0)))
    sizes = []
    for k in reversed(range(scales)):
        h, w = round(hw[0] / 2**k), round(hw[1] / 2**k)
        if min(h, w) >= max(min_side, 16):
            sizes.append((h, w))
    return sizes or [tuple(hw)]


class Progress:
    """One updating line on stderr: step, losses, seconds per step."""

    def __init__(self, total: int, label: str, stream=None, hide=("tv",)):
        self.total, self.label, self.start = total, label, time.time()
        self.stream, self.hide = stream or sys.stderr, ("step", "scale", *hide)

    def __call__(self, step, entry):
        rate = (time.time() - self.start) / max(step, 1)
        terms = " ".join(f"{k} {v:.4g}" for k, v in entry.items() if k not in self.hide)
        line = f"\r{self.label} {step}/{self.total} {terms} ({rate:.2f} s/step)"
        self.stream.write(line)
        if step >= self.total:
            self.stream.write("\n")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def stylize(content: np.ndarray, styles: list[np.ndarray], mix: list[float] | None = None,
            settings: StyleSettings | None = None, extractor=None, progress: bool = False,
            intermediates: str | Path | None = None) -> tuple[np.ndarray, list[dict]]:
    """Stylise `content` ((H, W, 3) [-1, 1]) with `styles` mixed by `mix`; returns ((H, W, 3), history).

    `intermediates`: a path pattern like "out.png"; with settings.save_every k, the picture after
    every k steps is written beside it as out_s{scale}_{step:04d}.png."""
    from keras_gen.features.vgg import min_image_side, vgg_extractor

    s = settings or StyleSettings()
    s.check()
    if not styles:
        raise KerasGenError("give at least one style image")
    mix = mix if mix is not None else [1.0 / len(styles)] * len(styles)
    if len(mix) != len(styles):
        raise KerasGenError(f"{len(mix)} style weight(s) for {len(styles)} style image(s): give one per style")
    layers = tuple(dict.fromkeys(tuple(s.content_layers) + tuple(s.style_layers)))
    need = min_image_side(layers, s.arch)
    deepest = max(layers, key=lambda n: min_image_side([n], s.arch))
    for what, image in [("content image", content)] + [(f"style image {i + 1}", a) for i, a in enumerate(styles)]:
        if min(image.shape[:2]) < need:
            raise KerasGenError(f"{what} is {image.shape[1]}x{image.shape[0]} px, too small for layer {deepest} "
                                f"(needs at least {need} px a side): use a larger image or --size")
    if extractor is None:
        extractor = vgg_extractor(s.arch, layers, s.weights, pooling=s.pooling)
    original = content
    if s.preserve_colour:
        styles = [luminance_image(a, like=content) for a in styles]
        content = luminance_image(content)
    rng = np.random.default_rng(s.seed)
    sizes = scale_sizes(content.shape[:2], s.scales, need)
    x, history = None, []
    for level, hw in enumerate(sizes):
        c = _resize(content, hw)
        st = [_resize(a, _fit(a.shape[:2], max(hw))) for a in styles]
        objective = StyleObjective(extractor, c, st, mix, s)
        if x is None:
            x = c[None] if s.init == "content" else rng.uniform(-0.5, 0.5, (1, *hw, 3)).astype(np.float32)
        else:
            x = _resize(x[0], hw)[None]
        objective.calibrate(x.astype(np.float32))
        steps = s.steps if level == len(sizes) - 1 else max(1, s.steps // 2)
        bar = Progress(steps, f"scale {level + 1}/{len(sizes)} {hw[1]}x{hw[0]}") if progress else None

        def on_step(step, xs, entry, level=level):
            if bar:
                bar(step, entry)
            if intermediates and s.save_every and step % s.save_every == 0:
                from keras_gen.models.style.io import save_float

                out = Path(intermediates)
                pic = recombine_colour(xs[0], _resize(original, xs.shape[1:3])) if s.preserve_colour else xs[0]
                save_float(pic, out.with_name(f"{out.stem}_s{level + 1}_{step:04d}.png"))

        x, part = optimise(objective, x, steps, s.optimizer, s.learning_rate, on_step)
        if bar and (not part or part[-1]["step"] < steps):
            bar.close()  # L-BFGS stopped early (converged)
        history.extend({**h, "scale": level + 1} for h in part)
    result = x[0]
    if s.preserve_colour:
        result = recombine_colour(result, _resize(original, result.shape[:2]))
    return result, history


def _fit(hw, longer: int) -> tuple[int, int]:
    """(h, w) scaled so the longer side is `longer`."""
    scale = longer / max(hw)
    return max(1, round(hw[0] * scale)), max(1, round(hw[1] * scale))
