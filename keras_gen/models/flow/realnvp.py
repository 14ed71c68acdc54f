"""RealNVP: Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP".

A multi-scale flow of affine couplings (keras_gen/layers/flow.py; data, dequantisation and
training in keras_gen/models/flow/multiscale.py). With b a binary mask,
    y = b x + (1 - b) (x exp(s(b x)) + t(b x))                                   (eq. 9)
    log |det dy/dx| = sum_j (1 - b_j) s(b x)_j                                    (eq. 6)
so the Jacobian is triangular, its determinant a sum, and the inverse as cheap as the forward
pass. Each scale but the last (sec. 3.6): three couplings with alternating checkerboard masks,
a squeeze (H, W, C) -> (H/2, W/2, 4C), three couplings with alternating channel masks, and half
the channels factored out as a latent; the last scale is four checkerboard couplings. Latents
are N(0, I); s = scale * tanh(.) with a learned scale per channel (the paper's tanh-bounded s).
The s, t networks are small ResNets (`blocks` residual blocks of `width` channels).

Differences from the paper, for CPU-sized models: no batch normalisation (in the flow or in the
s, t networks; couplings start as the identity instead, their last convolution zero), no weight
normalisation or L2, and the widths are the options'.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from keras_gen.layers.flow import AffineCoupling, FactorOut, Squeeze
from keras_gen.models.base import option
from keras_gen.models.flow.multiscale import FlowModel, FlowOptions


@keras.saving.register_keras_serializable(package="keras_gen")
class RealNVP(FlowModel):
    """RealNVP over dequantised images; see the module docstring."""

    @dataclass
    class Options(FlowOptions):
        width: int = option(32, "channels of each coupling's s, t ResNet (the paper's 64; 32 suits 16 px on a CPU)",
                            min=1)
        blocks: int = option(1, "residual blocks in each s, t network (the paper's 8 on CIFAR-10)", min=0)
        scales: int = option(2, "scales: each but the last squeezes once and factors out half the channels", min=1)

    preprocessing = "logit"
    harness_options = {"width": 4, "blocks": 0, "scales": 1}  # multi-scale: tests/models/flow and glow's harness

    def size_divisor(self) -> int:
        return 2 ** (self.options.scales - 1)

    def flow_levels(self):
        o = self.options
        levels, splits = [], []
        for scale in range(o.scales):
            last = scale == o.scales - 1

            def coupling(mask, k, name):
                return AffineCoupling(mask, parity=k % 2, width=o.width, blocks=o.blocks, scale="tanh",
                                      name=f"scale_{scale}_{name}_{k}")

            level = [coupling("checkerboard", k, "checkerboard") for k in range(4 if last else 3)]
            if not last:
                level.append(Squeeze(name=f"scale_{scale}_squeeze"))
                level += [coupling("channel", k, "channel") for k in range(3)]
                splits.append(FactorOut(learned=False, name=f"scale_{scale}_factor_out"))
            levels.append(level)
        return levels, splits, None
