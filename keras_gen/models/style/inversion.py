"""Feature inversion: Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by
Inverting Them" (CVPR).

Given the features Phi_0 = Phi(x_0) of one VGG layer, find a picture with the same features
and natural-image statistics:

    x* = argmin_x  ||Phi(x) - Phi_0||^2 / ||Phi_0||^2  +  lambda_a N_a(x)  +  lambda_TV TV^beta(x)

N_a(x) = mean |x|^a (a = 6) keeps pixels in range and TV^beta(x) = mean ((dx)^2 + (dy)^2)^(beta/2)
(beta = 2) prefers piecewise-smooth pictures (keras_gen.losses.perceptual.alpha_norm,
total_variation). Starting from noise, L-BFGS-B (pixels boxed to [-1, 1]) minimises x*. What comes
back shows what the layer keeps: block1 layers give the photo back almost exactly, block3 keeps
shapes with colours drifting, block4/5 keep object parts in a jumble of texture.
"""

from __future__ import annotations

import numpy as np

from keras_gen.errors import KerasGenError


class InversionObjective:
    """L(x) for one layer's target features; value_and_grad as gatys.optimise expects."""

    def __init__(self, extractor, layer: str, image: np.ndarray, tv_weight: float, alpha_weight: float,
                 alpha: float = 6.0, beta: float = 2.0, compile: bool = True):
        import tensorflow as tf

        self.extractor, self.layer = extractor, layer
        target = extractor(tf.constant(image[None], tf.float32))[layer]
        self.target = tf.constant(target)
        self.norm = tf.constant(max(float(tf.reduce_sum(tf.square(target))), 1e-12))
        self.tv_weight, self.alpha_weight, self.alpha, self.beta = tv_weight, alpha_weight, alpha, beta
        self._vg = tf.function(self._value_and_grad, reduce_retracing=True) if compile else self._value_and_grad

    def losses(self, x):
        import tensorflow as tf

        from keras_gen.losses import perceptual as P

        feature = tf.reduce_sum(tf.square(self.extractor(x)[self.layer] - self.target)) / self.norm
        tv = P.total_variation(x, beta=self.beta)
        a = P.alpha_norm(x, self.alpha)
        return {"loss": feature + self.tv_weight * tv + self.alpha_weight * a, "feature": feature, "tv": tv}

    def _value_and_grad(self, x):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            parts = self.losses(x)
        return parts, tape.gradient(parts["loss"], x)

    def value_and_grad(self, x):
        import tensorflow as tf

        return self._vg(tf.convert_to_tensor(x, tf.float32))


def default_tv_weight(layer: str, arch: str = "vgg19") -> float:
    """Deeper layers keep less detail, so the smoothness prior must do more (as in the paper,
    where lambda_TV grows with depth): 0.01 at block 1, doubling per block."""
    from keras_gen.features.vgg import keras_layer_name

    block = int(keras_layer_name(layer, arch)[5])
    return 0.01 * 2 ** (block - 1)


def invert(image: np.ndarray, layer: str, steps: int = 200, tv_weight: float | None = None,
           alpha_weight: float = 1e-3, arch: str = "vgg19", weights="auto", seed: int = 0, extractor=None,
           optimizer: str = "lbfgs", progress: bool = False, compile: bool | None = None) -> tuple[np.ndarray, list[dict]]:
    """Reconstruct `image` ((H, W, 3) [-1, 1]) from its `layer` features, from noise. Returns
    ((H, W, 3) [-1, 1], history with "loss", "feature" (relative squared error) and "tv")."""
    from keras_gen.features.vgg import keras_layer_name, min_image_side, vgg_extractor
    from keras_gen.models.style import gatys

    keras_layer_name(layer, arch)  # unknown names fail here, before any model is built
    need = min_image_side([layer], arch)
    if min(image.shape[:2]) < need:
        raise KerasGenError(f"image is {image.shape[1]}x{image.shape[0]} px, too small for layer {layer} (needs at "
                            f"least {need} px a side): use a larger image or --size, or a shallower layer")
    if steps < 1:
        raise KerasGenError(f"--steps must be at least 1, got {steps}")
    if extractor is None:
        extractor = vgg_extractor(arch, [layer], weights)
    tv = default_tv_weight(layer, arch) if tv_weight is None else float(tv_weight)
    compile = steps >= 200 if compile is None else compile  # as gatys.StyleSettings.compile
    objective = InversionObjective(extractor, layer, image, tv, alpha_weight, compile=compile)
    x0 = np.random.default_rng(seed).uniform(-0.1, 0.1, (1, *image.shape)).astype(np.float32)
    bar = gatys.Progress(steps, f"invert {layer}") if progress else None
    x, history = gatys.optimise(objective, x0, steps, optimizer, 0.05,
                                on_step=(lambda step, xs, entry: bar(step, entry)) if bar else None)
    if bar and (not history or history[-1]["step"] < steps):
        bar.close()
    if not history:  # L-BFGS may stop before its first step on a flat start
        parts, _ = objective.value_and_grad(x0)
        history = [{"step": 0, **{k: float(v) for k, v in parts.items()}}]
    return x[0], history
