"""The bundled two-domain sets (shapes_maps, edges2photos, digits_ink): what each holds, that it
is drawn once into the data cache, and how the data layer routes and refuses them."""

import numpy as np
import pytest

from keras_gen.data import describe, describe_training_data, load_arrays, load_paired, load_unpaired, training_dataset
from keras_gen.data import shapes as shapes_module
from keras_gen.data import translation_sets as ts
from keras_gen.errors import KerasGenError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GEN_CACHE", str(tmp_path))
    return tmp_path / "data"


def test_shapes_maps_pairs_a_flat_label_map_with_its_rendering(cache):
    a, b, labels, same = ts.load_translation_set("shapes_maps", "test", limit=40, with_labels=True)
    assert a.shape == b.shape == (40, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(labels, same)
    images, attrs = shapes_module.draw_shapes(1000, 32, ts.SPLIT_SEEDS["test"])
    np.testing.assert_array_equal(b, images[:40])  # B is the shapes image itself
    np.testing.assert_array_equal(labels, attrs["shape"][:40])
    # A is flat: every pixel is the background or its class's colour, and the class is readable
    palette = {tuple(c) for c in ts.LABEL_COLOURS}
    for image, label in zip(a, labels):
        colours = {tuple(c) for c in image.reshape(-1, 3)}
        assert colours == {ts.LABEL_COLOURS[0], ts.LABEL_COLOURS[label + 1]} and colours <= palette
    np.testing.assert_array_equal(ts.label_map_classes(a), labels)
    # the map is the shape: labelled where the anti-aliased rendering is more shape than background
    contrast = np.abs(b.astype(int) - shapes_module.BACKGROUND).sum(-1)
    shape_pixels = contrast > 0.5 * contrast.max(axis=(1, 2), keepdims=True)
    labelled = (a != 0).any(-1)
    assert (shape_pixels == labelled).mean() > 0.98


def test_sets_are_drawn_once_into_the_cache(cache, monkeypatch):
    first = ts.load_translation_set("shapes_maps", "test", image_size=16)
    files = sorted(p.name for p in cache.iterdir())
    assert files == [f"shapes_maps-v{ts.CACHE_VERSION}-16px-test.npz"]
    monkeypatch.setattr(ts, "_draw_shapes_maps", lambda *a: pytest.fail("drawn again"))
    again = ts.load_translation_set("shapes_maps", "test", image_size=16)
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)
    a, b = ts.load_translation_set("shapes_maps", "test", image_size=(12, 16), limit=3)  # a centred crop
    assert a.shape == b.shape == (3, 12, 16, 3)
    np.testing.assert_array_equal(b, first[1][:3, 2:14])


def test_digits_ink_domains_are_disjoint_halves_in_two_styles(cache):
    arrays = ts._cached(f"digits_ink-v{ts.CACHE_VERSION}-32px-train", lambda: ts._draw_digits_ink("train", 32))
    assert not set(arrays["digits_a"]) & set(arrays["digits_b"])  # no digit is in both: no pairs exist
    test = ts._draw_digits_ink("test", 32)
    assert not (set(test["digits_a"]) | set(test["digits_b"])) & (set(arrays["digits_a"]) | set(arrays["digits_b"]))
    a, b, labels_a, labels_b = ts.load_translation_set("digits_ink", "train", with_labels=True)
    assert a.shape == b.shape == (718, 32, 32, 1)
    assert sorted(set(labels_a)) == sorted(set(labels_b)) == list(range(10))
    assert np.median(a) == 255 and np.median(b) < 64 and b.max() == 255  # ink dark on white in A, bright on black in B
    from keras_gen.data.bundled import _digits_uint8
    from keras_gen.data.common import prepare_uint8

    np.testing.assert_array_equal(b, prepare_uint8(_digits_uint8()[0][arrays["digits_b"]], 32, 1))  # `digits` itself
    mid_tones = [float(np.mean((x > 25) & (x < 230))) for x in (a, b)]
    assert mid_tones[0] < 0.5 * mid_tones[1]  # A's strokes are crisp, B's soft
    with pytest.raises(KerasGenError, match="digits_ink.*unpaired domains"):
        load_paired("digits_ink")


