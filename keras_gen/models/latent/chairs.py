"""Conditional decoder: Dosovitskiy, Springenberg, Tatarchenko & Brox 2015/2017, "Learning to
Generate Chairs with Convolutional Neural Networks" (narrowed to small images).

A network that is given what to draw, not noise: a class c (the chair model; here the shape
id of the bundled `shapes` set) and transformation parameters theta (the paper's view angles
and transformation: here rotation, scale, position x, y and, optionally, colour), and draws the
image:

    x_hat = u( h( [ E c ; f(theta) ] ) )

E c is a learned class embedding (the paper's FC layer on the one-hot class), f two FC layers
on the transformation's encoding, h FC layers on their concatenation, and u upsampling
convolutions (the paper's "unpooling + 5x5 convolution" stages, here nearest-neighbour
upsampling + 3x3 convolution) to the image, in two streams as the paper's: the colours x_hat_RGB
and a segmentation mask m, composited over a learned background colour b. Trained on the
paper's eq. 1, squared error on the image and (as a cross-entropy) on the mask:

    x_hat = sigmoid(m) x_hat_RGB + (1 - sigmoid(m)) b
    min_W  sum_i |x_i - x_hat_i|_2^2 + mask_weight * sum_i BCE(s_i, m_i)

s_i the shape's mask, every pixel that differs from the background (the image's corner:
`shape_mask`). Every convolution also sees the pixel's position (CoordConv, Liu et al. 2018).

Why the mask stream and the coordinates (`--set mask_weight=0 --set coordinates=false` is the
decoder before them): the plain decoder drew the right shape 41% of the time at 16 px (the
shapes classifier's floor: 94%): small stars, crosses and squares came out as round blobs. With
coordinate channels the shapes keep their corners, but the classifier, trained on a perfectly
plain background, misread them whenever the decoder's background wandered by a few levels,
which squared error leaves; the mask stream, supervised as in the paper, makes the background
b itself (to a tenth of a level). At 32 px, the classifier's own size, the default decoder
draws the asked shape 82% of the time after 40 epochs and 94% after 53 (worst class: star,
82%; n = 2,000 at the test split's poses; docs/RESULTS.md).

theta is encoded so that every input is on one scale and periodic ones wrap: rotation phi ->
(sin k phi, cos k phi) for k = 1..5 (the paper encodes angles by sin and cos; the higher
harmonics make the symmetric shapes' periods, 120 degrees for a triangle, 90 for a square or
cross, 72 for a star, single features: with k = 1 alone the 16-pixel decoder drew rotation-
averaged blobs), scale and positions mapped linearly to [-1, 1] over the ranges the data is
drawn from, colour one-hot.

Because the class enters through an embedding, classes can be morphed (paper section 5.3):
`morph(a, b, steps)` decodes (1 - t) E a + t E b at a fixed transformation; training writes a
`morph.png` of each class into the next.

Exports: `label` (kind label) and one `option` input per parameter (rotation in degrees 0..360,
scale, x, y, colour), each with its default and range; the same request gives the same image
(there is no noise), and `keras-gen sample RUN --label 2 --rotation 30` draws class 2 turned 30°.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_gen import inputs as kinds
from keras_gen.data.shapes import COLOUR_NAMES, SIZE_RANGE
from keras_gen.data.training_data import ATTRIBUTES
from keras_gen.errors import KerasGenError
from keras_gen.layers.compositing import MaskComposite
from keras_gen.layers.coordinates import CoordinateChannels
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.models.latent.autoencoder import check_geometry

# Centres keep the whole shape inside the image (data/shapes.py), so x and y are drawn from here.
POSITION_RANGE = (SIZE_RANGE[0], 1.0 - SIZE_RANGE[0])
NUM_COLOURS = len(COLOUR_NAMES)
ROTATION_HARMONICS = 5  # sin k phi, cos k phi for k = 1..5: the periods of every shape's symmetry


def _to_unit_interval(value, lo: float, hi: float):
    """value in [lo, hi] -> [-1, 1]."""
    return 2.0 * (value - lo) / (hi - lo) - 1.0


def build_decoder(image_shape, embedding_dim: int, num_features: int, transform_units: int, hidden: int,
                  filters: int, upsamplings: int, coordinates: bool = False, mask: bool = False) -> keras.Model:
    """class embedding (B, E), transformation features (B, F) -> images (B, S, S, C), linear (about
    [-1, 1]; `ChairsDecoder.draw` clips). With `coordinates`, every convolution also sees the
    pixel's position (CoordinateChannels); with `mask`, the last layer draws colours and a mask
    that lays them over a learned background (MaskComposite), and the decoder outputs
    [images, mask logits (B, S, S, 1)]."""
    size, channels = image_shape[0], image_shape[2]
    side, width = size // 2**upsamplings, filters * 2 ** max(upsamplings - 1, 0)
    embedding = keras.Input((embedding_dim,), name="class_embedding")
    features = keras.Input((num_features,), name="transform")
    # Leaky ReLUs throughout (as the paper's later version): with plain ReLUs the mostly-background
    # targets drove every unit dead within the first epoch here, leaving a constant image.
    t = layers.LeakyReLU(0.2)(layers.Dense(transform_units)(features))
    t = layers.LeakyReLU(0.2)(layers.Dense(transform_units)(t))  # f(theta)
    x = layers.Concatenate()([embedding, t])
    x = layers.LeakyReLU(0.2)(layers.Dense(hidden)(x))
    x = layers.LeakyReLU(0.2)(layers.Dense(hidden)(x))  # h
    x = layers.LeakyReLU(0.2)(layers.Dense(side * side * width)(x))
    x = layers.Reshape((side, side, width))(x)  # (B, S / 2^u, S / 2^u, width)
    for _ in range(upsamplings):
        x = layers.UpSampling2D(2)(x)
        x = CoordinateChannels()(x) if coordinates else x
        x = layers.LeakyReLU(0.2)(layers.Conv2D(width, 3, padding="same")(x))
        width = max(width // 2, 1)
    x = CoordinateChannels()(x) if coordinates else x
    # A linear output, as the paper's: the targets are mostly background at -0.86, near tanh's
    # floor, and a tanh output here saturated at -1 within the first epoch and stopped learning.
    if not mask:
        images = layers.Conv2D(channels, 3, padding="same", dtype="float32", name="images")(x)  # (B, S, S, C)
        return keras.Model([embedding, features], images, name="decoder")
    colours = layers.Conv2D(channels, 3, padding="same", dtype="float32", name="colours")(x)  # (B, S, S, C)
    mask_logits = layers.Conv2D(1, 3, padding="same", dtype="float32", name="mask")(x)  # (B, S, S, 1)
    images = MaskComposite(dtype="float32", name="images")([colours, mask_logits])
    return keras.Model([embedding, features], [images, mask_logits], name="decoder")


def shape_mask(images):
    """Images (B, S, S, C) of one shape on a plain background -> (B, S, S, 1), 1 where a pixel
    differs from the background by more than half a level. The background is each image's
    corner: shapes keep their whole circumcircle inside the image (data/shapes.py), so corners
    are background. Edge pixels the shape covers in part count as the shape's."""
    background = images[:, :1, :1, :]  # (B, 1, 1, C)
    return tf.cast(tf.reduce_max(tf.abs(images - background), axis=-1, keepdims=True) > 0.5 / 127.5, tf.float32)


