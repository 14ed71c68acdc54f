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