def test_edges2photos_runs_hed_on_a_prefix_and_extends_it(cache):
    a2, b2 = ts.load_translation_set("edges2photos", "test", limit=2)
    a4, b4 = ts.load_translation_set("edges2photos", "test", limit=4)
    np.testing.assert_array_equal(a4[:2], a2)  # crop i depends on i only: the file is extended
    assert a4.shape == b4.shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(a4[..., 0], a4[..., 2])  # gray edges on three channels
    assert np.median(a4) > 200 and a4.min() < 100  # mostly white paper, with dark lines
    from keras_gen.data.bundled import _crops

    crops, _ = _crops("photos", 512, ts.GENERATION_SIDE, ts.SPLIT_SEEDS["test"])
    from keras_gen.data.common import prepare_uint8

    np.testing.assert_array_equal(b4, prepare_uint8(crops[:4], 64, 3))
    stored = np.load(cache / f"edges2photos-v{ts.CACHE_VERSION}-128px-test.npz")
    assert len(stored["a"]) == 4  # only what was asked for was computed


def test_the_data_layer_routes_and_refuses_two_domain_sets(cache):
    assert describe("shapes_maps").split_sizes == {"train": 4000, "test": 1000}
    assert describe_training_data("paired", "shapes_maps").train_size == 4000
    assert describe_training_data("unpaired", "digits_ink").channels == 1
    assert describe_training_data("unpaired", "shapes_maps").train_size == 4000  # pairs serve as two domains
    a, b = next(iter(training_dataset("paired", "shapes_maps", shapes=((16, 16, 3), (16, 16, 3)), batch_size=8,
                                      seed=0)))
    a_maps = np.round((np.asarray(a) + 1) * 127.5).astype(np.uint8)
    shape_of_b = np.asarray(b).max(-1) > -0.5  # batches hold aligned pairs: the shape is where the map says
    assert ((a_maps != 0).any(-1) == shape_of_b).mean() > 0.9
    for call, message in ((lambda: load_arrays("shapes_maps"), "paired set of two domains"),
                          (lambda: describe_training_data("images", "digits_ink"), "translation models"),
                          (lambda: describe_training_data("paired", "digits_ink"), "holds two unpaired domains"),
                          (lambda: describe_training_data("paired", "tfds:pix2pix/facades"),
                           "TFDS has no paired image-to-image data set"),
                          (lambda: describe_training_data("unpaired", "shapes_maps", "digits"), "one domain each")):
        with pytest.raises(KerasGenError, match=message):
            call()
    with pytest.raises(KerasGenError, match="unpaired domains"):
        load_paired("digits_ink")
    a, b = load_unpaired("digits_ink", "test", image_size=16, limit=5)
    assert a.shape == b.shape == (5, 16, 16, 1) and a.dtype == np.float32


def test_tfds_cycle_gan_sets_are_two_domains(tmp_path):
    """tfds:cycle_gan/NAME's trainA/trainB splits as domains A and B (on TFDS's offline mock)."""
    tfds = pytest.importorskip("tensorflow_datasets")
    from keras_gen.data import tfds_source

    assert tfds_source.is_two_domain("cycle_gan/horse2zebra") and not tfds_source.is_two_domain("mnist")
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        a, b = tfds_source.load_tfds_domains_uint8("cycle_gan/horse2zebra", "train", image_size=16, limit=4,
                                                   data_dir=str(tmp_path), download=True)
        assert a.shape == b.shape == (4, 16, 16, 3) and a.dtype == np.uint8
    with pytest.raises(KerasGenError, match="one domain"):
        tfds_source.load_tfds_domains_uint8("mnist", "train")
