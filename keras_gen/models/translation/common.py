"""What the translation models share: their options beyond the game's, images of any size, the
translation endpoints and the training-time jitter.

A translation model declares `directions`, the mappings it learns ("a_to_b"; CycleGAN also
"b_to_a"), and `translator(direction)`, the network of each. From these:

- `input_specs`: one image input of any height and width (None, None, C);
- `export_endpoints`: the base class's (generate, serving_default, sample), plus one endpoint per
  direction, named after it, that takes an image (float32 [-1, 1], any size) and returns uint8
  images; each is marked edge=True, so the export converts it to its own NAME.onnx, the parity
  check holds Keras, the SavedModel and onnxruntime equal on it, and `keras-gen translate` runs it
  on a run (Keras) or an export (onnxruntime) alike;
- sizes: the networks pad their input by reflection to a multiple of `size_multiple` and crop the
  output back, so any side of at least `min_image_side` pixels is translated at its own size (the
  rule is recorded in the export's metadata, and smaller images are refused with one line naming it);
- `jitter(images, *paired)`: the papers' random jitter and mirroring (keras_gen/layers/paired_jitter.py),
  one draw per example for an image and what is paired with it, from the model's seeded noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from keras_gen import inputs as kinds
from keras_gen.core.translation import DIRECTIONS, direction_message, too_small_message  # noqa: F401  (re-exported)
from keras_gen.errors import KerasGenError
from keras_gen.layers.paired_jitter import PAPER_SCALE, random_jitter
from keras_gen.layers.patch_discriminator import patch_layers_for
from keras_gen.layers.translation_unet import NORMALIZATIONS
from keras_gen.layers.upsampling import UPSAMPLE_METHODS
from keras_gen.models.base import Endpoint, GenerativeModel, option
from keras_gen.models.gan.game import AdamOptions, GameOptions

@dataclass
class TranslationOptions(AdamOptions, GameOptions):
    """Options both translation models read, beside the game's and Adam's."""

    filters: int = option(64, "width of the first layer of G and D, doubling per halving up to 8x (the papers' 64)",
                          min=1)
    norm: str = option("instance", "normalisation of G and D: instance (per image: the test-time behaviour of the "
                       "papers' batch norm at batch size 1) or batch (moving averages at test time)",
                       choices=NORMALIZATIONS)
    patch_layers: int = option(-1, "stride-2 layers of the PatchGAN; -1: those whose patch spans 70/256 of the image "
                               "side, as the paper's 70x70 patch at 256 px (7 px at 32, 16 at 64, 34 at 128)",
                               min=-1, max=6)
    jitter: float = option(PAPER_SCALE, "random jitter: enlarge by this factor and crop back at a random place "
                           "(the papers' 286/256); 1 is off", min=1.0, max=2.0)
    flip: bool = option(True, "mirror training images left-right with probability 1/2 (both images of a pair alike)")
    upsample: str = option("transpose", "G's up-sampling: transpose (the papers' transposed convolutions: "
                           "checkerboards), resize (nearest, then a 3x3 convolution) or subpixel (a 3x3 convolution, "
                           "then depth-to-space)", choices=UPSAMPLE_METHODS)


class TranslationModel(GenerativeModel):
    """The base of pix2pix and CycleGAN (module docstring)."""

    square_only = False
    directions: tuple = ("a_to_b",)
    extra_exports: tuple = ("a_to_b",)  # registry.exports: the directions' endpoints (a subclass lists its own)

    # -- sizes -------------------------------------------------------------------------------
    @property
    def min_image_side(self) -> int:
        """The smallest image side the networks take (at the edge, any larger side goes)."""
        return self.size_multiple

    def check_image_sides(self, height: int, width: int, what: str = "the image") -> None:
        """A KerasGenError naming the rule when an image is too small for the networks."""
        if min(height, width) < self.min_image_side:
            raise KerasGenError(too_small_message(self.registered_name or type(self).__name__, self.min_image_side,
                                                  self.size_multiple, height, width, what))

    def check_training_size(self) -> None:
        height, width, _ = self.image_shape
        if min(height, width) < self.min_image_side:
            raise KerasGenError(f"{self.registered_name}: --image-size {height}x{width} is smaller than its networks "
                                f"take ({self.min_image_side} px a side); pass a larger --image-size, or fewer "
                                "levels (--set depth / downsamplings).")

    def patch_layers(self) -> int:
        """The PatchGAN's stride-2 layers: the option, or the paper's proportion at the training size."""
        chosen = self.options.patch_layers
        return patch_layers_for(min(self.image_shape[:2])) if chosen < 0 else chosen

    # -- training ----------------------------------------------------------------------------
    def jitter(self, images, *paired):
        """The random jitter and mirroring of the options, one draw per example for `images` and
        each batch in `paired`; the identity when both are off."""
        o = self.options
        if o.jitter == 1.0 and not o.flip:
            return [images, *paired] if paired else images
        return random_jitter(images, *paired, seed=self._replica_seed(), scale=o.jitter, flip=o.flip)

    # -- translating -------------------------------------------------------------------------
    def translator(self, direction: str) -> keras.Model:
        raise NotImplementedError

    def translate(self, images_a):
        """A -> B in inference mode (the paired metrics call it)."""
        return self.translator("a_to_b")(images_a, training=False)

    def translate_images(self, images, direction: str = "a_to_b") -> np.ndarray:
        """float [-1, 1] (N, H, W, C) -> translated (N, H, W, C), any H, W >= min_image_side."""
        if direction not in self.directions:
            raise KerasGenError(direction_message(self.registered_name, direction, self.directions))
        images = np.asarray(images, np.float32)
        self.check_image_sides(*images.shape[1:3])
        return np.asarray(self.translator(direction)(images, training=False))

    def input_specs(self):
        return [kinds.image((None, None, self.channels), name="image")]

    def export_endpoints(self):
        from keras_gen.images import to_uint8

        endpoints = super().export_endpoints()
        image = kinds.image((None, None, self.channels), name="image")
        for direction in self.directions:
            def fn(image, direction=direction):
                return {"images": to_uint8(self.translator(direction)(image, training=False))}

            source, target = direction.upper().split("_TO_")
            endpoints[direction] = Endpoint(fn, [image], f"images of domain {source} (any size >= "
                                            f"{self.min_image_side} px a side) -> domain {target}, uint8",
                                            output_ranges={"images": [0, 255]}, edge=True)
        return endpoints

    def export_metadata(self) -> dict:
        return {**super().export_metadata(), "directions": list(self.directions),
                "min_image_side": self.min_image_side, "size_multiple": self.size_multiple}


def linear_decay(step, start, length):
    """The learning-rate factor of update `step` (0-based): 1 before `start`, then falling
    linearly, 1 - (step - start + 1) / (length + 1), to 1 / (length + 1) at the last step
    (pytorch-CycleGAN-and-pix2pix's `linear` policy, per step instead of per epoch), then 0."""
    from keras import ops

    step, start, length = (ops.cast(v, "float32") for v in (step, start, length))
    fallen = ops.clip((step - start + 1.0) / (length + 1.0), 0.0, 1.0)
    return ops.where(step < start, 1.0, 1.0 - fallen)
