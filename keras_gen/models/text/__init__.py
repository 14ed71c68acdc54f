"""The text-to-image family: images drawn from captions. A StackGAN-style two-stage GAN on the
adversarial game, and a denoising diffusion model with caption conditioning and classifier-free
guidance. Both train on captioned data (`shapes`, captioned from its drawing attributes, or a
folder with caption files) and take a caption as a `text` input (`keras-gen sample RUN --text
"a large blue circle"`). Registered here, without importing TensorFlow."""

from keras_gen.registry import Family

family = Family("text", __name__)
family.register("text2img", "stackgan:TextToImageGAN", data_kind="captioned",
                summary="StackGAN-style text-to-image: a caption encoder, conditioning augmentation, a low-resolution "
                        "stage and a refining stage, matching-aware discriminators",
                paper="Zhang et al. 2017 (StackGAN); Reed et al. 2016")
family.register("tddpm", "tddpm:TextDDPM", data_kind="captioned",
                summary="text-conditioned diffusion with classifier-free guidance: caption dropout trains p(x|text) "
                        "and p(x) in one U-Net", paper="Ho & Salimans 2021; Nichol et al. 2022 (GLIDE)")
