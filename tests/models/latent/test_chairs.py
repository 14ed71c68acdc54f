import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError, registry
from keras_gen.data import describe_training_data, training_dataset
from keras_gen.data.training_data import ATTRIBUTES, attribute_arrays

TINY = {"embedding_dim": 8, "transform_units": 16, "hidden": 32, "filters": 8, "upsamplings": 2}


@pytest.fixture(scope="module")
def trained():
    tf.keras.utils.set_random_seed(0)
    model = registry.build("chairs", image_size=16, channels=3, num_classes=6, **TINY)
    model.compile()
    data = training_dataset("attributes", "shapes", image_size=16, channels=3, batch_size=16, seed=0)
    history = model.fit(data, epochs=2, steps_per_epoch=15, verbose=0).history
    return model, history


def test_attribute_data_gives_images_labels_and_how_they_were_drawn():
    images, labels, attributes = attribute_arrays("shapes", "train", image_size=16, channels=3, seed=0, limit=5)
    from keras_gen.data import load_arrays

    plain, plain_labels, _ = load_arrays("shapes", "train", image_size=16, channels=3, limit=5, seed=0)
    np.testing.assert_array_equal(images, plain)  # the same images as the plain source, in order
    np.testing.assert_array_equal(labels, plain_labels)
    assert attributes.shape == (5, len(ATTRIBUTES)) and attributes.dtype == np.float32
    batch = next(iter(training_dataset("attributes", "shapes", image_size=16, channels=3, batch_size=4, seed=0)))
    assert [tuple(t.shape) for t in batch] == [(4, 16, 16, 3), (4,), (4, len(ATTRIBUTES))]


def test_data_without_attributes_is_one_clear_error(tmp_path):
    from keras_gen.training import RunConfig, train

    with pytest.raises(KerasGenError, match="--data 'digits' has none"):
        describe_training_data("attributes", "digits")
    with pytest.raises(KerasGenError, match="Pass --data shapes"):
        train(tmp_path / "run", RunConfig("chairs", data="digits", epochs=1), verbose=0)


def test_training_lowers_the_loss_and_the_rotation_option_turns_the_shape(trained):
    model, history = trained
    assert history["loss"][-1] < history["loss"][0]
    upright = model.sample(2, label=[3], rotation=0.0)
    turned = model.sample(2, label=[3], rotation=45.0)
    assert np.abs(upright - turned).max() > 1e-3
    np.testing.assert_array_equal(upright, model.sample(2, seed=9, label=[3], rotation=0.0))  # no noise
    assert not np.allclose(model.sample(1, label=[0]), model.sample(1, label=[1]))


def test_a_size_its_upsamplings_cannot_reach_names_the_option_chairs_has():
    with pytest.raises(KerasGenError, match=r"multiple of 4, got 18.*--set upsamplings=<fewer>") as caught:
        registry.build("chairs", image_size=18, channels=3, num_classes=6, **TINY)
    assert "downsamplings" not in str(caught.value)


def test_bad_labels_and_options_are_one_clear_error(trained):
    model, _ = trained
    for bad, message in ((dict(label=[6]), "class indices from 0 to 5"), (dict(label=[-1]), "class indices"),
                         (dict(rotation=361.0), "rotation=361.0 is out of range"),
                         (dict(scale=0.5), "scale=0.5 is out of range"), (dict(colour=8), "colour=8 is out of range"),
                         (dict(zoom=1.0), "unknown input")):
        with pytest.raises(KerasGenError, match=message):
            model.sample(2, **bad)


def test_morph_goes_from_one_class_to_the_other(trained):
    model, _ = trained
    row = model.morph(0, 4, steps=5, rotation=30.0)
    assert row.shape == (5, 16, 16, 3)
    np.testing.assert_allclose(row[0], model.sample(1, label=[0], rotation=30.0)[0], atol=1e-5)
    np.testing.assert_allclose(row[-1], model.sample(1, label=[4], rotation=30.0)[0], atol=1e-5)
    with pytest.raises(KerasGenError, match="class_b"):
        model.morph(0, 6)
    with pytest.raises(KerasGenError, match="out of range"):
        model.morph(0, 1, x=2.0)


