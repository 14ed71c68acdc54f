"""What each data kind feeds train_step, built from --data / --data-b, and the errors for wrong sources."""

import numpy as np
import pytest
from PIL import Image

from keras_gen import KerasGenError
from keras_gen.data import describe_training_data, training_dataset

SMALL = dict(image_size=16, batch_size=4, seed=3)


def _write_images(folder, n, mode, seed, names=None):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    shape = (12, 12) if mode == "L" else (12, 12, 3)
    for i in range(n):
        name = names[i] if names else f"img{i:02d}"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{name}.png")


@pytest.fixture(scope="module")
def two_domain_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_domain")
    names = [f"pair{i:02d}" for i in range(24)]
    _write_images(root / "paired" / "A", 24, "L", 0, names)  # edges (gray) -> photos (RGB)
    _write_images(root / "paired" / "B", 24, "RGB", 1, names)
    _write_images(root / "cyclegan" / "trainA", 10, "L", 2)
    _write_images(root / "cyclegan" / "trainB", 14, "L", 3)
    _write_images(root / "cyclegan" / "testA", 2, "L", 5)
    _write_images(root / "cyclegan" / "testB", 2, "L", 6)
    _write_images(root / "no_test" / "trainA", 4, "L", 7)  # the CycleGAN layout without its test folders
    _write_images(root / "no_test" / "trainB", 4, "L", 8)
    _write_images(root / "no_test" / "testA", 2, "L", 9)
    _write_images(root / "flat", 12, "RGB", 4)  # no labels, one domain
    return root


def _batches(ds, n):
    return [tuple(np.asarray(t) for t in (b if isinstance(b, tuple) else (b,))) for b in ds.take(n)]


def test_images_and_labelled_batches_have_the_declared_shapes():
    (images,) = _batches(training_dataset("images", "digits", channels=1, **SMALL), 1)[0]
    assert images.shape == (4, 16, 16, 1) and images.dtype == np.float32 and -1 <= images.min() <= images.max() <= 1
    images, labels = _batches(training_dataset("labelled", "digits", channels=1, **SMALL), 1)[0]
    assert images.shape == (4, 16, 16, 1) and labels.shape == (4,) and labels.dtype == np.int64
    assert set(labels) <= set(range(10))
    info = describe_training_data("labelled", "digits")
    assert (info.channels, info.num_classes, info.default_image_size) == (1, 10, 32) and info.train_size > 1000


def test_paired_folder_gives_aligned_pairs_in_one_channel_count(two_domain_folders):
    root = two_domain_folders / "paired"
    info = describe_training_data("paired", str(root))
    assert (info.channels, info.num_classes, info.default_image_size) == (3, None, 64)
    assert 18 <= info.train_size <= 24  # the train split of 24 pairs
    a, b = _batches(training_dataset("paired", str(root), channels=info.channels, **SMALL), 1)[0]
    assert a.shape == b.shape == (4, 16, 16, 3)
    # aligned: A's gray images come through as equal channels, B's random RGB ones do not
    assert np.array_equal(a[..., 0], a[..., 1]) and not np.array_equal(b[..., 0], b[..., 1])


def test_unpaired_from_one_folder_or_from_two_sources(two_domain_folders):
    root = two_domain_folders / "cyclegan"
    info = describe_training_data("unpaired", str(root))
    assert (info.channels, info.train_size) == (1, 14)  # an epoch covers the larger domain
    a, b = _batches(training_dataset("unpaired", str(root), channels=1, **SMALL), 1)[0]
    assert a.shape == b.shape == (4, 16, 16, 1)
    info = describe_training_data("unpaired", "digits", "shapes")
    assert info.channels == 3  # the gray domain is loaded as RGB beside the coloured one
    a, b = _batches(training_dataset("unpaired", "digits", "shapes", channels=3, **SMALL), 1)[0]
    assert a.shape == b.shape == (4, 16, 16, 3) and np.array_equal(a[..., 0], a[..., 2])


