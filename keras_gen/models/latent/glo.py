"""GLO: Bojanowski, Joulin, Lopez-Paz & Szlam 2018, "Optimizing the Latent Space of Generative
Networks" (Generative Latent Optimization).

No encoder and no discriminator: every training image x_i gets its own learnable latent z_i,
and the latents and a DCGAN-like generator g_theta are optimised jointly on a reconstruction
loss (paper eq. 1, with the latents kept on the unit sphere):

    min_theta  1/N sum_i  min_{z_i in Z}  l(g_theta(z_i), x_i),     Z = {z : |z|_2 = 1}

A batch updates theta and the batch's z_i by gradient steps, after which each z_i is projected
back onto Z, z_i <- z_i / |z_i|_2 (paper section 3.2). The loss l is the Laplacian-pyramid L1

    Lap1(x, x') = sum_j 2^{-2j} |L^j(x) - L^j(x')|_1                  (keras_gen/losses/laplacian.py)

or plain MSE (`--set loss=mse`, blurrier). The latents live in an embedding table indexed by
the image's place in the train split: the model trains on the "indexed" data kind, and the
table's size, `num_images`, is the split's size, fixed when the run starts (a resume on data of
another size is refused).

Sampling (paper section 4.3): a single full-covariance Gaussian is fitted to the learned
latents, mu = mean_i z_i, Sigma = cov_i z_i = L L^T (Cholesky), and a sample is

    z = (mu + L eps) / |mu + L eps|_2,    eps ~ N(0, I),    x = g_theta(z).

mu and L are non-trainable weights of the model, refitted at the end of every epoch (so every
checkpoint and export carries the Gaussian of its own latents); eps is the export's `latent`
input. Before any epoch ends, mu = 0 and L = I: uniform directions on the sphere.

`project(images, steps)` finds latents for new images with the generator frozen: the same loss,
minimised over z alone by Adam, projected to the sphere after every step (the paper's
reconstruction experiments). Initialisation: the paper starts the table from PCA of the images;
here rows are random directions (seeded), which trains fine at these sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen.errors import KerasGenError
from keras_gen.losses.laplacian import laplacian_l1, max_levels
from keras_gen.models.base import GenerativeModel, ModelOptions, option
from keras_gen.models.latent.autoencoder import check_geometry

GLO_LOSSES = ("lap1", "mse")


def build_generator(image_shape, latent_dim: int, filters: int, upsamplings: int) -> keras.Model:
    """DCGAN-like: latents (B, d) on the sphere -> images (B, S, S, C) in [-1, 1]."""
    size, channels = image_shape[0], image_shape[2]
    side, width = size // 2**upsamplings, filters * 2 ** max(upsamplings - 1, 0)
    z = keras.Input((latent_dim,), name="z")
    x = layers.ReLU()(layers.Dense(side * side * width)(z))
    x = layers.Reshape((side, side, width))(x)  # (B, S / 2^u, S / 2^u, width)
    for _ in range(upsamplings - 1):
        width //= 2
        x = layers.ReLU()(layers.Conv2DTranspose(width, 4, 2, "same")(x))
    if upsamplings:
        x = layers.Conv2DTranspose(channels, 4, 2, "same")(x)  # (B, S, S, C)
    else:
        x = layers.Conv2D(channels, 3, padding="same")(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(z, images, name="generator")


def to_sphere(z):
    """Rows of z scaled to unit L2 norm (the projection onto Z)."""
    return tf.math.l2_normalize(z, axis=-1, epsilon=1e-12)


class FitLatentGaussian(keras.callbacks.Callback):
    """Refits the sampling Gaussian to the latents at the end of every epoch, before the run's
    checkpoint callback saves it."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.fit_latent_gaussian()


