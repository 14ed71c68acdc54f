"""The adversarial family: GANs from a latent z, trained by the game (game.py) that each model's
train_step calls. Registered here, without importing TensorFlow; a model's module is imported
when the model is used."""

from keras_gen.registry import Family

family = Family("adversarial", __name__)
family.register("dcgan", "dcgan:DCGAN", data_kind="images",  # labels, if the data has them, are not used
                summary="DCGAN: convolutional GAN, non-saturating or minimax loss",
                paper="Radford, Metz & Chintala 2016")
family.register("cdcgan", "cdcgan:ConditionalDCGAN", data_kind="labelled",
                summary="class-conditional DCGAN: samples a requested class", paper="Mirza & Osindero 2014")
family.register("wgan", "wgan:WGAN", data_kind="images",
                summary="WGAN: Wasserstein critic with weight clipping, RMSprop, 5 critic steps",
                paper="Arjovsky, Chintala & Bottou 2017")
family.register("wgan_gp", "wgan_gp:WGANGP", data_kind="images",
                summary="WGAN-GP: Wasserstein critic with a gradient penalty", paper="Gulrajani et al. 2017")
family.register("acgan", "acgan:ACGAN", data_kind="labelled",
                summary="AC-GAN: D also classifies; samples a requested class", paper="Odena, Olah & Shlens 2017")
family.register("infogan", "infogan:InfoGAN", data_kind="images",  # unsupervised: labels are not used
                summary="InfoGAN: unsupervised categorical and continuous codes, mutual-information head",
                paper="Chen et al. 2016")
family.register("ssgan", "ssgan:SemiSupervisedGAN", data_kind="labelled",
                summary="semi-supervised GAN: a K+1-class discriminator that learns from few labels",
                paper="Salimans et al. 2016")
family.register("lapgan", "lapgan:LAPGAN", data_kind="images",
                summary="LAPGAN: a Laplacian pyramid of conditional GANs, sampled coarse to fine",
                paper="Denton et al. 2015")
family.register("progan", "progan:ProGAN", data_kind="images",
                summary="ProGAN: progressive growing with fade-in, minibatch stddev, equalised lr, pixel norm",
                paper="Karras et al. 2018")
family.register("stylegan", "stylegan:StyleGAN", data_kind="images",
                summary="StyleGAN with StyleGAN2's demodulated convolutions: mapping, noise, style mixing, "
                        "truncation in W", paper="Karras, Laine & Aila 2019; Karras et al. 2020")
