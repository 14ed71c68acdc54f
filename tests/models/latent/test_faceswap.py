import numpy as np
import pytest
import tensorflow as tf

from keras_gen import KerasGenError
from keras_gen.cli import main
from keras_gen.images import save_image, to_uint8
from keras_gen.models.latent.faceswap import FaceSwap

TINY = {"code_dim": 16, "filters": 8, "downsamplings": 2}


def _squares(n, hollow, seed, size=16):
    """Two 'identities' with the same content, an 8x8 square at a random place (also returned),
    in two styles: A's squares are filled, B's hollow (a 4x4 hole)."""
    rng = np.random.default_rng(seed)
    x, places = -np.ones((n, size, size, 1), np.float32), rng.integers(0, size - 8, (n, 2))
    for i, (r, c) in enumerate(places):
        x[i, r:r + 8, c:c + 8] = 1.0
        if hollow:
            x[i, r + 2:r + 6, c + 2:c + 6] = -1.0
    return x, places


def _masks(places, size=16):
    """(hole, ring) boolean masks of the squares at `places`."""
    hole, square = np.zeros((len(places), size, size, 1), bool), np.zeros((len(places), size, size, 1), bool)
    for i, (r, c) in enumerate(places):
        square[i, r:r + 8, c:c + 8], hole[i, r + 2:r + 6, c + 2:c + 6] = True, True
    return hole, square & ~hole


@pytest.fixture(scope="module")
def trained():
    (a, _), (b, _) = _squares(64, False, seed=0), _squares(64, True, seed=1)
    model = FaceSwap(image_size=16, channels=1, **TINY, learning_rate=3e-3)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices((a, b)).batch(16, drop_remainder=True)
    history = model.fit(data, epochs=25, verbose=0).history
    return model, history


def test_both_reconstructions_improve(trained):
    _, history = trained
    for key in ("loss_a", "loss_b"):
        assert history[key][-1] < 0.3 * history[key][0]


def test_decoders_differ_and_a_swap_decodes_with_the_other_identity(trained):
    model, _ = trained
    test_a, places = _squares(16, False, seed=7)
    code = model.encoder(test_a)
    as_a, as_b = np.asarray(model.decoder_a(code)), np.asarray(model.decoder_b(code))
    assert np.abs(as_a - as_b).mean() > 0.05  # one code, two identities
    np.testing.assert_array_equal(np.asarray(model.swap(test_a, "b")), as_b)
    np.testing.assert_array_equal(np.asarray(model.generate(test_a, 0)), as_b)  # direction 0: A -> B
    np.testing.assert_array_equal(np.asarray(model.generate(test_a, 1)), as_a)
    np.testing.assert_array_equal(model.sample(16, image=test_a, direction=1), as_a)
    np.testing.assert_array_equal(np.asarray(model.translate(test_a)), as_b)


def test_a_swap_keeps_the_content_and_takes_the_other_identitys_style(trained):
    model, _ = trained
    test_a, places = _squares(16, False, seed=7)
    hole, ring = _masks(places)
    as_a, as_b = np.asarray(model.swap(test_a, "a")), np.asarray(model.swap(test_a, "b"))
    assert np.abs(as_a - test_a).mean() < 0.1  # D_A reconstructs A: a filled square
    assert as_a[hole].mean() > 0.8
    # D_B draws B's hollow square, at the place of the A square it was given
    assert as_b[hole].mean() < -0.3 and as_b[ring].mean() > 0.3 and as_b[~(hole | ring)].mean() < -0.8
    # and back: a hollow B square through D_A comes out filled
    test_b, places_b = _squares(16, True, seed=8)
    hole_b, _ = _masks(places_b)
    assert np.asarray(model.swap(test_b, "a"))[hole_b].mean() > 0.0 > test_b[hole_b].mean()


def test_swap_endpoints_return_the_other_decoders_images_as_uint8(trained):
    model, _ = trained
    endpoints = model.export_endpoints()
    assert [k for k, ep in endpoints.items() if ep.onnx] == ["generate"]
    images, _ = _squares(4, False, seed=3)
    for name, to in (("swap_a_to_b", "b"), ("swap_b_to_a", "a")):
        out = endpoints[name].fn(tf.constant(images))["images"]
        assert [s.kind for s in endpoints[name].inputs] == ["image"]
        np.testing.assert_array_equal(np.asarray(out), to_uint8(np.asarray(model.swap(images, to))))


def test_bad_settings_and_requests_are_clear_errors(trained):
    model, _ = trained
    with pytest.raises(KerasGenError, match="multiple of 4"):
        FaceSwap(image_size=18, channels=1, **TINY)
    with pytest.raises(KerasGenError, match="one of mse, mae"):
        FaceSwap(image_size=16, channels=1, loss="perceptual")
    with pytest.raises(KerasGenError, match="'a' or 'b'"):
        model.swap(np.zeros((1, 16, 16, 1), np.float32), "c")
    with pytest.raises(KerasGenError, match="direction=2 is out of range"):
        model.sample(1, image=np.zeros((1, 16, 16, 1), np.float32), direction=2)


def test_a_domain_with_no_images_is_one_clear_cli_error(tmp_path, capsys):
    for i, image in enumerate(to_uint8(_squares(4, False, seed=0)[0])):
        save_image(image, tmp_path / "A" / f"{i}.png")
    (tmp_path / "B").mkdir()
    capsys.readouterr()
    code = main(["train", "faceswap", "--data", str(tmp_path / "A"), "--data-b", str(tmp_path / "B"),
                 "--out", str(tmp_path / "run"), "--image-size", "16", "--epochs", "1", "--steps-per-epoch", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("keras-gen: error: no images found in") and str(tmp_path / "B") in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_exported_swap_signatures_match_keras(trained, tmp_path):
    import json

    from export.exporter import export_model

    model, _ = trained
    version = export_model(model, tmp_path, parity_n=8)
    manifest = json.loads((version / "manifest.json").read_text())
    assert {"swap_a_to_b", "swap_b_to_a", "generate", "sample", "serving_default"} == set(manifest["endpoints"])
    loaded = tf.saved_model.load(str(version))
    images, _ = _squares(3, False, seed=4)
    for name, to in (("swap_a_to_b", "b"), ("swap_b_to_a", "a")):
        out = loaded.signatures[name](image=tf.constant(images))["images"].numpy()
        assert out.dtype == np.uint8
        assert np.abs(out.astype(int) - to_uint8(np.asarray(model.swap(images, to))).astype(int)).max() <= 1
