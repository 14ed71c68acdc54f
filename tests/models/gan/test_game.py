"""The adversarial game as a component (keras_gen/models/gan/game.py): one draw of the augmentation
for an image and its pair, a model with two games, and pairs kept aligned in a pix2pix-style step."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.models.gan.game import AdversarialGame
from keras_gen.registry import build
from tests.models.toy_pix2pix import ToyPix2Pix

POLICY = "color,translation,cutout"


def _images(n=6, height=12, width=20, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, height, width, 1)).astype("float32")


def _pix2pix(**options):
    model = ToyPix2Pix(image_size=(12, 20), channels=1, **{"filters": 4, "augment": POLICY, **options})
    model.compile()
    return model


def test_one_draw_transforms_an_image_and_its_pair_alike():
    game = _pix2pix().game
    a = tf.constant(_images())
    seen_a, seen_b = game.augment(a, a)
    np.testing.assert_array_equal(seen_a, seen_b)  # the same transform for both images of the pair
    assert not np.allclose(seen_a, a)  # and it did transform them
    again = game.augment(a)  # one image: a tensor, and a fresh draw per call
    assert isinstance(again, tf.Tensor) and not np.allclose(again, seen_a)


def test_no_augmentation_passes_everything_through():
    game = _pix2pix(augment="none").game
    a, b = tf.constant(_images(seed=1)), tf.constant(_images(seed=2))
    assert game.augment(a) is a
    assert game.augment(a, b) == [a, b]


def test_the_discriminator_sees_aligned_pairs_in_the_training_step():
    """With the target equal to the input, every (input, image) pair D sees on the real side is
    two equal images, however the pair was translated and cut out."""
    model = _pix2pix()
    seen = []
    critic = model.critic

    def recording_critic(source, image):
        seen.append((np.asarray(source), np.asarray(image)))
        return critic(source, image)

    model.critic = recording_critic
    a = tf.constant(_images(seed=3))
    logs = model.train_step((a, a))
    assert all(np.isfinite(float(v)) for v in logs.values())
    real_source, real_image = seen[0]
    np.testing.assert_array_equal(real_source, real_image)
    assert not np.allclose(real_source, np.asarray(a))


def test_two_games_of_one_model_keep_their_own_state_and_names():
    """CycleGAN's shape: a second discriminator's game, with its own ADA probability and trackers."""
    model = _pix2pix(ada_target=0.6)
    second = AdversarialGame(model, discriminator="discriminator", name="b_")
    assert [m.name for m in model.game.metrics] == ["augment_p", "ada_r_t"]
    assert [m.name for m in second.metrics] == ["b_augment_p", "b_ada_r_t"]
    assert second.augment_p is not model.game.augment_p and second.score_names == ("b_d_real", "b_d_fake")
    model.optimizers["discriminator"].iterations.assign(4)
    second.adapt_augmentation(tf.fill((8, 1), 5.0))  # only the second game's D overfits
    assert float(second.augment_p) > 0.0 and float(model.game.augment_p) == 0.0


@pytest.mark.parametrize("options, match", [({"ada_target": 0.6, "augment": "none"}, "augment policy"),
                                            ({"loss": "hinge", "label_smoothing": 0.1}, "label_smoothing")])
def test_the_game_refuses_options_that_do_not_go_together(options, match):
    with pytest.raises(KerasGenError, match=match):
        build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4, **options)


def test_pix2pix_style_training_lowers_l1_and_keeps_any_size():
    model = _pix2pix(augment="translation", l1_weight=100.0)
    a = _images(16, seed=4)
    b = -a  # a translation the network can learn: the negative
    dataset = tf.data.Dataset.from_tensor_slices((a, b)).batch(8).repeat(6)
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1])
    first = float(tf.reduce_mean(tf.abs(model.generate(tf.constant(a)) - b)))
    model.fit(dataset, epochs=3, verbose=0)
    assert float(tf.reduce_mean(tf.abs(model.generate(tf.constant(a)) - b))) < first
    assert model.generate(tf.constant(_images(2, 9, 31))).shape == (2, 9, 31, 1)  # fully convolutional
