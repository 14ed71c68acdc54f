"""Pictures of a latent space: traversals and the 2-D manifold (beside `latent_interpolation`,
which callbacks.py keeps for the end of training).

They work for any model whose sampling request has one Gaussian vector latent and samples
with one `generate` call (vae, cvae at a fixed class, dcgan, cdcgan, ...), a Keras model or an
export's `keras_gen.core.edge.EdgeModel` alike: latents go through `model.generate`, every other
input is held fixed (a label at `label`, options at their defaults, an InfoGAN code at one
draw), so only z moves.

    latent_traversal   one row per latent dimension: z_d set to `steps` values over
                       [-span, span], the other dimensions at the base latent (Higgins et al.
                       2017, beta-VAE, fig. 1-2). A model that encodes (vae, cvae) ranks the
                       dimensions by their mean KL(q(z_d | x) || N(0, 1)) over real images, so
                       the rows show the dimensions the encoder uses (Burda et al. 2016 call the
                       others inactive); other models take the first ones.
    latent_manifold    for a 2-D latent: decode z on a grid of Gaussian quantiles, the picture
                       of Kingma & Welling 2014, fig. 4 ("linearly spaced coordinates on the unit
                       square transformed through the inverse CDF of the Gaussian").

Each returns a `LatentPicture`: uint8 images row by row, the latents they decode, and the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.errors import KerasGenError

BATCH = 256
RANK_IMAGES = 256  # real images the KL ranking averages over


@dataclass
class LatentPicture:
    images: np.ndarray  # uint8 (rows * cols, H, W, C), row by row
    latents: np.ndarray  # float32 (rows * cols, J): what each image decodes
    rows: int
    cols: int
    row_dims: list = field(default_factory=list)  # traversal: the dimension each row varies
    values: np.ndarray | None = None  # traversal: the column values; manifold: the quantiles
    row_kl: list | None = None  # traversal ranked by KL: each row's mean KL in nats

    def save(self, path) -> Path:
        from keras_gen.images import save_grid

        return save_grid(self.images, path, ncols=self.cols)


def model_name(model) -> str:
    if hasattr(model, "metadata"):  # an EdgeModel
        return model.metadata.get("model") or "this export"
    return getattr(model, "registered_name", None) or type(model).__name__.lower()


def request_specs(model) -> list:
    return model.request_specs() if hasattr(model, "request_specs") else list(model.input_specs)


def _loops(model) -> bool:
    sampler = getattr(model, "sampler", None)
    return (sampler() if callable(sampler) else sampler) is not None


def vector_latent(model):
    """The model's one Gaussian vector latent InputSpec, or None (several, none, a loop sampler)."""
    latents = [s for s in request_specs(model) if s.kind == "latent"]
    if len(latents) != 1 or len(latents[0].shape) != 1 or latents[0].distribution != "gaussian" or _loops(model):
        return None
    return latents[0]


def check_latent_model(model):
    latent = vector_latent(model)
    if latent is None:
        takes = ", ".join(f"{s.name} ({s.kind})" for s in request_specs(model))
        raise KerasGenError(f"latent pictures need a model whose sample request has one Gaussian latent vector "
                            f"and no sampling loop; {model_name(model)} takes {takes}"
                            + (" and samples in a loop" if _loops(model) else "") + ".")
    return latent


def _decode(model, latent, z: np.ndarray, label=None, seed: int = 0) -> np.ndarray:
    """uint8 images of latents z (N, J), every other input fixed: the label, options at their
    defaults, codes at one draw from `seed`."""
    from keras_gen.images import to_uint8

    specs = request_specs(model)
    label_specs = [s for s in specs if s.kind == "label"]
    if label is not None and not label_specs:
        raise KerasGenError(f"--label needs a class-conditional model; {model_name(model)} takes none.")
    n = len(z)
    conditions = {latent.name: z}
    for spec in label_specs:  # one class for the whole picture: 0 unless given
        conditions[spec.name] = spec.check(0 if label is None else label, 1)
        if len(conditions[spec.name]) != 1:
            raise KerasGenError(f"pass one class with --label, got {label!r}.")
    drawn = kinds.resolve_inputs(specs, 1, seed)
    conditions.update({s.name: np.repeat(drawn[s.name], n, axis=0) for s in specs if s.kind == "code"})
    values = kinds.resolve_inputs(specs, n, seed, conditions)
    chunks = []
    for start in range(0, n, BATCH):
        part = {k: (v[start:start + BATCH] if np.ndim(v) else v) for k, v in values.items()}
        chunks.append(to_uint8(np.asarray(model.generate(**part))))
    return np.concatenate(chunks)


