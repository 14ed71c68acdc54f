"""The explicit-density family: normalising flows with an exact likelihood, sampled in one call of the inverse.
Registered here, without importing TensorFlow; a model's module is imported when the model is used."""

from keras_gen.registry import Family

family = Family("density", __name__)  # the explicit-density family (docs/models/density.md)
family.register("realnvp", "realnvp:RealNVP", data_kind="images",
                summary="RealNVP: affine couplings with checkerboard and channel masks, squeeze, multi-scale; "
                        "exact bits/dim on dequantised pixels, sampled in one call",
                paper="Dinh, Sohl-Dickstein & Bengio 2017")
family.register("glow", "glow:Glow", data_kind="images",
                summary="Glow: actnorm, invertible 1x1 convolutions (LU), affine couplings, learned priors; "
                        "exact bits/dim, sampling with temperature",
                paper="Kingma & Dhariwal 2018")
