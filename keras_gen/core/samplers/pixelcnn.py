"""Ancestral sampling of an autoregressive (PixelCNN) model: one sub-pixel per network call, in
numpy; its tf.while_loop twin is keras_gen.core_tf.samplers.PixelCNNSampler.

With the factorisation p(x) = prod_t p(x_t | x_<t) over the T = H * W * C sub-pixels in raster
order (pixel by pixel, R before G before B), step t runs the network on the codes drawn so far,
reads the K logits l of sub-pixel t and draws from softmax(l / temperature) by the Gumbel-max
trick:
    x_t = argmax_k (l_k / temperature + g_k),   g_k = -log(-log u_k),   u_k ~ U(0, 1)
with u from `Sampler.step_uniforms` (keras_gen.core.latents' counter generator, stream SAMPLER_STREAM_BASE + t):
the same integers, hence the same uniforms, in numpy and in TF, so both loops draw the same
codes for the same seed. Temperature -> 0 approaches the argmax; 1 is the model's distribution.

The network takes the codes as `feed`:
    "levels"   an image in [-1, 1]: code k of K -> 2 k / (K - 1) - 1 (256 levels, or 2 for binary)
    "codes"    the integer map itself (B, H, W) (a VQ-VAE prior over its code map; C = 1)
and returns `logits` (B, H, W, C, K). With `decode`, the finished code map goes through the
network once more and its `images` output is the sample (the VQ-VAE decoder); otherwise the
levels are the image. Batched request inputs named in `conditions` (a class label) are passed
to every network call.
"""

from __future__ import annotations

import numpy as np

from keras_gen.core import inputs as kinds
from keras_gen.core.errors import KerasGenError
from keras_gen.core.samplers import Sampler, register_sampler

FEEDS = ("levels", "codes")
TEMPERATURE_RANGE = (1e-3, 10.0)


@register_sampler
class PixelCNNSampler(Sampler):
    """config: height, width, channels, categories, feed, input (network input name), decode,
    conditions (request inputs passed to the network), temperature (the default)."""

    name = "pixelcnn"

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        self.height, self.width, self.channels = int(c["height"]), int(c["width"]), int(c.get("channels", 1))
        self.categories, self.feed = int(c["categories"]), c.get("feed", "levels")
        self.input_name, self.decode = c.get("input", "images"), bool(c.get("decode", False))
        self.conditions = list(c.get("conditions", []))
        if self.feed not in FEEDS or (self.feed == "codes" and self.channels != 1) or self.categories < 2:
            raise KerasGenError(f"pixelcnn sampler: bad config {self.config!r}.")
        self.steps = self.height * self.width * self.channels

    def option_specs(self):
        default = float(self.config.get("temperature", 1.0))
        return [kinds.option("temperature", default, *TEMPERATURE_RANGE, "float32",
                             "divides the logits: below 1 sharper and less varied, above 1 noisier")]

    # -- numpy (edge) ----------------------------------------------------------------------------
    def _feed_numpy(self, codes):
        if self.feed == "codes":
            return codes[..., 0]
        return (codes.astype(np.float32) * np.float32(2.0 / (self.categories - 1)) - np.float32(1.0))

    def run_numpy(self, network, inputs, n, seed, progress=None):
        n = int(n)
        temperature = np.float32(inputs["temperature"])
        given = {k: inputs[k] for k in self.conditions}
        codes = np.zeros((n, self.height, self.width, self.channels), np.int32)
        flat = codes.reshape(n, self.steps)  # a view: raster order, sub-pixels innermost
        for step in range(self.steps):
            logits = np.asarray(network({self.input_name: self._feed_numpy(codes), **given})["logits"], np.float32)
            logits = logits.reshape(n, self.steps, self.categories)[:, step]  # (n, K)
            gumbel = -np.log(-np.log(self.step_uniforms(n, self.categories, seed, step)))
            flat[:, step] = np.argmax(logits / temperature + gumbel, axis=-1)
            if progress is not None:
                progress(step + 1, self.steps)
        if self.decode:
            return np.asarray(network({self.input_name: self._feed_numpy(codes), **given})["images"], np.float32)
        return self._feed_numpy(codes) if self.feed == "levels" else codes
