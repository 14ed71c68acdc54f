"""VAE: Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; its class-conditional variant
(CVAE: Sohn, Lee & Yan 2015, the class y observed as in Kingma, Rezende, Mohamed & Welling 2014's
M2); the importance-weighted likelihood estimate of Burda, Grosse & Salakhutdinov 2016.

An encoder q(z | x[, y]) = N(mu, diag sigma^2) and a decoder p(x | z[, y]), trained jointly by
one optimizer on the negative evidence lower bound, z drawn by the reparameterisation trick:

    z = mu + sigma * eps,   eps ~ N(0, I)                                  (K&W eq. 10)
    log p(x) >= ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z))            (K&W eq. 3)
    KL = 0.5 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)   for p(z) = N(0, I)  (K&W appendix B)
    loss = reconstruction + beta_t * KL,   beta_t = beta * min(1, t / warm-up steps)

beta = 1 is the ELBO (beta > 1: Higgins et al. 2017); the linear KL warm-up (Bowman et al. 2016,
Sonderby et al. 2016) keeps the posterior from collapsing early. Both terms are summed over
pixels and latent dimensions, averaged over the batch: nats per image.

Decoder likelihoods (`--set likelihood=`; keras_gen/losses/likelihood.py):
  logistic (default): a discretised logistic per value over the 256 levels v (Salimans et al.
      2017, PixelCNN++ eq. 2; the VAE literature's choice since Kingma et al. 2016's IAF): the
      decoder outputs a location m and a log-scale log s per value, and
          P(v) = sigmoid((y + 1/255 - m) / s) - sigmoid((y - 1/255 - m) / s),   y = v / 127.5 - 1,
      the edge levels 0 and 255 taking the tails. It is a distribution over the data's own
      values, so the ELBO it trains is a bound on the likelihood that bits/dim reports.
  bernoulli: -log p(t | z) = sum BCE(t, sigmoid(L)) on t = (x + 1) / 2, the paper's MNIST choice;
      on grey levels a continuous-target approximation, not a distribution over the levels.
  gaussian: N(t; sigmoid(L), gaussian_sigma^2) per pixel, a fixed observation noise.
What each gives (benchmarks/quality.py, 16 px digits, 60 epochs; docs/RESULTS.md): bits/dim
4.11 (logistic), 4.84 (gaussian), 6.78 (bernoulli), against 5.45 for independent per-pixel
histograms; the logistic is the only one well below them (25%). Samples are its locations.

The CVAE's prior (`--set prior=`): with a sharp likelihood the latent carries the class too,
and under p(z) = N(0, I) for every class the decoder learns to follow z rather than the label
(label accuracy 0.49 with the logistic). `class` (default) learns a prior per class,
p(z | y) = N(mu_y, diag sigma_y^2), so the KL term is KL(q(z | x, y) || p(z | y)), and a sample
for class y draws z = mu_y + sigma_y eps from it: samples follow their label (0.99 at the
CVAE's latent_dim 8) whatever z holds. `standard` is N(0, I), as before.

Likelihood (`log_likelihood`, for `keras-gen evaluate --metrics bpd`): the data are discrete
8-bit values v in {0..255}, so each decoder is scored as a distribution over the 256 levels
(likelihood_kind "discrete", keras_gen/metrics/likelihood.py): the logistic as it is; the
others discretised,
  discretised Bernoulli   P(v) = p^(v/255) (1 - p)^(1 - v/255) / Z(p),   Z summed over 256 levels
                          log P(v) = (v/255) L - log sum_{u=0}^{255} exp(u L / 255);
  discretised Gaussian    P(v) = Phi((t + 1/510 - m) / s) - Phi((t - 1/510 - m) / s), the edge
                          bins taking the tails (Salimans et al. 2017, PixelCNN++).
The NLL is the importance-weighted bound with k samples (Burda et al. 2016, eq. 8):

    log p(x) >= L_k = log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x),   z_i ~ q(z | x),

L_1 = ELBO <= L_k <= log p(x), tightening as k grows. The CVAE scores log p(x) with the class
marginalised under a uniform prior: log p(x) = log (1/K) sum_y p(x | y).

Sampling: z ~ N(0, I) (moved to p(z | y) by the CVAE's class prior) -> the decoder's mean in
[-1, 1]. Exports: `generate` (ONNX), `decode` (the same function), `encode` (image[, label] ->
mean, log_variance of q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen import inputs as kinds
from keras_gen.errors import KerasGenError
from keras_gen.losses.kl import gaussian_kl, gaussian_log_density
from keras_gen.losses.likelihood import (discretised_bernoulli_log_prob, discretised_gaussian_log_prob,
                                         discretised_logistic_log_prob)
from keras_gen.models.base import Endpoint, GenerativeModel, ModelOptions, option


# -- networks ----------------------------------------------------------------------------------
def build_encoder(image_size, channels, latent_dim, base_filters, hidden, num_classes=None) -> keras.Model:
    """images (B, S, S, C) [+ label (B,)] -> mean, log_variance (B, J). A label enters as one
    learned (S, S) map stacked on as a channel, so every convolution sees it."""
    images = keras.Input((image_size, image_size, channels), name="image")
    inputs, x = [images], images
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        label_map = layers.Reshape((image_size, image_size, 1))(
            layers.Embedding(num_classes, image_size * image_size, name="label_map")(label))
        x = layers.Concatenate()([images, label_map])
    x = layers.Conv2D(base_filters, 4, 2, "same", activation="relu")(x)  # (B, S/2, S/2, F)
    x = layers.Conv2D(2 * base_filters, 4, 2, "same", activation="relu")(x)  # (B, S/4, S/4, 2F)
    x = layers.Dense(hidden, activation="relu")(layers.Flatten()(x))
    mean = layers.Dense(latent_dim, name="mean")(x)
    log_var = layers.Dense(latent_dim, name="log_variance")(x)
    return keras.Model(inputs if num_classes else images, [mean, log_var], name="encoder")


def build_decoder(image_size, channels, latent_dim, base_filters, hidden, num_classes=None,
                  outputs_per_pixel=None) -> keras.Model:
    """z (B, J) [+ label (B,), one-hot beside z] -> the likelihood's parameters (B, S, S, P):
    logits L (P = C), or the logistic's locations and log-scales (P = 2C, `decoder_channels`)."""
    z = keras.Input((latent_dim,), name="z")
    inputs, x = [z], z
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        one_hot = layers.Embedding(num_classes, num_classes, embeddings_initializer="identity", trainable=False,
                                   name="one_hot")(label)  # (B, K)
        x = layers.Concatenate()([z, one_hot])
    s = image_size // 4
    x = layers.Dense(hidden, activation="relu")(x)
    x = layers.Dense(s * s * 2 * base_filters, activation="relu")(x)
    x = layers.Reshape((s, s, 2 * base_filters))(x)
    x = layers.Conv2DTranspose(base_filters, 4, 2, "same", activation="relu")(x)  # (B, S/2, S/2, F)
    logits = layers.Conv2DTranspose(outputs_per_pixel or channels, 4, 2, "same", name="logits")(x)  # (B, S, S, P)
    return keras.Model(inputs if num_classes else z, logits, name="decoder")