@keras.saving.register_keras_serializable(package="keras_gen")
class ChairsDecoder(GenerativeModel):
    """A class embedding and transformation parameters, decoded to the image (and its mask) by FC
    and upsampling convolution layers, trained on squared error (and the mask's cross-entropy)."""

    @dataclass
    class Options(ModelOptions):
        embedding_dim: int = option(64, "size of the class embedding (what morph interpolates)", min=1)
        transform_units: int = option(64, "width of the two FC layers on the transformation", min=1)
        hidden: int = option(256, "width of the two FC layers on class and transformation together", min=1)
        filters: int = option(32, "width of the last convolution stage, doubling towards the FC layers", min=1)
        upsamplings: int = option(3, "upsampling stages (32 px from 4x4 maps)", min=0, max=7)
        coordinates: bool = option(True, "give every convolution each pixel's position (CoordConv)")
        mask_weight: float = option(1.0, "weight of the segmentation-mask term: the decoder also draws the shape's "
                                    "mask and lays its colours over a learned background through it (the paper's "
                                    "second stream), so the background is exact; 0: colours only", min=0.0)
        colour: bool = option(True, "take the colour as an input; off: the decoder learns each class's "
                              "average colour")
        learning_rate: float = option(1e-3, "Adam", min=0.0, min_exclusive=True)

    options_added_later = {"coordinates": False, "mask_weight": 0.0}  # runs saved before them: the plain decoder
    harness_options = {"embedding_dim": 4, "transform_units": 8, "hidden": 16, "filters": 4, "upsamplings": 2}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if self.num_classes is None:
            raise KerasGenError("chairs draws a class, so it needs num_classes (training takes it from --data).")
        check_geometry("chairs", self.image_size, o.upsamplings, option="upsamplings")
        # sin, cos per harmonic, scale, x, y [, one-hot colour]
        self.num_features = 2 * ROTATION_HARMONICS + 3 + (NUM_COLOURS if o.colour else 0)
        self.class_embedding = layers.Embedding(self.num_classes, o.embedding_dim, name="class_embedding")
        self.class_embedding.build((None,))
        self.decoder = build_decoder(self.image_shape, o.embedding_dim, self.num_features, o.transform_units,
                                     o.hidden, o.filters, o.upsamplings, o.coordinates,
                                     mask=o.mask_weight > 0)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def default_optimizers(self):
        return {"decoder": keras.optimizers.Adam(self.options.learning_rate)}

    def variables_for(self, optimizer_name):
        return self.class_embedding.trainable_variables + self.decoder.trainable_variables

    @property
    def metrics(self):
        return [self.loss_tracker]

    # -- transformation parameters -----------------------------------------------------------
    def transform_features(self, rotation, scale, x, y, colour=None):
        """(B,) parameters -> (B, F) features: rotation in degrees -> (sin k phi, cos k phi); scale, x, y ->
        [-1, 1] over their drawn ranges; colour index -> one-hot (when the model takes colour)."""
        radians = tf.cast(rotation, tf.float32) * (np.pi / 180.0)
        columns = [f(k * radians) for k in range(1, ROTATION_HARMONICS + 1) for f in (tf.sin, tf.cos)]
        columns += [_to_unit_interval(tf.cast(scale, tf.float32), *SIZE_RANGE),
                    _to_unit_interval(tf.cast(x, tf.float32), *POSITION_RANGE),
                    _to_unit_interval(tf.cast(y, tf.float32), *POSITION_RANGE)]
        features = tf.stack(columns, axis=1)
        if self.options.colour:
            features = tf.concat([features, tf.one_hot(tf.cast(colour, tf.int32), NUM_COLOURS)], axis=1)
        return features

    def _attribute_features(self, attributes):
        """The "attributes" data's (B, len(ATTRIBUTES)) columns -> transform features."""
        column = {name: attributes[:, i] for i, name in enumerate(ATTRIBUTES)}
        return self.transform_features(column["rotation"], column["size"], column["x"], column["y"],
                                       column["colour"])

    def train_step(self, data):
        images, labels, attributes = data  # (B, S, S, C), (B,) shape ids, (B, len(ATTRIBUTES))
        features = self._attribute_features(attributes)
        with tf.GradientTape() as tape:
            drawn, mask_logits = self.decode(self.class_embedding(labels), features, training=True)
            loss = tf.reduce_mean(tf.reduce_sum(tf.square(drawn - images), axis=[1, 2, 3]))  # per image, eq. 1
            if mask_logits is not None:  # eq. 1's segmentation term, as a cross-entropy
                segmentation = tf.nn.sigmoid_cross_entropy_with_logits(shape_mask(images), mask_logits)
                loss += self.options.mask_weight * tf.reduce_mean(tf.reduce_sum(segmentation, axis=[1, 2, 3]))
        self.apply_gradients("decoder", tape, loss)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    # -- the request: a class and the transformation -----------------------------------------
    def transform_specs(self) -> list:
        specs = [kinds.option("rotation", 0.0, 0.0, 360.0, "float32", "rotation in degrees, clockwise on screen"),
                 kinds.option("scale", float(np.mean(SIZE_RANGE)), *SIZE_RANGE, "float32",
                              "circumradius as a fraction of the image side"),
                 kinds.option("x", 0.5, *POSITION_RANGE, "float32", "centre, fraction of the width from the left"),
                 kinds.option("y", 0.5, *POSITION_RANGE, "float32", "centre, fraction of the height from the top")]
        if self.options.colour:
            specs.append(kinds.option("colour", 0, 0, NUM_COLOURS - 1, "int32",
                                      "colour index: " + ", ".join(f"{i} {c}" for i, c in enumerate(COLOUR_NAMES))))
        return specs

    def input_specs(self):
        return [kinds.label(self.num_classes), *self.transform_specs()]

    def _features_for(self, batch, rotation, scale, x, y, colour=None):
        """Parameters, each a scalar (repeated over the batch) or one per image (B,), as features (B, F)."""
        def repeated(v, dtype):
            return tf.broadcast_to(tf.cast(v, dtype), [batch])

        return self.transform_features(repeated(rotation, tf.float32), repeated(scale, tf.float32),
                                       repeated(x, tf.float32), repeated(y, tf.float32),
                                       None if colour is None else repeated(colour, tf.int32))

    def generate(self, label, rotation, scale, x, y, colour=None):
        """label (B,) int32 and scalar parameters -> images (B, S, S, C) in [-1, 1]."""
        label = tf.convert_to_tensor(label)
        features = self._features_for(tf.shape(label)[0], rotation, scale, x, y, colour)
        return self.draw(self.class_embedding(label), features)

    def sample_like_data(self, n: int, seed: int = 0):
        """n images drawn at the shapes and transformations of the `shapes` test split (its first
        n images, cycled; `seed` picks the split's draw as in `load_arrays`): (images float32
        [-1, 1], labels int64 (n,)). A request's transformation is one value for the whole batch,
        so `sample` draws every image of a class in the same pose; evaluation scores the decoder
        here instead, at the poses the data varies over (keras_gen.evaluation uses this hook)."""
        from keras_gen.data.training_data import attribute_arrays

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise KerasGenError(f"n must be a positive whole number, got {n!r}.")
        _, labels, attributes = attribute_arrays("shapes", "test", image_size=self.image_size,
                                                 channels=self.channels, seed=seed, limit=n)
        index = np.arange(n) % len(labels)
        labels, attributes = labels[index], attributes[index]
        chunks = []
        for start in range(0, n, 256):
            part = tf.constant(attributes[start:start + 256])
            chunks.append(np.asarray(self.draw(self.class_embedding(tf.constant(labels[start:start + 256], tf.int32)),
                                               self._attribute_features(part))))
        return np.concatenate(chunks), labels

    def draw(self, embeddings, features):
        """The decoder's images clipped to [-1, 1], the library's image range."""
        return tf.clip_by_value(self.decode(embeddings, features)[0], -1.0, 1.0)

    def call(self, inputs, training=False):
        labels, features = inputs
        return self.decode(self.class_embedding(labels), features, training=training)[0]

    def decode(self, embeddings, features, training=False):
        """(images (B, S, S, C), mask logits (B, S, S, 1) or None without the mask stream)."""
        outputs = self.decoder([embeddings, features], training=training)
        return (outputs[0], outputs[1]) if self.options.mask_weight > 0 else (outputs, None)

    # -- morphing between classes ------------------------------------------------------------
    def morph(self, class_a: int, class_b: int, steps: int = 8, **transform) -> np.ndarray:
        """`steps` images (float32 [-1, 1]) decoding (1 - t) E a + t E b, t from 0 to 1, at one
        transformation (defaults for parameters not given; each checked against its range)."""
        for name, value in (("class_a", class_a), ("class_b", class_b)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < self.num_classes:
                raise KerasGenError(f"morph: {name} must be a class index from 0 to {self.num_classes - 1}, "
                                    f"got {value!r}.")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise KerasGenError(f"morph: steps must be a whole number >= 2, got {steps!r}.")
        specs = self.transform_specs()
        values = kinds.resolve_inputs(specs, 1, 0, transform)  # defaults and range checks, one clear error
        table = np.asarray(self.class_embedding.embeddings)
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        embeddings = (1.0 - t) * table[class_a] + t * table[class_b]  # (steps, E)
        features = self._features_for(int(steps), *[values[s.name] for s in specs])
        return np.asarray(self.draw(tf.constant(embeddings), features))

    def morph_rows(self, steps: int = 8) -> np.ndarray:
        """Each class morphed into the next, one row per class, at the default transformation:
        float32 (num_classes * steps, S, S, C)."""
        return np.concatenate([self.morph(c, (c + 1) % self.num_classes, steps) for c in range(self.num_classes)])
