"""Projection onto a trained generator's manifold and editing along attribute directions:
Zhu, Krähenbühl, Shechtman & Efros 2016, "Generative Visual Manipulation on the Natural Image
Manifold" (section 3.1, projecting an image; section 3.2, moving on the manifold).

Projection finds the latent whose image is closest to a real one (their eq. 2, with a prior term
that keeps z where the generator was trained):

    z* = argmin_z  1/P ||G(z) - x||^2  +  lambda 1/J ||z||^2          P pixels, J latent dimensions

minimised with Adam from the best of K seeded draws of N(0, I) (the paper's optimisation
projection; K restarts because the loss is not convex), or started from an encoder's mean E(x)
where the model has one (a VAE: the paper's hybrid, "encoder then optimise"). The projection is
G(z*): what the generator can draw nearest to x, so its PSNR against x says how well the model
covers that image.

An attribute direction comes from labelled latents: draw N latents, let a judge label the images
they make (the data set's domain classifier: a digit's class; on `shapes`, colour and shape), and
take the difference of means

    d(a) = mean{z_i : judge(G(z_i)) = a}  -  mean{z_i}

the average move from "any sample" to "a sample judged a" (the averaging of DCGAN's vector
arithmetic, Radford et al. 2016, section 6.3.2). Editing moves a projected latent along it,
z* + alpha d(a) / ||d(a)|| sqrt(J) (alpha = 1: one prior standard deviation per dimension on
average), and draws the path.

Every other input of the generator is held fixed as the latent pictures hold it (a label given
or 0, options at their defaults): keras_gen/pictures.py. Models: one Gaussian latent vector, no
sampling loop (DCGAN, WGAN, the VAE's decoder, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError

MAX_RESTARTS, MAX_STEPS = 64, 10_000


@dataclass
class Projection:
    latent: np.ndarray  # z* (N, J)
    images: np.ndarray  # G(z*), float32 (N, H, W, C) in [-1, 1]
    psnr: np.ndarray  # dB per image, against the target (max value 2: the [-1, 1] range)
    start_psnr: np.ndarray  # dB of the starting latent's image (the encoder's, or the best draw's)
    losses: list  # the objective's batch mean every step


def _whole(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise KerasGenError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}.")
    return int(value)


def fixed_inputs(model, latent, n: int, label=None, seed: int = 0) -> dict:
    """The model's request inputs other than the latent, for n images: the label (given, or 0),
    options at their defaults, codes at one draw from `seed`."""
    from keras_gen.pictures import request_specs

    specs = request_specs(model)
    labels = [s for s in specs if s.kind == "label"]
    if label is not None and not labels:
        raise KerasGenError(f"--label is for a class-conditional model; {type(model).__name__} takes none.")
    given = {latent.name: np.zeros((n, *latent.shape), np.float32)}
    for spec in labels:
        given[spec.name] = spec.check(0 if label is None else label, n)
    drawn = kinds.resolve_inputs(specs, 1, seed)
    given.update({s.name: np.repeat(drawn[s.name], n, axis=0) for s in specs if s.kind == "code"})
    values = kinds.resolve_inputs(specs, n, seed, given)
    return {k: v for k, v in values.items() if k != latent.name}


def check_target_images(model, images) -> np.ndarray:
    """Images to project as float32 [-1, 1] at the model's image shape: the wrong size is an error."""
    from keras_gen.images import from_uint8

    images = np.asarray(images)
    want = tuple(model.image_shape)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or tuple(images.shape[1:]) != want:
        raise KerasGenError(f"projection needs images of the model's shape {want[0]}x{want[1]}x{want[2]}, got "
                            f"{'x'.join(map(str, images.shape[1:]))}: resize the image (keras-gen project reads a "
                            "file at the model's size).")
    if images.dtype == np.uint8:
        return from_uint8(images)
    images = images.astype(np.float32)
    if not np.isfinite(images).all() or images.min() < -1.0001 or images.max() > 1.0001:
        raise KerasGenError("images to project are uint8 or float32 in [-1, 1].")
    return images


def _psnr(a, b) -> np.ndarray:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(4.0 / np.maximum(mse, 1e-12))