def test_evaluation_samples_at_the_test_splits_poses(trained):
    model, _ = trained
    images, labels = model.sample_like_data(10, seed=0)
    _, test_labels, attributes = attribute_arrays("shapes", "test", image_size=16, channels=3, seed=0)
    np.testing.assert_array_equal(labels, test_labels[:10])
    assert images.shape == (10, 16, 16, 3) and images.min() >= -1 and images.max() <= 1
    # the same as asking for each image's own pose one request at a time
    column = {name: attributes[:, i] for i, name in enumerate(ATTRIBUTES)}
    one = model.generate(label=np.asarray([labels[3]], np.int32), rotation=column["rotation"][3],
                         scale=column["size"][3], x=column["x"][3], y=column["y"][3],
                         **({"colour": int(column["colour"][3])} if model.options.colour else {}))
    np.testing.assert_allclose(images[3], np.asarray(one)[0], atol=1e-5)
    with pytest.raises(KerasGenError, match="positive whole number"):
        model.sample_like_data(0)


def test_coordinate_channels_are_the_pixel_centres():
    from keras_gen.models.latent.chairs import CoordinateChannels

    x = np.zeros((2, 4, 8, 3), np.float32)  # height 4, width 8
    out = np.asarray(CoordinateChannels()(x))
    assert out.shape == (2, 4, 8, 5)
    np.testing.assert_array_equal(out[..., :3], x)
    np.testing.assert_allclose(out[0, 0, :, 3], (np.arange(8) + 0.5) / 8 * 2 - 1)  # column, left to right
    np.testing.assert_allclose(out[1, :, 0, 4], (np.arange(4) + 0.5) / 4 * 2 - 1)  # row, top to bottom
    assert np.all(out[:, :, :, 3] == out[:1, :1, :, 3]) and np.all(out[:, :, :, 4] == out[:1, :, :1, 4])


def test_the_mask_lays_the_colours_over_one_background():
    from keras_gen.models.latent.chairs import MaskComposite

    layer = MaskComposite()
    colours = np.random.default_rng(0).uniform(-1, 1, (1, 2, 2, 3)).astype(np.float32)
    logits = np.array([[[[-40.0], [40.0]], [[0.0], [-40.0]]]], np.float32)
    layer.build([colours.shape, logits.shape])
    layer.background.assign([-0.86, -0.86, -0.81])
    out = np.asarray(layer([colours, logits]))
    np.testing.assert_allclose(out[0, 0, 0], [-0.86, -0.86, -0.81], atol=1e-6)  # mask 0: the background, exactly
    np.testing.assert_allclose(out[0, 0, 1], colours[0, 0, 1], atol=1e-6)  # mask 1: the colours
    np.testing.assert_allclose(out[0, 1, 0], 0.5 * colours[0, 1, 0] + 0.5 * np.array([-0.86, -0.86, -0.81]), atol=1e-6)


def test_the_default_decoder_sees_positions_and_draws_a_mask(trained):
    model, _ = trained
    assert model.options.coordinates and model.options.mask_weight > 0
    kinds = [type(layer).__name__ for layer in model.decoder.layers]
    assert kinds.count("CoordinateChannels") == TINY["upsamplings"] + 1 and "MaskComposite" in kinds
    assert [tuple(t.shape) for t in model.decoder.outputs] == [(None, 16, 16, 3), (None, 16, 16, 1)]


def test_the_mask_target_is_every_pixel_off_the_background():
    from keras_gen.models.latent.chairs import shape_mask

    images, _, _ = attribute_arrays("shapes", "train", image_size=16, channels=3, seed=0, limit=8)
    target = np.asarray(shape_mask(tf.constant(images)))[..., 0]  # (8, 16, 16)
    background = np.all(np.abs(images - images[:, :1, :1]) < 1e-6, axis=-1)
    np.testing.assert_array_equal(target, ~background)
    assert 0.02 < target.mean() < 0.6 and set(np.unique(target)) == {0.0, 1.0}


def test_a_checkpoint_from_before_coordconv_and_the_mask_loads_as_it_was(tmp_path):
    from tests.models.old_checkpoints import assert_loads_as_before, save_as_before

    old = {"coordinates": False, "mask_weight": 0.0}
    assert registry.get("chairs").model_class.options_added_later == old
    model = registry.build("chairs", image_size=16, channels=3, num_classes=6, **TINY, **old)
    model.compile()
    data = training_dataset("attributes", "shapes", image_size=16, channels=3, batch_size=8, seed=0)
    model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    loaded = assert_loads_as_before(model, save_as_before(model, tmp_path / "old.keras", old),
                                    dict(n=2, seed=0, label=[1, 4], rotation=30.0))
    kinds = {type(layer).__name__ for layer in loaded.decoder.layers}
    assert not kinds & {"CoordinateChannels", "MaskComposite"}
    today = type(model).from_config(registry.build("chairs", image_size=16, channels=3, num_classes=6,
                                                   **TINY).get_config())
    assert today.options.coordinates and today.options.mask_weight == 1.0
