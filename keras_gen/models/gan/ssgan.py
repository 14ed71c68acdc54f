"""Semi-supervised GAN: Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen 2016, "Improved
Techniques for Training GANs", section 5 (after Odena 2016 and Springenberg 2016).

D is a K-class classifier with logits l(x) in R^K; "fake" is class K + 1 with its logit fixed
at 0 (the paper's observation that one of K + 1 logits is redundant), so

    p(y = k | x) = exp(l_k) / (Z(x) + 1),   Z(x) = sum_k exp(l_k(x)),   D(x) = Z(x) / (Z(x) + 1)
                 = sigmoid(logsumexp_k l_k(x)),

i.e. the real/fake logit is logsumexp l(x), and every game of the loop applies to it:

    L_D = L_unsupervised + L_supervised
    L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))         (the game's d_loss, non-saturating)
    L_supervised   = -E_{(x, y) labelled} log p(y | x, y < K + 1) = CE(l(x), y)
    L_G            = -E_z log D(G(z))                               (the paper prefers feature matching
                                                                     for the classifier; not here)

Few labels: with `labels_per_class` = n, D's supervised term sees only the first n images of
each class that training meets, kept in a buffer of the model (a checkpoint carries it, so
resume is exact); each step draws a batch from it. 0 uses every label. `classify` gives D's
class; `test_accuracy` scores it on labelled images.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen.errors import KerasGenError
from keras_gen.losses.adversarial import PROBABILITY_LOSSES
from keras_gen.models.base import option
from keras_gen.models.gan.latent_gan import LatentGAN
from keras_gen.models.gan.dcgan import _check_image_size, _init, build_generator, discriminator_trunk


@keras.saving.register_keras_serializable(package="keras_gen")
class SemiSupervisedGAN(LatentGAN):
    """DCGAN's generator; D's trunk ends in K class logits, its real/fake logit their logsumexp."""

    @dataclass
    class Options(LatentGAN.Options):
        base_filters: int = option(64, "DCGAN's width at the largest feature map", min=1)
        labels_per_class: int = option(0, "labelled images per class D's supervised term sees (the first met); "
                                          "0: every label", min=0, max=100000)
        supervised_weight: float = option(1.0, "weight of the supervised cross-entropy (the paper's 1)", min=0.0)

    harness_options = {"latent_dim": 8, "base_filters": 4, "labels_per_class": 2}

    def __init__(self, **kwargs):
        if kwargs.get("num_classes") is None:
            raise KerasGenError("ssgan learns a classifier: it needs labelled data (digits, shapes, photos, textures, "
                                "a labelled TFDS set, or a folder with one subfolder per class).")
        super().__init__(**kwargs)
        o, k = self.options, self.num_classes
        if o.loss not in PROBABILITY_LOSSES:
            raise KerasGenError(f"ssgan's D(x) = Z / (Z + 1) is a probability: use loss=non_saturating or minimax, "
                                f"not {o.loss}.")
        if o.labels_per_class:
            # The labelled few: slot k * n + i holds the i-th image of class k that training met.
            slots = k * o.labels_per_class
            self.labelled_images = self.add_weight(shape=(slots, *self.image_shape), initializer="zeros",
                                                   trainable=False, name="labelled_images")
            self.labelled_per_class = self.add_weight(shape=(k,), initializer="zeros", dtype="int32",
                                                      trainable=False, name="labelled_per_class")
        self.supervised_tracker = keras.metrics.Mean(name="supervised_loss")
        self.accuracy_tracker = keras.metrics.Mean(name="labelled_accuracy")  # D on the labels it learns from
        self.extra_trackers += [self.supervised_tracker, self.accuracy_tracker]

    def build_networks(self):
        o = self.options
        _check_image_size(self.image_size)
        generator = build_generator(o.latent_dim, self.image_size, self.channels, o.base_filters)
        inputs, features = discriminator_trunk(self.image_size, self.channels, o.base_filters, wrap=self.d_layer)
        classes = self.d_layer(layers.Conv2D(self.num_classes, 4, 1, "valid", kernel_initializer=_init()))(features)
        discriminator = keras.Model(inputs[0], layers.Flatten(dtype="float32", name="class_logits")(classes),
                                    name="discriminator")
        return generator, discriminator

    # -- training ------------------------------------------------------------------------------
    def discriminate(self, images):
        """(real/fake logit logsumexp_k l_k(x) (B, 1), class logits l(x) (B, K)), training mode:
        D(x) = sigmoid(logsumexp l(x))."""
        class_logits = self.discriminator(images, training=True)  # (B, K)
        return tf.reduce_logsumexp(class_logits, axis=-1, keepdims=True), class_logits

    def supervised_loss(self, images, targets, weights):
        """CE(l(x), y) over the labelled images, weighted (0 for an empty buffer slot); tracked."""
        class_logits = self.discriminator(images, training=True)
        ce = keras.losses.sparse_categorical_crossentropy(targets, class_logits, from_logits=True)
        supervised = tf.reduce_sum(ce * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        self.supervised_tracker.update_state(supervised)
        correct = tf.cast(tf.equal(tf.argmax(class_logits, -1, output_type=tf.int32), targets), tf.float32)
        self.accuracy_tracker.update_state(tf.reduce_sum(correct * weights) / tf.maximum(tf.reduce_sum(weights), 1.0))
        return supervised

    def train_step(self, data):
        """D's update on L_unsupervised + w L_supervised, then G's on its turn (non-saturating)."""
        images, labels = data
        # The supervised term's batch: the labels of this batch, or a draw from the few kept.
        labelled = self.labelled_batch(images, tf.cast(labels, tf.int32))
        batch, game = tf.shape(images)[0], self.game

        def critic(x):  # the real/fake logit, for the penalties
            return self.discriminate(x)[0]

        z = self.draw_latents(batch)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_seen, fake_seen = game.augment(images), game.augment(fake)
            real_logits, fake_logits = critic(real_seen), critic(fake_seen)
            d_loss = game.discriminator_loss(real_logits, fake_logits)
            d_loss += self.options.supervised_weight * self.supervised_loss(*labelled)
            d_loss += game.penalty(critic, real_seen, fake_seen)
        self.apply_gradients("discriminator", tape, d_loss)
        game.discriminator_updated(real_logits)

        def generator_step():
            z = self.draw_latents(batch)
            with tf.GradientTape() as tape:
                g_loss = game.generator_loss(critic(game.augment(self.generator(z, training=True))))
            self.apply_gradients("generator", tape, g_loss)
            self.g_loss_tracker.update_state(g_loss)
            return g_loss

        game.generator_turn(generator_step)
        return self.track_discriminator(d_loss, real_logits, fake_logits)

    def remember_labelled(self, images, labels):
        """Keep the first `labels_per_class` images of each class met (a no-op once all are full)."""
        n = self.options.labels_per_class
        onehot = tf.one_hot(labels, self.num_classes, dtype=tf.int32)  # (B, K)
        earlier = tf.reduce_sum((tf.cumsum(onehot, axis=0, exclusive=True)) * onehot, axis=-1)  # same class before i
        position = tf.gather(self.labelled_per_class, labels) + earlier
        keep = position < n
        slots = tf.boolean_mask(labels * n + position, keep)[:, None]
        self.labelled_images.assign(tf.tensor_scatter_nd_update(self.labelled_images, slots,
                                                                tf.boolean_mask(images, keep)))
        self.labelled_per_class.assign(tf.minimum(self.labelled_per_class + tf.reduce_sum(onehot, axis=0), n))

    def labelled_batch(self, images, labels):
        """(images, labels, weights) of the supervised term: the batch itself with every label, else
        a draw from the buffer, weighted 0 where a slot is still empty."""
        if not self.options.labels_per_class:
            return images, labels, tf.ones(tf.shape(labels), tf.float32)
        n = self.options.labels_per_class
        self.remember_labelled(images, labels)
        slots = self.random_uniform((tf.shape(images)[0],), 0, self.num_classes * n, dtype="int32")
        slot_labels = slots // n
        filled = tf.cast(slots % n < tf.gather(self.labelled_per_class, slot_labels), tf.float32)
        return tf.gather(self.labelled_images, slots), slot_labels, filled

    # -- the classifier -------------------------------------------------------------------------
    def classify(self, images):
        """Images (B, S, S, C) in [-1, 1] -> D's class (B,), int32 (inference mode)."""
        return tf.argmax(self.discriminator(images, training=False), axis=-1, output_type=tf.int32)

    def test_accuracy(self, images, labels, batch_size: int = 256) -> float:
        """Fraction of `images` (float [-1, 1]) whose class D gets right."""
        predicted = np.concatenate([np.asarray(self.classify(images[i:i + batch_size]))
                                    for i in range(0, len(images), batch_size)])
        return float(np.mean(predicted == np.asarray(labels)))