def project(model, images, steps: int = 300, restarts: int = 8, learning_rate: float = 0.05,
            prior_weight: float = 1e-3, label=None, seed: int = 0, use_encoder: bool = True) -> Projection:
    """z* for each image (module docstring); `images` uint8 or [-1, 1], at the model's shape."""
    import keras
    import tensorflow as tf

    from keras_gen.core.latents import gaussian_latents
    from keras_gen.pictures import check_latent_model

    latent = check_latent_model(model)
    steps = _whole(steps, "--steps", 0, MAX_STEPS)
    restarts = _whole(restarts, "--restarts", 1, MAX_RESTARTS)
    target = check_target_images(model, images)
    n, dim = len(target), latent.shape[0]
    fixed = fixed_inputs(model, latent, n, label, seed)

    def draw(z):
        return model.generate(**{latent.name: z}, **fixed)

    if use_encoder and hasattr(model, "encode"):  # the paper's hybrid: start at the encoder's mean
        start = np.asarray(model.encode(target)[0] if label is None else model.encode(target, label=label)[0],
                           np.float32)
    else:  # the best of K seeded draws per image
        candidates = gaussian_latents(n * restarts, dim, seed).reshape(restarts, n, dim)
        errors = np.stack([np.mean((np.asarray(draw(c)) - target) ** 2, axis=(1, 2, 3)) for c in candidates])
        start = candidates[np.argmin(errors, axis=0), np.arange(n)]
    start_psnr = _psnr(np.asarray(draw(start)), target)

    z = tf.Variable(start, dtype=tf.float32)
    optimizer = keras.optimizers.Adam(learning_rate)
    target_t = tf.constant(target)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            per_image = tf.reduce_mean(tf.square(tf.cast(draw(z), tf.float32) - target_t), axis=[1, 2, 3])
            loss = tf.reduce_mean(per_image + prior_weight * tf.reduce_mean(tf.square(z), axis=1))
        optimizer.apply_gradients([(tape.gradient(loss, z), z)])
        return loss

    losses = [float(step()) for _ in range(steps)]
    found = z.numpy()
    result = np.asarray(draw(found), np.float32)
    return Projection(found, result, _psnr(result, target), start_psnr, losses)


def attribute_direction(model, judge, attribute: str, n: int = 2000, seed: int = 0, label=None,
                        min_count: int = 3) -> tuple[np.ndarray, dict]:
    """(d(a) (J,), {attribute: count, "all": n}): the mean latent of samples the judge labels
    `attribute` (every word of it in the sample's tag), minus the mean of all N (module
    docstring). `judge(uint8 images) -> tags`."""
    from keras_gen.core.latents import gaussian_latents
    from keras_gen.images import to_uint8
    from keras_gen.pictures import check_latent_model

    latent = check_latent_model(model)
    n = _whole(n, "--n", 2, 1_000_000)
    z = gaussian_latents(n, latent.shape[0], seed)
    tags = []
    for start in range(0, n, 256):
        part = z[start:start + 256]
        images = model.generate(**{latent.name: part}, **fixed_inputs(model, latent, len(part), label, seed))
        tags += list(judge(to_uint8(np.asarray(images))))
    tags = np.asarray([str(t) for t in tags])
    wanted = set(str(attribute).split())  # "red" matches the judge's "red circle" and "red star"
    if not wanted:
        raise KerasGenError("--direction names an attribute, e.g. 7 (digits) or \"red circle\" (shapes).")
    chosen = np.asarray([wanted <= set(t.split()) for t in tags])
    if chosen.sum() < min_count:
        seen = ", ".join(f"{t} ({c})" for t, c in zip(*np.unique(tags, return_counts=True)))
        raise KerasGenError(f"only {int(chosen.sum())} of {n} samples were judged {attribute!r} (need {min_count}); "
                            f"the judge saw: {seen}. Pick one of those, or pass a larger --n.")
    return (z[chosen].mean(0) - z.mean(0)).astype(np.float32), {str(attribute): int(chosen.sum()), "all": n}


def edit(model, latent_codes, direction, amounts, label=None, seed: int = 0) -> np.ndarray:
    """uint8 images (N, len(amounts), H, W, C): each latent moved by alpha d / ||d|| sqrt(J)."""
    from keras_gen.images import to_uint8
    from keras_gen.pictures import check_latent_model

    latent = check_latent_model(model)
    direction = np.asarray(direction, np.float32)
    norm = float(np.linalg.norm(direction))
    if not np.isfinite(norm) or norm == 0:
        raise KerasGenError("the attribute direction is zero: its samples average to the mean latent.")
    unit = direction / norm * np.sqrt(direction.size)
    z = np.asarray(latent_codes, np.float32)
    amounts = np.asarray(amounts, np.float32).reshape(-1)
    moved = (z[:, None, :] + amounts[None, :, None] * unit).reshape(-1, z.shape[-1])
    images = model.generate(**{latent.name: moved}, **fixed_inputs(model, latent, len(moved), label, seed))
    return to_uint8(np.asarray(images)).reshape(len(z), len(amounts), *np.asarray(images).shape[1:])


def classifier_judge(classifier, class_names=None):
    """A judge naming each image's predicted class (its name, or its index as text)."""
    def judge(images):
        from keras_gen.images import from_uint8

        predicted = classifier.predict(from_uint8(np.asarray(images)))
        return [class_names[int(p)] if class_names else str(int(p)) for p in predicted]

    return judge


__all__ = ["Projection", "attribute_direction", "check_target_images", "classifier_judge", "edit", "fixed_inputs",
           "project"]