def test_wrong_sources_say_what_to_pass(two_domain_folders):
    with pytest.raises(KerasGenError, match="trains on images with labels, and --data .*flat.* has none. Pass a "
                                            "labelled source"):
        describe_training_data("labelled", str(two_domain_folders / "flat"))
    with pytest.raises(KerasGenError, match="has none"):
        training_dataset("labelled", str(two_domain_folders / "flat"), channels=3, **SMALL)
    with pytest.raises(KerasGenError, match=r"single-domain data set; pass a bundled paired set \(shapes_maps, edges2photos\), "
                                            "a folder with subfolders A and B"):
        describe_training_data("paired", "digits")
    with pytest.raises(KerasGenError, match="single-domain data set; pass --data DOMAIN_A --data-b DOMAIN_B"):
        training_dataset("unpaired", "shapes", channels=3, **SMALL)
    with pytest.raises(KerasGenError, match="not an unpaired data set; pass --data DOMAIN_A --data-b"):
        describe_training_data("unpaired", str(two_domain_folders / "flat"))
    with pytest.raises(KerasGenError, match="--data-b is the second domain of unpaired models.*drop --data-b"):
        describe_training_data("images", "digits", "shapes")
    with pytest.raises(KerasGenError, match="unknown data kind 'video'"):
        describe_training_data("video", "digits")


def test_the_cyclegan_layout_says_it_needs_its_test_folders(two_domain_folders):
    """trainA and trainB without testB: said when the data is described, before training, not as a
    missing folder at the first preview."""
    from keras_gen.data import load_unpaired

    root = two_domain_folders / "no_test"
    with pytest.raises(KerasGenError, match="has the CycleGAN layout .trainA, trainB., which also needs testA and "
                                            "testB for the test split .*testB is missing.*rename trainA and trainB "
                                            "to A and B"):
        describe_training_data("unpaired", str(root))
    for split in ("train", "test"):
        with pytest.raises(KerasGenError, match="testB is missing"):
            load_unpaired(str(root), split=split)


@pytest.mark.parametrize("kind,data,data_b,channels", [("labelled", "shapes", None, 3),
                                                       ("unpaired", "digits", "shapes", 3)])
def test_same_seed_same_batches_and_skipping_is_exact(kind, data, data_b, channels):
    """A resumed run skips the batches the finished epochs used: what it sees next must be what
    an uninterrupted run sees next."""
    import keras

    def build():
        keras.utils.set_random_seed(3)  # as train() does before building the pipeline
        return training_dataset(kind, data, data_b, channels=channels, **SMALL)

    straight = _batches(build(), 6)
    resumed = _batches(build().skip(4), 2)
    for x, y in zip(straight[4:], resumed, strict=True):
        for a, b in zip(x, y, strict=True):
            np.testing.assert_array_equal(a, b)
    again = _batches(build(), 6)
    assert all(np.array_equal(a, b) for x, y in zip(straight, again, strict=True) for a, b in zip(x, y, strict=True))
    assert not np.array_equal(straight[0][0], straight[1][0])  # shuffled batches, not one repeated


def test_train_feeds_labels_to_a_model_that_declares_them(tmp_path, monkeypatch):
    """Through fit: a labelled model's train_step gets (images, int64 labels), and config.json
    records the classes."""
    import tensorflow as tf

    from keras_gen.models.gan.dcgan import DCGAN
    from keras_gen.training import RunConfig, train

    seen = []
    original = DCGAN.train_step

    def recording_train_step(self, data):
        seen.append(tf.nest.map_structure(lambda t: (tuple(t.shape), t.dtype.name), data))
        return original(self, data)

    monkeypatch.setattr(DCGAN, "train_step", recording_train_step)  # cdcgan's, inherited
    train(tmp_path / "run", RunConfig("cdcgan", data="shapes", image_size=16, batch_size=8, steps_per_epoch=2,
                                      epochs=1, options={"base_filters": 4, "latent_dim": 8, "embed_dim": 4}),
          verbose=0)
    assert seen and seen[0] == ((((8, 16, 16, 3)), "float32"), ((8,), "int64"))
    from keras_gen.data.shapes import SHAPES

    assert RunConfig.load(tmp_path / "run").num_classes == len(SHAPES)
