"""The text-to-image models: text2img (StackGAN-style, two stages) and tddpm (caption-guided
diffusion). Tiny networks at 8-16 px; the harness covers save/reload, resume and export parity."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import KerasGenError, registry
from keras_gen.core.samplers.text_diffusion import TextDiffusionSampler
from keras_gen.core.text import tokenize
from keras_gen.data.captions import SHAPES_VOCABULARY
from keras_gen.layers.conditioning import ConditioningAugmentation, kl_to_standard_normal
from keras_gen.layers.text_encoder import build_text_encoder


def _text2img(**options):
    spec = registry.get("text2img")
    return registry.build("text2img", image_size=16, channels=1, **{**spec.model_class.harness_options, **options})


def _spread(model, networks, seed=0):
    """Random weights with a spread (an untrained model's outputs are near constant)."""
    rng = np.random.default_rng(seed)
    for network in networks:
        for weight in network.weights:
            value = rng.uniform(0.5, 2.0, weight.shape) if "moving_variance" in weight.path else \
                rng.normal(0.0, 0.3, weight.shape)
            weight.assign(value.astype("float32"))


def test_conditioning_augmentation_draws_mu_plus_sigma_eps_and_its_kl_is_zero_at_the_prior():
    layer = ConditioningAugmentation(3, part=1)
    phi = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    eps = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    c, mean, log_var = (np.asarray(v) for v in layer([phi, eps]))
    np.testing.assert_allclose(c, mean + np.exp(0.5 * log_var) * eps[:, 3:], rtol=1e-5, atol=1e-6)  # its own slice
    assert float(kl_to_standard_normal(np.zeros((2, 3)), np.zeros((2, 3)))) == 0.0
    kl = float(kl_to_standard_normal(np.ones((2, 3)), np.log(np.full((2, 3), 2.0))))
    np.testing.assert_allclose(kl, 0.5 * 3 * (2 + 1 - 1 - np.log(2.0)), rtol=1e-5)


def test_the_caption_encoder_ignores_padding_and_gives_the_null_caption_its_bias():
    encoder = build_text_encoder(8, 6, 4, 5)
    ids = np.array([[2, 3, 4, 0, 0, 0], [2, 3, 4, 0, 0, 0], [0] * 6], np.int32)
    vectors = np.asarray(encoder(ids))
    assert vectors.shape == (3, 5)
    np.testing.assert_allclose(vectors[0], vectors[1])
    np.testing.assert_allclose(vectors[2], np.asarray(encoder.get_layer("caption_vector").bias), atol=1e-6)
    assert not np.allclose(np.asarray(encoder(np.array([[2, 4, 3, 0, 0, 0]], np.int32)))[0], vectors[0])  # order


def test_text2img_draws_both_stages_and_the_caption_changes_the_image():
    model = _text2img()
    _spread(model, [model.generator, model.text_encoder])
    n = 2
    z, eps = np.zeros((n, 4), "float32"), np.zeros((n, 8), "float32")
    ids = tokenize(["a large blue circle", "a small red star in the top left"], model.caption.vocabulary, 10)[0]
    low, high = (np.asarray(v) for v in model.generate_stages(z, eps, ids))
    assert low.shape == (n, 8, 8, 1) and high.shape == (n, 16, 16, 1)
    assert low.min() >= -1 and high.max() <= 1
    assert np.abs(high[0] - high[1]).mean() > 1e-3  # same latents, other caption, other image
    same = model.sample(3, seed=1, caption="a large blue circle", truncation=0.0)  # psi = 0: the caption's mean
    np.testing.assert_array_equal(same[0], same[2])
    assert model.options.vocabulary == "" and model.caption.vocabulary == SHAPES_VOCABULARY
    with pytest.raises(KerasGenError, match="power of two from 16"):
        registry.build("text2img", image_size=24, channels=1, **registry.get("text2img").model_class.harness_options)
    with pytest.raises(KerasGenError, match="option vocabulary: a vocabulary is"):
        _text2img(vocabulary="red Red")


def _weights(*networks):
    return [np.array(w) for network in networks for w in network.weights]


def _moved(before, networks) -> bool:
    return any(not np.allclose(a, b) for a, b in zip(before, _weights(*networks), strict=True))


def test_text2img_trains_its_encoders_with_the_discriminators_on_mismatched_and_matched_pairs(tmp_path):
    """Training moves the caption encoder and the matching term's image encoder (D's optimizer
    updates both), tracks the score of real images with another image's caption beside the real
    and fake scores, and how often a real and a generated image pick their own caption. The word
    readers (`word_reader`: one per stage, their own optimizer) train alone during their warm-up,
    here the first step: the game, G and D, starts at the second; a checkpoint keeps the count."""
    from keras_gen.data.training_data import caption_arrays
    from keras_gen.runs import load_checkpoint

    model = _text2img(filters=8, word_reader=True, reader_filters=2, reader_warmup_steps=1)
    model.compile()
    assert list(model.optimizers) == ["generator", "discriminator", "reader"]
    images, captions = caption_arrays("shapes", "train", image_size=16, channels=1, seed=0, limit=8)
    ids = tokenize(captions, model.caption.vocabulary, 10, truncate=True)[0]
    players = (model.generator, model.discriminator_1, model.discriminator_2, model.text_encoder)
    readers = model.readers
    before = _weights(*players), _weights(*readers)
    warmup = model.fit(images, ids, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert not _moved(before[0], players) and _moved(before[1], readers)  # the readers alone
    assert warmup["d_loss"] == [0.0] and 0.0 < warmup["words_real"][0] <= 1.0  # nothing played yet; the reader read
    encoder_before = [np.array(w) for w in model.text_encoder.weights + model.image_encoder.weights]
    generator_before = [np.array(w) for w in model.generator.trainable_weights]
    history = model.fit(images, ids, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    steps = [1, 1, 2]  # G's, D's and the readers': a resumed run goes on where the warm-up left off
    assert [int(model.optimizers[k].iterations) for k in ("generator", "discriminator", "reader")] == steps
    model.save(tmp_path / "reader.keras")
    loaded = load_checkpoint(tmp_path / "reader.keras")
    assert [int(loaded.optimizers[k].iterations) for k in ("generator", "discriminator", "reader")] == steps
    assert loaded.options.reader_warmup_steps == 1 and len(loaded.readers) == 2
    assert {"d_loss", "g_loss", "kl", "d_real", "d_fake", "d_wrong", "match_real", "match_fake", "words_real",
            "words_fake"} <= set(history)
    assert all(np.isfinite(v).all() for v in history.values())
    assert all(0.0 <= history[k][-1] <= 1.0 for k in ("match_real", "match_fake", "words_real", "words_fake"))
    for reader, side in zip(model.readers, (8, 16)):  # each stage's reader: one logit per vocabulary word
        assert reader.input_shape == (None, side, side, 1) and reader.output_shape == (None, len(SHAPES_VOCABULARY))
    assert all(len(critic.outputs) == 2 for critic in (model.discriminator_1, model.discriminator_2))  # no word heads
    for encoder in (model.text_encoder, model.image_encoder):
        moved = [not np.allclose(encoder_before.pop(0), np.asarray(w)) for w in encoder.weights]
        assert any(moved), encoder.name
    assert any(not np.allclose(a, np.asarray(b)) for a, b in zip(generator_before, model.generator.trainable_weights))


def test_the_matching_loss_is_low_for_aligned_pairs_and_log_b_for_unrelated_ones():
    from keras_gen.losses.contrastive import matching_accuracy, matching_loss

    rng = np.random.default_rng(0)
    captions = rng.normal(size=(6, 5)).astype("float32")
    aligned = float(matching_loss(2 * captions + 0.01 * rng.normal(size=(6, 5)), captions))  # scale does not count
    shuffled = float(matching_loss(captions[[1, 2, 3, 4, 5, 0]], captions))
    assert aligned < 0.5 < np.log(6) < shuffled
    np.testing.assert_allclose(float(matching_loss(np.ones((6, 5)), np.ones((6, 5)))), np.log(6), rtol=1e-5)  # no clue
    assert float(matching_accuracy(captions, captions)) == 1.0
    assert float(matching_accuracy(captions[[1, 0, 2, 3, 4, 5]], captions)) == pytest.approx(4 / 6)


def test_a_text2img_checkpoint_from_before_the_matching_term_loads_as_it_was(tmp_path):
    """A checkpoint written before the matching term and the caption's normalisation existed loads
    as it was: no image encoder, G reading phi as the encoder gives it."""
    from tests.models.old_checkpoints import assert_loads_as_before, save_as_before

    old = {"matching_weight": 0.0, "normalise_caption": False, "word_weight": 0.0, "coordinates": False,
           "mask_output": False, "word_reader": False, "reader_filters": 16, "reader_learning_rate": 3e-3,
           "reader_warmup_steps": 0}
    assert registry.get("text2img").model_class.options_added_later == old
    earlier = _text2img(**old)
    earlier.compile()
    assert earlier.image_encoder is None and not {"match_real", "words_real"} & {m.name for m in earlier.metrics}
    assert "caption_normalised" not in {layer.name for layer in earlier.generator.layers}
    assert len(earlier.discriminator_2.outputs) == 2
    assert not any(type(layer).__name__ == "CoordinateChannels"
                   for network in (earlier.generator, earlier.discriminator_2) for layer in network.layers)
    loaded = assert_loads_as_before(earlier, save_as_before(earlier, tmp_path / "old.keras", old),
                                    dict(n=2, seed=3, caption=["a large blue circle"]))
    assert loaded.image_encoder is None and loaded.readers == () and list(loaded.optimizers) == ["generator",
                                                                                              "discriminator"]
    today = _text2img()  # the word term's heads on the discriminators (word_reader is off: G fooled the readers)
    assert today.options.matching_weight > 0 and today.image_encoder.output_shape == (None, today.options.text_dim)
    assert "caption_normalised" in {layer.name for layer in today.generator.layers}
    assert len(today.discriminator_2.outputs) == 3 and today.readers == ()
    assert "stage2_joint_coordinates" in {layer.name for layer in today.generator.layers}


def test_the_word_loss_reads_a_caption_as_a_bag_of_its_words():
    """TAC-GAN's auxiliary term on the caption's words: PAD and UNK name no word, a repeated word
    counts once, the loss is the BCE summed over the vocabulary, and recall counts found words."""
    from keras_gen.losses.caption_words import bag_of_words, word_prediction_loss, word_recall

    ids = np.array([[2, 4, 4, 1, 0], [5, 0, 0, 0, 0]], np.int32)  # words 0 and 2 (twice) and UNK; word 3
    words = np.asarray(bag_of_words(ids, 4))
    np.testing.assert_array_equal(words, [[1, 0, 1, 0], [0, 0, 0, 1]])
    sure = np.where(words > 0, 20.0, -20.0).astype("float32")
    assert float(word_prediction_loss(sure, words)) < 1e-6 and float(word_recall(sure, words)) == 1.0
    np.testing.assert_allclose(float(word_prediction_loss(np.zeros((2, 4), "float32"), words)), 4 * np.log(2),
                               rtol=1e-5)  # no clue: log 2 per word, summed over the 4 words
    half = np.array([[20.0, -20.0, -20.0, -20.0], [-20.0, -20.0, -20.0, 20.0]], "float32")
    assert float(word_recall(half, words)) == pytest.approx(2 / 3)


def test_the_guided_sampler_mixes_the_conditional_and_the_null_caption_prediction():
    calls = []

    def network(feeds):
        calls.append(feeds["caption"].copy())
        # a prediction that depends on the caption: its first id, broadcast
        return {"prediction": feeds["x"] * 0 + feeds["caption"][:, :1, None, None].astype("float32")}

    sampler = TextDiffusionSampler(scheduler={"timesteps": 10, "schedule": "linear", "prediction": "epsilon"},
                                   height=2, width=2, channels=1, steps=2, guidance=3.0)
    x = np.zeros((2, 2, 2, 1), "float32")
    caption = np.array([[5, 2], [7, 0]], np.int32)
    out = sampler._predict_numpy(network, x, 3, {"caption": caption, "guidance": 3.0})
    np.testing.assert_allclose(out[:, 0, 0, 0], [15.0, 21.0])  # 0 + 3 * (c - 0): the null caption's id is 0
    assert (calls[-1][2:] == 0).all() and len(calls[-1]) == 4  # one batched call, the null caption second
    out = sampler._predict_numpy(network, x, 3, {"caption": caption, "guidance": 1.0})
    np.testing.assert_allclose(out[:, 0, 0, 0], [5.0, 7.0])
    assert len(calls[-1]) == 2  # w = 1: the conditional pass alone
    assert [s.name for s in sampler.option_specs()][-1] == "guidance"


def test_tddpm_reads_the_caption_in_its_denoiser_and_samples_with_guidance():
    spec = registry.get("tddpm")
    model = registry.build("tddpm", image_size=8, channels=1, **spec.model_class.harness_options)
    _spread(model, [model.denoiser])
    assert {"caption", "guidance"} <= {s.name for s in model.request_specs()}
    assert [s.name for s in model.network_specs()] == ["x", "t", "caption"]
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype("float32")
    ids = tokenize(["a large blue circle", "a small red star", "a large blue circle"], model.caption.vocabulary,
                   10)[0]
    ids[2] = 0  # the null caption: what caption dropout trains and guidance's unconditional pass sends
    out = np.asarray(model.network(x, 5, ids)["prediction"])
    again = np.asarray(model.network(x[[1, 0, 2]], 5, ids[[0, 1, 2]])["prediction"])
    assert np.abs(out[1] - again[0]).mean() > 1e-4  # same x_t, another caption: another prediction
    images = model.sample(2, seed=0, caption=["a large blue circle"], guidance=2.0, steps=2)
    assert images.shape == (2, 8, 8, 1) and -1 <= images.min() and images.max() <= 1
    with pytest.raises(KerasGenError, match="guidance"):
        model.sample(1, seed=0, guidance=99.0)