# -- likelihoods -------------------------------------------------------------------------------
def decoder_channels(likelihood: str, channels: int) -> int:
    """Outputs per pixel of the decoder: a location and a log-scale per value for the logistic,
    one logit per value otherwise."""
    return 2 * channels if likelihood == "logistic" else channels


def decoder_mean(outputs, likelihood: str):
    """The decoder's outputs (B, S, S, C or 2C) -> its image (B, S, S, C) in [-1, 1]: the
    logistic's locations clipped to the pixel range, else 2 sigmoid(L) - 1."""
    if likelihood == "logistic":
        mean, _ = tf.split(outputs, 2, axis=-1)
        return tf.clip_by_value(mean, -1.0, 1.0)
    return 2.0 * tf.sigmoid(outputs) - 1.0


def discrete_log_likelihood(levels, outputs, likelihood: str, sigma: float):
    """log P(v | z) per image (B,) of 8-bit values `levels` (floats 0..255) under the decoder's
    distribution over the 256 levels (module docstring; keras_gen/losses/likelihood.py)."""
    if likelihood == "logistic":
        per_value = discretised_logistic_log_prob(levels, *tf.split(outputs, 2, axis=-1))
    elif likelihood == "bernoulli":
        per_value = discretised_bernoulli_log_prob(levels, outputs)
    else:
        per_value = discretised_gaussian_log_prob(levels, tf.sigmoid(outputs), sigma)
    return tf.reduce_sum(per_value, axis=[1, 2, 3])


