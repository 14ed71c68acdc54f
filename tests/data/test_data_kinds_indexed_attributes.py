"""The "indexed" (GLO) and "attributes" (chairs) data kinds of training_data.py."""

import numpy as np
import pytest

from keras_gen import KerasGenError
from keras_gen.data import describe_training_data, load_arrays, training_dataset
from keras_gen.data import training_data


def test_indexed_batches_pair_each_image_with_its_place_in_the_train_split():
    info = describe_training_data("indexed", "digits")
    assert info.train_size == 1437
    images, _, _ = load_arrays("digits", "train", image_size=16, channels=1)
    dataset = training_dataset("indexed", "digits", image_size=16, channels=1, batch_size=64, seed=0)
    seen = []
    for batch_images, indices in dataset.take(3):
        np.testing.assert_allclose(batch_images.numpy(), images[indices.numpy()], atol=1e-6)
        seen.extend(indices.numpy().tolist())
    assert len(set(seen)) == len(seen)  # shuffled without repeats within a pass
    again = next(iter(training_dataset("indexed", "digits", image_size=16, channels=1, batch_size=64, seed=0)))
    assert again[1].numpy().tolist() == seen[:64]  # same seed, same batches


def test_indexed_data_too_big_for_a_latent_table_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(training_data, "MAX_INDEXED_IMAGES", 1000)
    with pytest.raises(KerasGenError, match="one latent variable per image: at most 1000"):
        describe_training_data("indexed", "digits")


def test_attributes_come_only_from_sources_that_know_them():
    assert describe_training_data("attributes", "shapes").num_classes == 6
    for source in ("digits", "photos"):
        with pytest.raises(KerasGenError, match="Pass --data shapes"):
            describe_training_data("attributes", source)
        with pytest.raises(KerasGenError, match="has none"):
            training_dataset("attributes", source, image_size=16, channels=1, batch_size=8, seed=0)
