"""The denoiser of the diffusion family: a U-Net over (x_t, t[, label]), after Ho et al. 2020
(appendix B): a PixelCNN++-style backbone of wide residual blocks with group normalisation, the
timestep as sinusoidal features through a two-layer MLP added in every block, self-attention at
the low resolutions, and skip connections from each down block to its mirror up block.

Class conditioning (for classifier-free guidance, Ho & Salimans 2021): a learned embedding of the
label is added to the time embedding; index `num_classes` is the null class, the "no label" that
label dropout trains and the sampler's unconditional pass uses. Any other condition (a caption)
comes as a `condition` network mapping its own inputs to one vector per sample, which is projected
and added to the embedding the same way; its inputs become the U-Net's.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_gen.layers.time_embedding import SinusoidalEmbedding
from keras_gen.layers.unet_blocks import ResidualBlock, ResizeUpsample, SelfAttention2D, norm_groups


def build_unet(shape, filters: int, multipliers: tuple, blocks: int, attention_resolution: int,
               groups: int = 32, num_classes: int | None = None, dropout: float = 0.0,
               name: str = "denoiser", condition: keras.Model | None = None) -> keras.Model:
    """[x (B, H, W, C), t (B,) int32 (, label (B,) int32 in [0, num_classes]) (, the inputs of
    `condition`)] -> (B, H, W, C)."""
    height, _, channels = shape
    x_in = keras.Input(shape, name="x")
    t_in = keras.Input((), dtype="int32", name="t")
    inputs = [x_in, t_in]
    emb_dim = 4 * filters  # the paper's time-MLP width: 4 x the base channels
    emb = SinusoidalEmbedding(filters, name="time_features")(t_in)  # (B, F)
    emb = layers.Dense(emb_dim, activation="silu", name="time_mlp_1")(emb)
    emb = layers.Dense(emb_dim, name="time_mlp_2")(emb)  # (B, 4F)
    if num_classes:
        label_in = keras.Input((), dtype="int32", name="label")
        inputs.append(label_in)
        emb = layers.Add(name="time_plus_class")([emb, layers.Embedding(num_classes + 1, emb_dim,
                                                                        name="class_embedding")(label_in)])
    if condition is not None:  # e.g. a caption encoder: its vector, projected, joins the time embedding
        condition_in = [keras.Input(i.shape[1:], dtype=i.dtype, name=i.name) for i in condition.inputs]
        inputs += condition_in
        vector = condition(condition_in[0] if len(condition_in) == 1 else condition_in)
        emb = layers.Add(name="time_plus_condition")([emb, layers.Dense(emb_dim, name="condition_projection")(vector)])

    def attend(h, resolution, tag):
        return SelfAttention2D(groups, name=f"attention_{tag}")(h) if resolution <= attention_resolution else h

    h = layers.Conv2D(filters, 3, padding="same", name="stem")(x_in)  # (B, H, W, F)
    skips, resolution = [h], height
    for level, multiplier in enumerate(multipliers):  # down: H -> H / 2^(L-1)
        for b in range(blocks):
            h = ResidualBlock(filters * multiplier, groups, dropout, name=f"down_{level}_{b}")([h, emb])
            h = attend(h, resolution, f"down_{level}_{b}")
            skips.append(h)
        if level < len(multipliers) - 1:
            h = layers.Conv2D(h.shape[-1], 3, strides=2, padding="same", name=f"downsample_{level}")(h)
            resolution //= 2
            skips.append(h)
    h = ResidualBlock(h.shape[-1], groups, dropout, name="middle_0")([h, emb])
    h = SelfAttention2D(groups, name="attention_middle")(h)
    h = ResidualBlock(h.shape[-1], groups, dropout, name="middle_1")([h, emb])
    for level, multiplier in reversed(list(enumerate(multipliers))):  # up, mirroring the skips
        for b in range(blocks + 1):
            h = layers.Concatenate(name=f"skip_{level}_{b}")([h, skips.pop()])
            h = ResidualBlock(filters * multiplier, groups, dropout, name=f"up_{level}_{b}")([h, emb])
            h = attend(h, resolution, f"up_{level}_{b}")
        if level > 0:
            h = ResizeUpsample(h.shape[-1], name=f"upsample_{level}")(h)
            resolution *= 2
    h = layers.GroupNormalization(norm_groups(h.shape[-1], groups), name="head_norm")(h)
    h = layers.Activation("silu", name="head_silu")(h)
    out = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", name="prediction")(h)
    return keras.Model(inputs, out, name=name)
