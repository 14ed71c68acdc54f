"""What the super-resolution models share: their data (patches of any image source, degraded the
papers' way: keras_gen/data/degradations.py), their request (a low-resolution image of any size),
previews, and the facts `keras-gen upscale` reads from a run or an export.

A model says `scales()` (those it was trained for), whether its network takes the image
`interpolated` to the output size first (VDSR) or the low-resolution image itself, and its
`receptive_radius()`: how many input pixels around a pixel its output there depends on, so that
tiles overlapping by that much give exactly the output of the whole image (keras_gen/core/
upscaling.py). `image_size` is the high-resolution patch the model trains on (`--image-size 96`
with x4: 24 px inputs); the data kind "degraded" draws those patches and their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_gen import inputs as kinds
from keras_gen.data.degradations import Degradation
from keras_gen.errors import KerasGenError
from keras_gen.layers.upsampling import UPSAMPLE_METHODS
from keras_gen.models.base import PREVIEW_ROWS, GenerativeModel, ModelOptions, _nearest_resize, option

SCALES = (2, 3, 4)
# Below this side an input is refused (the decoders refuse smaller files; a few pixels upscaled
# are a blur): the smallest tile of `keras-gen upscale`.
MIN_INPUT_SIDE = 8


@dataclass
class SuperResolutionOptions(ModelOptions):
    """The options of a network built for one scale."""

    scale: int = option(4, "the up-scaling factor the network is built and trained for (x2, x3, x4); the "
                           "training patch (--image-size) must be a multiple of it", choices=SCALES)
    upsample: str = option("subpixel", "up-sampling: subpixel (depth-to-space after a convolution; the papers'), "
                           "transpose (transposed convolution: checkerboards) or resize (nearest, then a "
                           "convolution)", choices=UPSAMPLE_METHODS)
    augment_patches: bool = option(True, "flip and rotate each training patch (EDSR's 8 dihedral transforms)")


class SuperResolutionModel(GenerativeModel):
    """The base of the super-resolution models (module docstring)."""

    square_only = False
    interpolated_input = False  # VDSR: the network sees the bicubic-upsampled image

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.degradation()  # a patch size that is no multiple of the scale(s) fails here, not at the first batch
        self.data_shapes()

    # -- scales and shapes ---------------------------------------------------------------------
    def scales(self) -> tuple[int, ...]:
        """The scales the model was trained for (a request for another is refused)."""
        return (int(self.options.scale),)

    @property
    def default_scale(self) -> int:
        return min(self.scales())

    def degradation(self) -> Degradation:
        return Degradation(self.scales(), interpolate=self.interpolated_input,
                           augment=bool(self.options.augment_patches))

    def data_shapes(self) -> tuple:
        """(input (H, W, C), target (H, W, C)): the low-resolution (or interpolated) patch and the
        high-resolution patch of `image_size`."""
        return self.degradation().input_shape(self.image_shape), self.image_shape

    def image_input_shape(self, spec) -> tuple:
        """The request's image is the low-resolution image: the target's sides / the default scale."""
        if spec.name == "image":
            height, width, channels = self.image_shape
            return height // self.default_scale, width // self.default_scale, channels
        return super().image_input_shape(spec)

    def check_scale(self, scale) -> int:
        if isinstance(scale, bool) or int(scale) != scale or int(scale) not in self.scales():
            raise KerasGenError(f"{self.registered_name} was trained for x{', x'.join(map(str, self.scales()))}; "
                                f"it cannot upscale x{scale}.")
        return int(scale)

    def receptive_radius(self) -> int:
        """Input pixels on each side of a pixel that its output depends on (at least)."""
        raise NotImplementedError

    @property
    def min_image_side(self) -> int:
        return MIN_INPUT_SIDE

    # -- the request: a low-resolution image of any size ----------------------------------------------
    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="image")]

    def restore(self, inputs):
        """The data's inputs (a batch of the "degraded" kind's first side) -> outputs in [-1, 1]:
        what the preview shows and the loss compares with the targets."""
        return self.generate(image=inputs)

    def upscale(self, images, scale: int | None = None) -> np.ndarray:
        """float [-1, 1] low-resolution images (N, h, w, C) -> (N, s h, s w, C), s the trained
        scale (or `scale`, one of those the model was trained for)."""
        images = np.asarray(images, np.float32)
        scale = self.check_scale(self.default_scale if scale is None else scale)
        if min(images.shape[1:3]) < self.min_image_side:
            raise KerasGenError(f"the image is {images.shape[1]}x{images.shape[2]} px: {self.registered_name} takes "
                                f"at least {self.min_image_side} px a side.")
        takes_scale = any(spec.name == "scale" for spec in self.input_specs())
        inputs = {"image": images, **({"scale": np.int32(scale)} if takes_scale else {})}
        return np.asarray(self.generate(**inputs))

    # -- previews: input | output | target ------------------------------------------------------
    def preview(self, n, seed, examples=None):
        from keras_gen.images import to_uint8

        inputs, targets = (np.asarray(e)[: min(n, PREVIEW_ROWS)] for e in examples)
        outputs = np.asarray(self.restore(inputs))
        height, width, channels = outputs.shape[1:]
        tiles = np.stack([_nearest_resize(x, height, width, channels) for x in (inputs, outputs, targets)], axis=1)
        return to_uint8(np.clip(tiles, -1.0, 1.0).reshape(-1, height, width, channels)), 6  # two rows a grid line

    # -- what upscale reads from a run or an export ----------------------------------------------------
    def export_metadata(self) -> dict:
        return {**super().export_metadata(),
                "upscale": {"scales": list(self.scales()), "input": "interpolated" if self.interpolated_input else "low",
                            "tile_margin": int(self.receptive_radius()), "min_image_side": int(self.min_image_side)}}


def psnr_of_mse(mse):
    """PSNR in dB of a mean squared error of [-1, 1] images (peak-to-peak 2): a tracker's figure."""
    import tensorflow as tf

    return 10.0 * tf.math.log(4.0 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)


def conv_radius(kernel_sizes) -> int:
    """The receptive radius of a chain of stride-1 convolutions with these kernel sizes."""
    return int(sum(k // 2 for k in kernel_sizes))


__all__ = ["MIN_INPUT_SIDE", "SCALES", "SuperResolutionModel", "SuperResolutionOptions", "conv_radius", "psnr_of_mse"]
