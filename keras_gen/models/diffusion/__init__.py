"""The diffusion family: DDPM/DDIM with a time-conditioned U-Net, and classifier-free guidance.
Registered here, without importing TensorFlow; a model's module is imported when the model is used."""

from keras_gen.registry import Family

family = Family("diffusion", __name__)
family.register("ddpm", "ddpm:DDPM", data_kind="images",
                summary="denoising diffusion with a time-conditioned U-Net; sampled by DDIM or DDPM steps",
                paper="Ho et al. 2020; Song et al. 2021 (DDIM)")
family.register("cddpm", "ddpm:ConditionalDDPM", data_kind="labelled",
                summary="class-conditional diffusion with classifier-free guidance: label dropout trains p(x|y) "
                        "and p(x) in one U-Net", paper="Ho & Salimans 2021")
