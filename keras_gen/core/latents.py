"""Seeded Gaussian latents that are bit-for-bit the same in numpy and in a TensorFlow graph.

A sampling request (`n`, `seed`) must give the same images from the CLI, the SavedModel's
`sample` endpoint and the onnxruntime edge path, which never imports TensorFlow. Library RNGs
differ between numpy (PCG64) and TF (Philox), so latents come from one small counter-based
generator written twice with the same integer arithmetic, here in numpy and in
keras_gen/core_tf/latents.py in TF ops (`gaussian_latents_tf`, ...), tested equal:

    u_k = (hash32(hash32(k) + hash32(seed)) >> 8 + 0.5) / 2**24    (uniform in (0, 1), + mod 2**32)
    z_i = sqrt(-2 ln u_{2i}) * cos(2 pi u_{2i+1})                  (Box-Muller)

`hash32` is the "lowbias32" integer finaliser (two multiply-xorshift rounds), which mixes
consecutive counters well. The counter is hashed before the seed's key is added: with a plain
`key ^ k`, two seeds would share whole runs of latents (counter k of one seed being counter
k ^ (key_a ^ key_b) of the other); through a bijective hash and a modular add, a shared value
needs a chance collision. Element i of a batch depends only on (seed, i), so the first k
samples of `n=64` equal the `n=k` request. The integer part is exact in both runtimes; the
float part (log, cos) agrees to ~1e-6.

A model with several random inputs (InfoGAN's z and its codes) draws each from its own
*stream*: stream s > 0 keys the counters with hash32(hash32(seed) + s) instead of hash32(seed),
so the streams are independent and stream 0 is the plain latent sequence above. Besides
Gaussians, the same uniforms give U(-1, 1) codes (2u - 1) and categorical codes floor(u * K).
"""

from __future__ import annotations

import numpy as np

_M1, _M2 = 0x7FEB352D, 0x846CA68B

# Streams, so no two draws of one request share numbers: a request's random inputs take 0, 1, ...
# in declaration order (keras_gen.core.inputs.streams); the parity check's random images take
# PARITY_IMAGE_STREAM; a loop sampler's step k draws from SAMPLER_STREAM_BASE + k.
PARITY_IMAGE_STREAM = 1 << 15
SAMPLER_STREAM_BASE = 1 << 16


def _hash32_np(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(_M1)
    x ^= x >> np.uint32(15)
    x *= np.uint32(_M2)
    x ^= x >> np.uint32(16)
    return x


def _uniforms_np(count: int, seed: int, stream: int) -> np.ndarray:
    """`count` float32 uniforms in (0, 1) of (seed, stream)."""
    with np.errstate(over="ignore"):
        key = _hash32_np(np.array([int(seed) & 0xFFFFFFFF], np.uint64))
        if stream:
            key = _hash32_np(key + np.uint32(stream))
        bits = _hash32_np(_hash32_np(np.arange(count, dtype=np.uint32)) + key.astype(np.uint32))
    return ((bits >> np.uint32(8)).astype(np.float32) + np.float32(0.5)) / np.float32(2**24)


def gaussian_latents(n: int, latent_dim: int, seed: int, stream: int = 0) -> np.ndarray:
    """(n, latent_dim) float32 standard normals for `seed` (numpy; no TensorFlow)."""
    u = _uniforms_np(2 * int(n) * int(latent_dim), seed, stream)
    u1, u2 = u[0::2], u[1::2]
    z = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2.0 * np.pi) * u2)
    return z.astype(np.float32).reshape(int(n), int(latent_dim))


def uniform_codes(n: int, dim: int, seed: int, stream: int) -> np.ndarray:
    """(n, dim) float32 codes uniform in (-1, 1) (InfoGAN's continuous codes)."""
    u = _uniforms_np(int(n) * int(dim), seed, stream)
    return (np.float32(2.0) * u - np.float32(1.0)).reshape(int(n), int(dim))


def categorical_codes(n: int, num_classes: int, seed: int, stream: int) -> np.ndarray:
    """(n,) int32 categories, uniform over range(num_classes) (InfoGAN's categorical codes).
    u * K is one IEEE float32 product, the same in both runtimes."""
    u = _uniforms_np(int(n), seed, stream)
    return np.minimum((u * np.float32(num_classes)).astype(np.int32), int(num_classes) - 1)


# -- moving through the latent space: the same arithmetic on numpy arrays and TF tensors ----------
TRUNCATION_RANGE = (0.0, 1.0)  # psi: 0 draws the prior's mean only, 1 is no truncation


def truncate(z, psi):
    """The truncation trick by scaling toward the mean (Karras et al. 2019, StyleGAN, eq. 3 with
    psi in place of their psi):

        z' = z_bar + psi (z - z_bar),   z_bar = 0 for the N(0, I) prior,  so  z' = psi z.

    psi < 1 trades variety for fidelity: latents move in from the shell where the generator saw
    few samples. Not BigGAN's variant (Brock et al. 2019, resample each |z_i| > threshold):
    resampling needs further draws whose number depends on the threshold, so a request's images
    would no longer be one fixed function of (n, seed) on every runtime; scaling is one multiply,
    the same in numpy, TF and ONNX. Works on numpy arrays and TF tensors alike."""
    return z * psi


def slerp(z_a: np.ndarray, z_b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation (White 2016, "Sampling Generative Networks", after Shoemake 1985):

        slerp(a, b; t) = sin((1 - t) omega) / sin(omega) a + sin(t omega) / sin(omega) b,
        cos(omega) = a . b / (|a| |b|)

    For t in [0, 1]: (T,) or a scalar -> (T, J). Gaussian latents in high dimension lie near a
    shell of radius sqrt(J); a straight line between two of them cuts inside it (the midpoint's
    norm is about sqrt(J / 2)), slerp stays near it. Falls back to lerp when a and b are
    (nearly) parallel, where sin(omega) -> 0."""
    z_a, z_b = np.asarray(z_a, np.float64).reshape(-1), np.asarray(z_b, np.float64).reshape(-1)
    t = np.atleast_1d(np.asarray(t, np.float64))[:, None]  # (T, 1)
    cos_omega = np.dot(z_a, z_b) / max(np.linalg.norm(z_a) * np.linalg.norm(z_b), 1e-12)
    omega = np.arccos(np.clip(cos_omega, -1.0, 1.0))
    if omega < 1e-6:
        return ((1 - t) * z_a + t * z_b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z_a + np.sin(t * omega) * z_b) / np.sin(omega)).astype(np.float32)
