"""The latent family: autoencoders, the face-swap autoencoder, GLO, VAE and VQ-VAE, and the
conditional "chairs" decoder. Registered here, without importing TensorFlow; a model's module is
imported when the model is used."""

from keras_gen.registry import Family

family = Family("latent", __name__)
family.register("autoencoder", "autoencoder:Autoencoder", data_kind="images",  # labels are not used
                summary="convolutional autoencoder: reconstructs images through a code; MSE, MAE or perceptual loss",
                paper="Hinton & Salakhutdinov 2006")
family.register("faceswap", "faceswap:FaceSwap", data_kind="unpaired",  # (images_a, images_b), independent draws
                summary="face-swap autoencoder: shared encoder, one decoder per identity; swaps A <-> B",
                paper="deepfakes/faceswap 2017")
family.register("glo", "glo:GLO", data_kind="indexed",
                summary="GLO: one learned latent per image and a generator, Laplacian L1 loss; samples from a "
                        "Gaussian fitted to the latents", paper="Bojanowski et al. 2018")
family.register("vae", "vae:VAE", data_kind="images",
                summary="VAE: ELBO with beta and KL warm-up; importance-weighted bits/dim", paper="Kingma & Welling 2014")
family.register("cvae", "vae:ConditionalVAE", data_kind="labelled",
                summary="conditional VAE: the class fed to encoder and decoder; samples a requested class",
                paper="Sohn, Lee & Yan 2015")
family.register("vqvae", "vqvae:VQVAE", data_kind="images",  # labels are not used
                summary="VQ-VAE: discrete codes, straight-through quantiser; samples decode code maps drawn from "
                        "a gated PixelCNN prior", paper="van den Oord, Vinyals & Kavukcuoglu 2017")
family.register("chairs", "chairs:ChairsDecoder", data_kind="attributes",
                summary="conditional decoder: draws a class at a given rotation, scale, position and colour; "
                        "trained on shapes' attributes", paper="Dosovitskiy et al. 2015")