def reconstruction_nll(images, outputs, likelihood: str, sigma: float):
    """-log p(x | z) per image (B,), the training objective's term; images in [-1, 1].

    logistic: the discrete likelihood itself (the ELBO is then a bound on the data's own
    likelihood); bernoulli and gaussian: their continuous densities on t = (x + 1) / 2, as
    trained before the discrete likelihood existed."""
    if likelihood == "logistic":
        levels = tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0)
        return -discrete_log_likelihood(levels, outputs, likelihood, sigma)
    targets = (images + 1.0) / 2.0
    if likelihood == "bernoulli":
        per_value = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=outputs)
    else:
        per_value = (0.5 * tf.square((targets - tf.sigmoid(outputs)) / sigma) + math.log(sigma)
                     + 0.5 * math.log(2.0 * math.pi))
    return tf.reduce_sum(per_value, axis=[1, 2, 3])


# -- the model ---------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_gen")
class VAE(GenerativeModel):
    """Encoder and decoder trained on the (beta-weighted) ELBO; one optimizer trains both."""

    @dataclass
    class Options(ModelOptions):
        latent_dim: int = option(16, "z size; digits need few dimensions", min=1)
        base_filters: int = option(32, "width of the first convolution", min=1)
        hidden: int = option(256, "fully-connected width in encoder and decoder", min=1)
        beta: float = option(1.0, "weight of the KL term; 1 is the ELBO (Higgins et al. 2017 use > 1)", min=0.0)
        kl_warmup_steps: int = option(0, "steps over which beta rises linearly from 0 (0: no warm-up)", min=0)
        likelihood: str = option("logistic", "decoder p(x|z): logistic, a discretised logistic over the 256 levels "
                                 "(trained on the data's own likelihood); bernoulli or gaussian, densities on "
                                 "pixels in [0, 1]", choices=("logistic", "bernoulli", "gaussian"))
        gaussian_sigma: float = option(0.1, "observation noise of the gaussian likelihood, on [0, 1] pixels",
                                       min=0.0, min_exclusive=True)
        iw_samples: int = option(100, "k of the importance-weighted NLL (Burda et al. 2016 use 5000)", min=1)
        learning_rate: float = option(1e-3, "Adam", min=0.0, min_exclusive=True)

    harness_options = {"latent_dim": 2, "base_filters": 4, "hidden": 8, "iw_samples": 4}
    likelihood_kind = "discrete"  # log_likelihood is over the 256 levels (keras_gen/metrics/likelihood.py)
    conditional = False
    # The default was bernoulli until the discretised logistic (issue 27): every saved config
    # names its likelihood, and one that does not is from the bernoulli days.
    options_added_later = {"likelihood": "bernoulli"}
    extra_exports = ("decode", "encode")  # export_endpoints() adds them; the registry lists them

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.image_size % 4 or self.image_size < 8:
            raise KerasGenError(f"{self.registered_name} needs an image size that is a multiple of 4 from 8 up, got "
                                f"{self.image_size}. Pass e.g. --image-size 16.")
        o = self.options
        args = (self.image_size, self.channels, o.latent_dim, o.base_filters, o.hidden,
                self.num_classes if self.conditional else None)
        self.encoder = build_encoder(*args)
        self.decoder = build_decoder(*args, outputs_per_pixel=decoder_channels(o.likelihood, self.channels))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction", "kl")}
        self.built = True

    def default_optimizers(self):
        return {"vae": keras.optimizers.Adam(self.options.learning_rate)}

    def variables_for(self, optimizer_name):
        if optimizer_name == "vae":  # one optimizer over both networks
            return self.encoder.trainable_variables + self.decoder.trainable_variables
        return super().variables_for(optimizer_name)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- the label plumbing: none here, the class for the CVAE ----------------------------------
    def split_batch(self, data):
        return data, None

    def _with(self, x, labels):  # a network's inputs: the tensor alone, or with the label
        return x if labels is None else [x, labels]

    def prior_parameters(self, labels=None):
        """(mean, log_variance) of the prior p(z [| y]): N(0, I) here, broadcast against (B, J)."""
        return 0.0, 0.0

    def _likelihood_args(self):
        return self.options.likelihood, self.options.gaussian_sigma

    def beta_now(self):
        """beta_t = beta * min(1, (t + 1) / warm-up), t the optimizer's step count (saved, so resume is exact)."""
        o = self.options
        if not o.kl_warmup_steps:
            return tf.constant(o.beta, tf.float32)
        step = tf.cast(self.optimizers["vae"].iterations, tf.float32) + 1.0
        return o.beta * tf.minimum(1.0, step / float(o.kl_warmup_steps))

    def elbo_terms(self, images, labels=None, eps=None, training=False):
        """(reconstruction NLL, KL) per image (B,), one reparameterised z each."""
        mu, log_var = self.encoder(self._with(images, labels), training=training)  # (B, J) each
        eps = self.random_normal(tf.shape(mu)) if eps is None else eps
        z = mu + tf.exp(0.5 * log_var) * eps  # reparameterisation, K&W eq. 10
        outputs = self.decoder(self._with(z, labels), training=training)
        recon = reconstruction_nll(images, outputs, *self._likelihood_args())
        return recon, gaussian_kl(mu, log_var, *self.prior_parameters(labels))

    def train_step(self, data):
        images, labels = self.split_batch(data)  # (B, S, S, C) in [-1, 1] [, (B,)]
        with tf.GradientTape() as tape:
            recon, kl = self.elbo_terms(images, labels, training=True)
            recon, kl = tf.reduce_mean(recon), tf.reduce_mean(kl)
            loss = recon + self.beta_now() * kl
        self.apply_gradients("vae", tape, loss)
        for name, value in (("loss", loss), ("reconstruction", recon), ("kl", kl)):
            self.trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def call(self, inputs, training=False):
        return self.decoder(inputs, training=training)

    # -- sampling and the endpoints ------------------------------------------------------------
    def input_specs(self):
        return [kinds.latent(self.options.latent_dim)]

    def generate(self, z):
        """z (B, J) -> the decoder's mean image (B, S, S, C) in [-1, 1]."""
        return decoder_mean(self.decoder(z, training=False), self.options.likelihood)

    def encode_specs(self) -> list:
        return [kinds.image(self.image_shape, name="image")]

    def encode(self, image, label=None):
        """Images (N, S, S, C) (uint8 or [-1, 1] floats) [+ labels] -> (mean, log_variance) numpy (N, J).
        A wrong size, range or label is a KerasGenError."""
        given = {"image": image} if label is None else {"image": image, "label": label}
        missing = [s.name for s in self.encode_specs() if s.name not in given]
        if missing or len(given) != len(self.encode_specs()):
            raise KerasGenError(f"{self.registered_name}.encode takes {[s.name for s in self.encode_specs()]}, "
                                f"got {sorted(given)}.")
        n = len(image) if np.ndim(image) == 4 else 1  # one image (S, S, C) is a batch of one
        values = [spec.check(given[spec.name], n) for spec in self.encode_specs()]
        mean, log_var = self.encoder(values if len(values) > 1 else values[0], training=False)
        return np.asarray(mean), np.asarray(log_var)

    def export_endpoints(self) -> dict:
        endpoints = super().export_endpoints()
        generate, specs = endpoints["generate"], self.encode_specs()

        def encode(*args):  # a wrong image size is refused by name, not deep inside a reshape
            args = (tf.ensure_shape(args[0], (None, *self.image_shape)), *args[1:])
            mean, log_var = self.encoder(list(args) if len(args) > 1 else args[0], training=False)
            return {"mean": mean, "log_variance": log_var}

        endpoints["decode"] = Endpoint(generate.fn, generate.inputs, "the decoder: " + generate.description,
                                       output_ranges=dict(generate.output_ranges), edge=True)
        endpoints["encode"] = Endpoint(encode, specs, "the encoder: " + ", ".join(s.name for s in specs)
                                       + " -> mean, log_variance of q(z | x)", edge=True)  # also NAME.onnx
        return endpoints

    # -- likelihood ----------------------------------------------------------------------------
    def _iwae_log_px(self, levels, images, labels, k: int, seed):
        """L_k per image (B,) for one label assignment (Burda et al. 2016, eq. 8)."""
        b = tf.shape(images)[0]
        mu, log_var = self.encoder(self._with(images, labels), training=False)  # (B, J)
        eps = tf.random.stateless_normal((k, b, self.options.latent_dim), seed=seed)
        z = mu[None] + tf.exp(0.5 * log_var)[None] * eps  # (k, B, J)
        flat = tf.reshape(z, (-1, self.options.latent_dim))
        tiled_labels = None if labels is None else tf.tile(labels, [k])
        logits = self.decoder(self._with(flat, tiled_labels), training=False)  # (k B, S, S, C)
        log_px_z = discrete_log_likelihood(tf.tile(levels, [k, 1, 1, 1]), logits, *self._likelihood_args())
        log_w = tf.reshape(log_px_z, (k, b)) + gaussian_log_density(z, *self.prior_parameters(labels)) - (
            gaussian_log_density(z, mu[None], log_var[None]))
        return tf.reduce_logsumexp(log_w, axis=0) - math.log(k)

    def log_likelihood(self, images, k: int | None = None, seed: int = 0, batch_size: int = 32,
                       labels=None) -> np.ndarray:
        """Per-image negative log-likelihood in nats (N,) of 8-bit images (uint8, or [-1, 1] floats
        on the 256 levels), by the importance-weighted bound with k samples (default: the
        `iw_samples` option): an upper bound on the NLL, seeded. The CVAE marginalises the class
        unless `labels` are given."""
        k = self.options.iw_samples if k is None else int(k)
        if k < 1:
            raise KerasGenError(f"log_likelihood needs k >= 1 importance samples, got {k}.")
        spec = kinds.image(self.image_shape, name="images")
        images = np.asarray(images)
        images = spec.check(images, len(images) if images.ndim == 4 else 1)
        levels_all = np.round((images.astype(np.float64) + 1.0) * 127.5).astype(np.float32)
        label_all = None if labels is None else self._label_spec().check(labels, len(images))
        out = []
        for start in range(0, len(images), batch_size):
            x = tf.constant(images[start:start + batch_size])
            levels = tf.constant(levels_all[start:start + batch_size])
            seed_t = tf.constant([seed, start], tf.int64)
            if not self.conditional:
                ll = self._iwae_log_px(levels, x, None, k, seed_t)
            elif label_all is not None:
                ll = self._iwae_log_px(levels, x, tf.constant(label_all[start:start + batch_size]), k, seed_t)
            else:  # log p(x) = log (1/K) sum_y p(x | y)
                per_class = [self._iwae_log_px(levels, x, tf.fill(tf.shape(x)[:1], y), k, seed_t)
                             for y in range(self.num_classes)]
                ll = tf.reduce_logsumexp(tf.stack(per_class), axis=0) - math.log(self.num_classes)
            out.append(-ll.numpy())
        return np.concatenate(out).astype(np.float64)

    def negative_elbo(self, images, labels=None, seed: int = 0) -> np.ndarray:
        """-ELBO per image (N,) under the same discretised likelihood as `log_likelihood` (one z
        each): L_1, the bound that L_k tightens."""
        images = np.asarray(images, np.float32)
        levels = tf.constant(np.round((images.astype(np.float64) + 1.0) * 127.5).astype(np.float32))
        lab = None if labels is None else tf.constant(np.asarray(labels, np.int32))
        mu, log_var = self.encoder(self._with(tf.constant(images), lab), training=False)
        z = mu + tf.exp(0.5 * log_var) * tf.random.stateless_normal(tf.shape(mu), seed=[seed, 0])
        logits = self.decoder(self._with(z, lab), training=False)
        ll = discrete_log_likelihood(levels, logits, *self._likelihood_args())
        return (gaussian_kl(mu, log_var) - ll).numpy().astype(np.float64)

    def _label_spec(self):
        raise KerasGenError(f"{self.registered_name} is not class-conditional: it takes no labels.")


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalVAE(VAE):
    """The VAE with q(z | x, y) and p(x | z, y); sampling takes the class."""

    @dataclass
    class Options(VAE.Options):
        latent_dim: int = option(8, "z size; with the class given, 8 dimensions hold the rest (at 16 the bound is "
                                 "0.25 bits/dim lower, but samples follow their label less: 0.93 against 0.99)", min=1)
        prior: str = option("class", "p(z | y): class, a learned N(mu_y, diag sigma_y^2) per class (samples follow "
                            "the label even when z holds the class); standard, N(0, I) for every class",
                            choices=("class", "standard"))

    harness_options = {"latent_dim": 2, "base_filters": 4, "hidden": 8, "iw_samples": 2}
    conditional = True
    options_added_later = {**VAE.options_added_later, "prior": "standard"}  # configs before the class prior

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("cvae is class-conditional: it needs labelled data (digits, shapes, photos, textures, "
                                "a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)
        self.class_prior = None
        if self.options.prior == "class":  # rows: (mean, log_variance) of p(z | y); starts as N(0, I)
            self.class_prior = layers.Embedding(self.num_classes, 2 * self.options.latent_dim,
                                                embeddings_initializer="zeros", name="class_prior")
            self.class_prior.build((None,))

    def variables_for(self, optimizer_name):
        own = self.class_prior.trainable_variables if self.class_prior is not None else []
        return super().variables_for(optimizer_name) + own

    def prior_parameters(self, labels=None):
        if self.class_prior is None:
            return 0.0, 0.0
        return tf.split(self.class_prior(tf.cast(labels, tf.int32)), 2, axis=-1)  # (B, J) each

    def split_batch(self, data):
        images, labels = data
        return images, tf.cast(labels, tf.int32)

    def _label_spec(self):
        return kinds.label(self.num_classes)

    def input_specs(self):
        return [kinds.latent(self.options.latent_dim), self._label_spec()]

    def encode_specs(self):
        return [kinds.image(self.image_shape, name="image"), self._label_spec()]

    def generate(self, z, label):
        """z (B, J) ~ N(0, I), label (B,) -> the decoder's mean image (B, S, S, C) in [-1, 1]; with
        the class prior, z is first moved to p(z | y): mu_y + sigma_y z."""
        label = tf.convert_to_tensor(label)
        mean, log_var = self.prior_parameters(label)
        z = mean + tf.exp(0.5 * log_var) * z
        return decoder_mean(self.decoder([z, label], training=False), self.options.likelihood)