def latent_activity(model, images, labels=None) -> np.ndarray:
    """Mean KL(q(z_d | x) || N(0, 1)) per latent dimension (J,) in nats over `images` (uint8 or
    [-1, 1] floats; a cvae needs their labels): how much the encoder uses each dimension."""
    if not hasattr(model, "encode"):
        raise KerasGenError(f"{model_name(model)} has no encoder: its latent dimensions cannot be ranked by KL.")
    mean, log_var = model.encode(images) if labels is None else model.encode(images, label=labels)
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return (0.5 * (mean**2 + np.exp(log_var) - 1.0 - log_var)).mean(axis=0)


def latent_traversal(model, dims=8, steps: int = 9, span: float = 3.0, base=None, label=None,
                     images=None, labels=None, seed: int = 0) -> LatentPicture:
    """One row per latent dimension, z_d over `steps` values in [-span, span], the other
    dimensions at the base latent.

    dims:   how many rows (the first ones, or the most active by KL when `images` are given and
            the model encodes), or a list of dimension indices.
    base:   None: the prior's mean (zeros); an int: the latent drawn from that seed (the first
            sample of `keras-gen sample --seed S`); or a vector (J,).
    label:  the class of a class-conditional model (default 0), held along every row.
    images: real images (and `labels` for a cvae) to rank the dimensions by mean KL.
    """
    latent = check_latent_model(model)
    size = latent.shape[0]
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise KerasGenError(f"--steps must be a whole number from 2 up, got {steps!r}.")
    if not (isinstance(span, (int, float)) and np.isfinite(span) and span > 0):
        raise KerasGenError(f"--span must be a positive number, got {span!r}.")
    row_kl = None
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if dims < 1:
            raise KerasGenError(f"--dims must be at least 1, got {dims}.")
        if images is not None:
            activity = latent_activity(model, images, labels)
            order = [int(d) for d in np.argsort(-activity, kind="stable")[:dims]]
            row_kl = [float(activity[d]) for d in order]
        else:
            order = list(range(min(int(dims), size)))
    else:
        order = [int(d) for d in dims]
        if not order or any(not 0 <= d < size for d in order):
            raise KerasGenError(f"latent dimensions must be from 0 to {size - 1}, got {list(dims)!r}.")
    if base is None:
        z0 = np.zeros(size, np.float32)
    elif isinstance(base, (int, np.integer)) and not isinstance(base, bool):
        from keras_gen.core.latents import gaussian_latents

        z0 = gaussian_latents(1, size, int(kinds.check_request(1, int(base))[1]))[0]
    else:
        z0 = np.asarray(base, np.float32).reshape(-1)
        if z0.shape != (size,) or not np.isfinite(z0).all():
            raise KerasGenError(f"the base latent must be {size} finite numbers, got shape {z0.shape}.")
    values = np.linspace(-span, span, steps, dtype=np.float32)
    z = np.repeat(z0[None], len(order) * steps, axis=0)  # (rows * steps, J)
    for r, d in enumerate(order):
        z[r * steps:(r + 1) * steps, d] = values
    return LatentPicture(_decode(model, latent, z, label, seed), z, len(order), steps, order, values, row_kl)


def gaussian_quantiles(steps: int) -> np.ndarray:
    """The standard normal's quantiles at (i + 1/2) / steps, i = 0 .. steps - 1 (finite at the ends)."""
    normal = NormalDist()
    return np.asarray([normal.inv_cdf((i + 0.5) / steps) for i in range(steps)], np.float32)


