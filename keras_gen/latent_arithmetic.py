"""Vector arithmetic on averaged latents: Radford, Metz & Chintala 2016 (DCGAN), section 6.3.2
and figure 7, "smiling woman - neutral woman + neutral man = smiling man".

Single latents do not add up reliably; the paper averages the z of three samples per concept
first. Here the concepts are tags that a judge gives generated images (on `shapes`: the shape
the domain classifier sees and the colour measured from the pixels), so the demonstration runs
offline, end to end, and is scored by the same judge:

    1. draw N latents z_i ~ N(0, I) from a seed and generate x_i = G(z_i);
    2. tag each image, t_i = judge(x_i), and average per tag:  z_bar(c) = mean_{i: t_i = c} z_i;
    3. z* = sum_k s_k z_bar(c_k)  for an expression  c_1 - c_2 + c_3  (signs s_k in {+1, -1});
    4. decode z* and `samples` neighbours z* + sigma eps (the paper shows 8 samples around its
       result with uniform noise of scale 0.25 added) and score the share the judge tags as the
       target concept, beside that concept's share among plain samples (its base rate).

    "red circle - red square + blue square" ~ "blue circle": shape and colour each move along
    their own direction only if the generator's latent space separates them linearly.

`concept_means`, `combine` and `parse_expression` are plain numpy; `latent_arithmetic` runs the
whole recipe on any model with one Gaussian latent vector (keras_gen.pictures.check_latent_model),
with every other input held fixed as the latent pictures do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from keras_gen.errors import KerasGenError


def parse_expression(expression: str) -> list[tuple[int, str]]:
    """"red circle - red square + blue square" -> [(+1, "red circle"), (-1, "red square"),
    (+1, "blue square")]: concepts are words joined by spaces, separated by + or -."""
    parts = [p.strip() for p in re.split(r"([+-])", str(expression))]
    terms, sign = [], 1
    for part in parts:
        if part in ("+", "-"):
            sign = 1 if part == "+" else -1
        elif part:
            terms.append((sign, " ".join(part.split())))
            sign = 1
    if len(terms) < 2:
        raise KerasGenError(f"a latent expression needs two or more concepts joined by + or -, e.g. "
                            f"'red circle - red square + blue square'; got {expression!r}.")
    return terms


def concept_means(latent_codes: np.ndarray, tags, min_count: int = 1) -> dict[str, tuple[np.ndarray, int]]:
    """{tag: (mean latent (J,), how many were averaged)} over the tags with at least `min_count`."""
    latent_codes = np.asarray(latent_codes, np.float64)
    tags = np.asarray(tags)
    if len(tags) != len(latent_codes):
        raise KerasGenError(f"{len(latent_codes)} latents but {len(tags)} tags.")
    means = {}
    for tag in np.unique(tags):
        members = tags == tag
        if members.sum() >= min_count:
            means[str(tag)] = (latent_codes[members].mean(axis=0), int(members.sum()))
    return means


def combine(means: dict, terms: list[tuple[int, str]]) -> np.ndarray:
    """z* = sum_k s_k z_bar(c_k) (float32 (J,)); a concept no sample showed is one clear error."""
    missing = [c for _, c in terms if c not in means]
    if missing:
        seen = ", ".join(sorted(means)) or "none"
        raise KerasGenError(f"no generated sample was tagged {', '.join(map(repr, missing))}; draw more samples "
                            f"(--n) or pick concepts the model draws (seen: {seen}).")
    return np.sum([sign * means[concept][0] for sign, concept in terms], axis=0).astype(np.float32)


@dataclass
class ArithmeticResult:
    expression: str
    target: str
    latent: np.ndarray  # z* (J,)
    images: np.ndarray  # uint8 (samples, H, W, C): G(z*) first, then its noisy neighbours
    tags: list  # the judge's tag of each image
    hit_rate: float  # share of `images` tagged `target`
    base_rate: float  # share of the N plain samples tagged `target`
    counts: dict  # concept -> how many latents its mean averages


def latent_arithmetic(model, judge, expression: str, target: str, n: int = 2000, seed: int = 0,
                      samples: int = 16, noise: float = 0.25, min_count: int = 3) -> ArithmeticResult:
    """The recipe of the module docstring. `judge(uint8 images) -> list of tags`; `target` is
    the concept the expression should land on."""
    from keras_gen.core.latents import gaussian_latents
    from keras_gen.pictures import _decode, check_latent_model

    latent = check_latent_model(model)
    terms = parse_expression(expression)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise KerasGenError(f"--n must be a positive whole number, got {n!r}.")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise KerasGenError(f"--samples must be a positive whole number, got {samples!r}.")
    z = gaussian_latents(n, latent.shape[0], seed)  # (N, J)
    tags = list(judge(_decode(model, latent, z, seed=seed)))
    means = concept_means(z, tags, min_count)
    result = combine(means, terms)
    # The paper's neighbourhood: z* itself, then z* + noise (uniform in [-noise, noise], seeded).
    jitter = np.random.default_rng(seed).uniform(-noise, noise, (samples - 1, latent.shape[0])).astype(np.float32)
    around = np.concatenate([result[None], result[None] + jitter])
    images = _decode(model, latent, around, seed=seed)
    decoded_tags = list(judge(images))
    return ArithmeticResult(expression, target, result, images, decoded_tags,
                            float(np.mean([t == target for t in decoded_tags])),
                            float(np.mean([t == target for t in tags])),
                            {c: means[c][1] for _, c in terms})


def shapes_judge(classifier):
    """A judge for `shapes` images: "<colour> <shape>", the shape from the domain classifier's
    prediction and the colour the palette colour nearest the mean of the foreground pixels
    (those clearly brighter than the dark background; keras_gen.data.shapes)."""
    from keras_gen.data.shapes import BACKGROUND, COLOURS, SHAPES
    from keras_gen.images import from_uint8

    palette = np.asarray(list(COLOURS.values()), np.float64)  # (8, 3)
    names = list(COLOURS)

    def judge(images: np.ndarray) -> list[str]:
        images = np.asarray(images)
        shapes = classifier.predict(from_uint8(images))
        pixels = images.reshape(len(images), -1, 3).astype(np.float64)
        foreground = np.abs(pixels - np.asarray(BACKGROUND)).sum(-1) > 120  # (N, P): well off the background
        totals = (pixels * foreground[..., None]).sum(1) / np.maximum(foreground.sum(1, keepdims=True), 1)
        colour = np.argmin(((totals[:, None, :] - palette[None]) ** 2).sum(-1), axis=1)
        return [f"{names[c]} {SHAPES[s]}" if f.any() else "blank" for c, s, f in zip(colour, shapes, foreground)]

    return judge
