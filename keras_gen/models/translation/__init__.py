"""The translation family: image-to-image models that map images of one domain to another, with
pairs (pix2pix) or without (CycleGAN), trained by the adversarial game (keras_gen/models/gan/game.py)
that each train_step calls. Registered here without importing TensorFlow; a model's module is
imported when the model is used."""

from keras_gen.registry import Family

family = Family("translation", __name__)
family.register("pix2pix", "pix2pix:Pix2Pix", data_kind="paired",
                summary="pix2pix: U-Net generator, PatchGAN, conditional GAN + L1 on aligned pairs A -> B",
                paper="Isola, Zhu, Zhou & Efros 2017")
family.register("cyclegan", "cyclegan:CycleGAN", data_kind="unpaired",
                summary="CycleGAN: two ResNet generators and two PatchGANs, least-squares game, cycle and "
                        "identity losses, a pool of past fakes; unpaired A <-> B",
                paper="Zhu, Park, Isola & Efros 2017")