@keras.saving.register_keras_serializable(package="keras_gen")
class GLO(GenerativeModel):
    """A latent table and a generator, trained together on reconstruction; no encoder, no critic."""

    @dataclass
    class Options(ModelOptions):
        latent_dim: int = option(32, "size of each image's latent (a point on the unit sphere)", min=2)
        num_images: int = option(0, "rows of the latent table: the train split's size, filled in by training "
                                 "from --data (0: not set yet)", min=0)
        filters: int = option(32, "width of the generator's last hidden layer, doubling towards its input", min=1)
        upsamplings: int = option(3, "stride-2 transposed convolutions (32 px from 4x4 maps)", min=0, max=7)
        loss: str = option("lap1", "reconstruction loss: lap1 (Laplacian-pyramid L1, the paper's) or mse (blurrier)",
                           choices=GLO_LOSSES)
        pyramid_levels: int = option(0, "levels of the Laplacian pyramid; 0: as many as the image allows", min=0)
        learning_rate: float = option(1e-3, "Adam on the generator", min=0.0, min_exclusive=True)
        latent_learning_rate: float = option(1e-2, "Adam on the latent table: each row sees one gradient per "
                                             "epoch, so it moves faster than the shared generator", min=0.0,
                                             min_exclusive=True)

    harness_options = {"latent_dim": 4, "filters": 4, "upsamplings": 2}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if o.num_images < 1:
            raise KerasGenError("glo keeps one latent per training image, so it needs num_images (the train split's "
                                "size); training fills it in from --data, or pass num_images=N when building it.")
        check_geometry("glo", self.image_size, o.upsamplings, option="upsamplings")
        self.pyramid_levels = o.pyramid_levels or max_levels(self.image_size)
        if self.pyramid_levels > max_levels(self.image_size):
            raise KerasGenError(f"glo: a {self.image_size}-pixel image has at most {max_levels(self.image_size)} "
                                f"pyramid levels, got pyramid_levels={o.pyramid_levels}.")
        self.generator = build_generator(self.image_shape, o.latent_dim, o.filters, o.upsamplings)
        self.latent_table = layers.Embedding(o.num_images, o.latent_dim, embeddings_initializer="random_normal",
                                             name="latent_table")
        self.latent_table.build((None,))
        self.latent_table.embeddings.assign(to_sphere(self.latent_table.embeddings))
        # The sampling Gaussian N(mu, L L^T), fitted after training; the identity until then.
        self.latent_mean = self.add_weight(shape=(o.latent_dim,), initializer="zeros", trainable=False,
                                           name="latent_mean")
        self.latent_cholesky = self.add_weight(shape=(o.latent_dim, o.latent_dim), initializer="identity",
                                               trainable=False, name="latent_cholesky")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")  # whatever the loss, a figure comparable across runs
        self.built = True

    def default_optimizers(self):
        return {"generator": keras.optimizers.Adam(self.options.learning_rate),
                "latent_table": keras.optimizers.Adam(self.options.latent_learning_rate)}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker]

    def fit(self, *args, callbacks=None, **kwargs):
        # First, so the run's checkpoint callback saves the Gaussian of this epoch's latents.
        return super().fit(*args, callbacks=[FitLatentGaussian(), *(callbacks or [])], **kwargs)

    def reconstruction_loss(self, images, reconstructions):
        if self.options.loss == "mse":
            return tf.reduce_mean(tf.square(reconstructions - images))
        return laplacian_l1(images, reconstructions, self.pyramid_levels)

    def train_step(self, data):
        images, indices = data  # (B, S, S, C), (B,) int64 places in the train split
        table = self.latent_table.embeddings
        with tf.GradientTape() as tape:
            z = tf.gather(table, indices)  # (B, d), on the sphere
            reconstructions = self.generator(z, training=True)
            loss = self.reconstruction_loss(images, reconstructions)
            scaled = self.scale_loss(loss)
        variables = {"generator": self.generator.trainable_variables, "latent_table": [table]}
        grads = tape.gradient(scaled, variables)
        for name in variables:  # the variables of variables_for(name)
            # The table's gradient is sparse (a gather); Adam's moments are dense anyway.
            self.apply_optimizer(name, [tf.convert_to_tensor(g) for g in grads[name]])
        table.assign(to_sphere(table))  # the projection onto the unit sphere, after every update
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(tf.reduce_mean(tf.square(reconstructions - images)))
        return {t.name: t.result() for t in self.metrics}

    def variables_for(self, optimizer_name):
        if optimizer_name == "latent_table":
            return [self.latent_table.embeddings]
        return super().variables_for(optimizer_name)

    # -- the sampling Gaussian -------------------------------------------------------------------
    def latents(self) -> np.ndarray:
        """The learned latent of every training image, (num_images, d), rows on the unit sphere."""
        return np.asarray(self.latent_table.embeddings)

    def fit_latent_gaussian(self) -> tuple[np.ndarray, np.ndarray]:
        """mu = mean z_i, L = cholesky(cov z_i + jitter I), stored in the model; returns (mu, L).
        The jitter (1e-6 of the mean variance) keeps L defined when there are fewer images than
        dimensions or the latents fill a subspace."""
        table = self.latents().astype(np.float64)
        mean = table.mean(axis=0)
        cov = np.cov(table, rowvar=False) if len(table) > 1 else np.zeros((table.shape[1],) * 2)
        jitter = 1e-6 * max(float(np.trace(cov)) / len(cov), 1e-6)
        cholesky = np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
        self.latent_mean.assign(mean.astype(np.float32))
        self.latent_cholesky.assign(cholesky.astype(np.float32))
        return mean, cholesky

    # -- the request: a Gaussian latent eps (base input_specs: kinds.latent(latent_dim)) --------------
    def decode(self, z):
        """Points on the sphere (B, d) -> images (B, S, S, C) in [-1, 1]."""
        return self.generator(z, training=False)

    def generate(self, z):
        """eps (B, d) ~ N(0, I) -> g((mu + L eps) / |mu + L eps|)."""
        shaped = self.latent_mean + tf.matmul(tf.convert_to_tensor(z, tf.float32), self.latent_cholesky,
                                              transpose_b=True)
        return self.decode(to_sphere(shaped))

    def call(self, z, training=False):
        return self.generator(to_sphere(z), training=training)

    # -- latents of new images -------------------------------------------------------------------
    def project(self, images, steps: int = 100, learning_rate: float = 0.05, seed: int = 0) -> np.ndarray:
        """Latents (N, d) on the sphere whose generated images reconstruct `images` (N, S, S, C) in
        [-1, 1]: the training loss minimised over z alone, the generator frozen, starting from
        seeded random directions."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise KerasGenError(f"project takes images of shape (N, {', '.join(map(str, self.image_shape))}), "
                                f"got {images.shape}.")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise KerasGenError(f"project: steps must be a whole number >= 0, got {steps!r}.")
        start = np.random.default_rng(seed).standard_normal((len(images), self.options.latent_dim))
        z = tf.Variable(to_sphere(tf.constant(start, tf.float32)), name="projected_latents")
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build([z])
        targets = tf.constant(images)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = self.reconstruction_loss(targets, self.generator(z, training=False))
            optimizer.apply_gradients([(tape.gradient(loss, z), z)])
            z.assign(to_sphere(z))
            return loss

        for _ in range(int(steps)):
            step()
        return z.numpy()

    def reconstruction_error(self, images, latents) -> float:
        """The training loss of `images` against the generator's images of `latents`."""
        return float(self.reconstruction_loss(tf.constant(images, tf.float32), self.decode(tf.constant(latents))))