def latent_manifold(model, steps: int = 20, label=None) -> LatentPicture:
    """A 2-D latent's manifold: steps x steps images of z = (q_j, q_i) at Gaussian quantiles,
    z_1 rising along each row (left to right) and z_2 falling down the rows (as a plot's y axis)."""
    latent = check_latent_model(model)
    if latent.shape[0] != 2:
        raise KerasGenError(f"the manifold picture needs a 2-D latent; {model_name(model)} has {latent.shape[0]} "
                            "dimensions. Train with --set latent_dim=2, or draw a traversal (keras-gen traverse).")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 2 <= steps <= 100:
        raise KerasGenError(f"--steps must be a whole number from 2 to 100, got {steps!r}.")
    q = gaussian_quantiles(steps)
    z1, z2 = np.meshgrid(q, q[::-1])  # (steps, steps): row i has z_2 = q[steps - 1 - i]
    z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    return LatentPicture(_decode(model, latent, z, label), z, steps, steps, values=q)


def code_specs(model):
    """(the categorical code, the uniform codes) of a model's request, or (None, None) when it has
    not one categorical code beside uniform ones (InfoGAN's c_cat and c_cont)."""
    specs = request_specs(model)
    categorical = [s for s in specs if s.kind == "code" and s.distribution == "categorical" and not s.shape]
    uniform = [s for s in specs if s.kind == "code" and s.distribution == "uniform"]
    if len(categorical) != 1 or not uniform or _loops(model):
        return None, None
    return categorical[0], uniform


def code_traversal(model, steps: int = 9, span: float = 2.0, seed: int = 0) -> LatentPicture:
    """InfoGAN's figure 2: for each continuous code dimension, one row per category, that
    dimension over `steps` values in [-span, span] (the paper goes to +-2, past the training
    range (-1, 1)), the other continuous dimensions at 0 and z at one draw from `seed`; blocks of
    rows one continuous dimension after another. `latents` holds each image's continuous code."""
    from keras_gen.images import to_uint8

    categorical, uniform = code_specs(model)
    if categorical is None:
        takes = ", ".join(f"{s.name} ({s.kind})" for s in request_specs(model))
        raise KerasGenError(f"a code traversal needs a model with one categorical code and continuous codes "
                            f"(infogan); {model_name(model)} takes {takes}.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise KerasGenError(f"--steps must be a whole number from 2 up, got {steps!r}.")
    if not (isinstance(span, (int, float)) and np.isfinite(span) and span > 0):
        raise KerasGenError(f"--span must be a positive number, got {span!r}.")
    values = np.linspace(-span, span, steps, dtype=np.float32)
    k = categorical.num_classes
    rows, row_dims, conditions = [], [], {}
    for code in uniform:
        for d in range(code.shape[0]):
            for category in range(k):
                rows.append((code.name, d, category))
                row_dims.append(f"{code.name}[{d}] at {categorical.name}={category}")
    n = len(rows) * steps
    conditions[categorical.name] = np.repeat([r[2] for r in rows], steps).astype(np.int32)
    for code in uniform:
        grid = np.zeros((n, code.shape[0]), np.float32)
        for r, (name, d, _) in enumerate(rows):
            if name == code.name:
                grid[r * steps:(r + 1) * steps, d] = values
        conditions[code.name] = grid
    specs = request_specs(model)
    drawn = kinds.resolve_inputs(specs, 1, seed)  # one z (and one of anything else random) for the picture
    conditions.update({s.name: np.repeat(drawn[s.name], n, axis=0) for s in specs if s.name not in conditions
                       and s.random})
    feed = kinds.resolve_inputs(specs, n, seed, conditions)
    chunks = []
    for start in range(0, n, BATCH):
        part = {name: (v[start:start + BATCH] if np.ndim(v) else v) for name, v in feed.items()}
        chunks.append(to_uint8(np.asarray(model.generate(**part))))
    continuous = np.concatenate([conditions[c.name] for c in uniform], axis=1)
    return LatentPicture(np.concatenate(chunks), continuous, len(rows), steps, row_dims, values)


def encoder_images(model, config: dict, n: int = RANK_IMAGES):
    """(images, labels) to rank a run's latent dimensions by: the first `n` test images of its
    data (labels for a class-conditional encoder); (None, None) when the model does not encode."""
    if not hasattr(model, "encode"):
        return None, None
    from keras_gen.data import load_arrays

    images, labels, _ = load_arrays(config["data"], "test", image_size=config["image_size"],
                                    channels=config["channels"], limit=n, seed=config["seed"],
                                    data_dir=config.get("data_dir"))
    needs_labels = any(s.kind == "label" for s in model.encode_specs())
    return images, (labels.astype(np.int32) if needs_labels and labels is not None else None)
