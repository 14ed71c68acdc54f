"""Glow: Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions".

A multi-scale flow (keras_gen/layers/flow.py; data, dequantisation and training in
keras_gen/models/flow/multiscale.py) of L levels, each a squeeze, K steps of flow and, for all
but the last level, a split (fig. 2):

    step of flow    actnorm          y = (x + b) exp(log s) per channel, b and s initialised from
                                     the first batch (zero mean, unit variance), log det H W sum log|s|
                    1x1 convolution  y = x W, W = P L (U + diag(sign exp(log_s))) (LU-decomposed,
                                     sec. 3.2): log det H W sum log_s; P fixed, the rest learned
                    affine coupling  x_a, x_b = split(x); (log s, t) = NN(x_a), s = sigmoid(. + 2);
                                     y_b = (x_b + t) s; log det sum log s (table 1)
    split           half the channels leave as z_i ~ N(mu(h), sigma(h)), mu and sigma from a
                    zero-initialised convolution of the half h that stays
    top             z_L ~ N(mu, sigma) with a learned mean and scale per position

NN is the paper's conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> zero-initialised conv 3x3, so every
step starts as actnorm and a rotation. Sampling at temperature T draws every z_i as
mu + T sigma eps (sec. 5): lower T gives smoother, more typical images.

The 1x1 convolutions are LU-decomposed (not the plain W with log|det W| from a determinant):
log det is a sum and the inverse is matrix products only, so the sampling network is plain ONNX.
Differences from the paper, for CPU-sized models: widths and depths are the options', images
are 8-bit (not 5-bit), and there is no class conditioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from keras_gen.layers.flow import ActNorm, AffineCoupling, FactorOut, InvertibleConv1x1, LearnedPrior, Squeeze
from keras_gen.models.base import option
from keras_gen.models.flow.multiscale import FlowModel, FlowOptions


@keras.saving.register_keras_serializable(package="keras_gen")
class Glow(FlowModel):
    """Glow over dequantised images; see the module docstring."""

    @dataclass
    class Options(FlowOptions):
        width: int = option(64, "channels of each coupling's NN (the paper's 512; 64 suits 16 px on a CPU)", min=1)
        levels: int = option(2, "levels L: each squeezes once; all but the last split off half the channels", min=1)
        steps: int = option(8, "steps of flow K per level (the paper's 32)", min=1)

    preprocessing = "centre"
    harness_options = {"width": 4, "levels": 2, "steps": 1}

    def size_divisor(self) -> int:
        return 2 ** self.options.levels

    def flow_levels(self):
        o = self.options
        levels, splits = [], []
        for level in range(o.levels):
            steps = [Squeeze(name=f"level_{level}_squeeze")]
            for k in range(o.steps):
                steps += [ActNorm(name=f"level_{level}_actnorm_{k}"),
                          # seeded per step and per model seed: the initial rotations are reproducible
                          InvertibleConv1x1(seed=o.seed * 1000 + 100 * level + k, name=f"level_{level}_conv1x1_{k}"),
                          AffineCoupling("channel", width=o.width, blocks=0, scale="sigmoid",
                                         name=f"level_{level}_coupling_{k}")]
            levels.append(steps)
            if level < o.levels - 1:
                splits.append(FactorOut(learned=True, name=f"level_{level}_split"))
        return levels, splits, LearnedPrior(name="top_prior")
