"""Latent traversals and the 2-D manifold (keras_gen/pictures.py), through `model.generate` on
Keras models and exports, the CLI's `traverse` and `manifold`, and the pictures a training run
writes at its end. Tiny untrained or two-step models on 8 px digits; seconds."""

import numpy as np
import pytest
from PIL import Image

from keras_gen import KerasGenError
from keras_gen.cli import main
from keras_gen.images import to_uint8
from keras_gen.pictures import gaussian_quantiles, latent_activity, latent_manifold, latent_traversal
from keras_gen.registry import build

TINY = {"base_filters": 4, "hidden": 8}


def _vae(name="vae", latent_dim=4, **kwargs):
    return build(name, image_size=8, channels=1, latent_dim=latent_dim, **TINY, **kwargs)


def _generated(model, z, **conditions):
    return to_uint8(np.asarray(model.generate(z, **conditions)))


def test_traversal_varies_one_dimension_a_row_from_the_base_latent():
    from keras_gen.latents import gaussian_latents

    model = _vae(latent_dim=6)
    picture = latent_traversal(model, dims=[4, 1, 2], steps=5, span=2.0, base=7)
    assert picture.images.shape == (15, 8, 8, 1) and picture.images.dtype == np.uint8
    assert (picture.rows, picture.cols, picture.row_dims) == (3, 5, [4, 1, 2])
    base = gaussian_latents(1, 6, 7)[0]
    z = picture.latents.reshape(3, 5, 6)
    for r, d in enumerate([4, 1, 2]):
        np.testing.assert_allclose(z[r, :, d], np.linspace(-2, 2, 5))
        others = np.delete(z[r], d, axis=1)
        np.testing.assert_array_equal(others, np.repeat(np.delete(base, d)[None], 5, axis=0))
    np.testing.assert_array_equal(picture.images, _generated(model, picture.latents))
    # the default base is the prior's mean, and a count takes the first dimensions
    default = latent_traversal(model, dims=2, steps=3)
    assert default.row_dims == [0, 1] and default.images.shape == (6, 8, 8, 1)
    assert np.count_nonzero(default.latents) == 4  # the traversed value 0 in the middle column is zero too


def test_a_vae_ranks_dimensions_by_kl_over_real_images():
    from keras_gen.data import load_arrays

    model = _vae(latent_dim=5)
    images = load_arrays("digits", "test", image_size=8, channels=1, limit=32)[0]
    activity = latent_activity(model, images)
    picture = latent_traversal(model, dims=3, steps=3, images=images)
    assert picture.row_dims == [int(d) for d in np.argsort(-activity)[:3]]
    assert picture.row_kl == sorted(picture.row_kl, reverse=True) and len(picture.row_kl) == 3
    mean, log_var = model.encode(images)
    expected = (0.5 * (mean**2 + np.exp(log_var) - 1 - log_var)).mean(0)
    np.testing.assert_allclose(activity, expected, rtol=1e-5)


def test_cvae_and_dcgan_hold_the_class_and_take_the_first_dimensions():
    cvae = _vae("cvae", latent_dim=3, num_classes=10)
    picture = latent_traversal(cvae, dims=2, steps=3, label=3)
    labels = np.full(len(picture.latents), 3, np.int32)
    np.testing.assert_array_equal(picture.images, _generated(cvae, picture.latents, label=labels))
    assert not np.array_equal(picture.images, latent_traversal(cvae, dims=2, steps=3, label=5).images)
    with pytest.raises(KerasGenError, match="class indices from 0 to 9"):
        latent_traversal(cvae, dims=1, label=10)
    with pytest.raises(KerasGenError, match="needs a class-conditional model"):
        latent_traversal(_vae(), dims=1, label=3)
    dcgan = build("dcgan", image_size=16, channels=1, latent_dim=5, base_filters=4)
    picture = latent_traversal(dcgan, dims=8, steps=4)
    assert picture.row_dims == [0, 1, 2, 3, 4] and picture.images.shape == (20, 16, 16, 1)


def test_manifold_decodes_gaussian_quantiles_and_needs_a_2d_latent():
    model = _vae(latent_dim=2)
    picture = latent_manifold(model, steps=5)
    assert picture.images.shape == (25, 8, 8, 1) and (picture.rows, picture.cols) == (5, 5)
    q = gaussian_quantiles(5)
    np.testing.assert_allclose(q, [-1.2816, -0.5244, 0.0, 0.5244, 1.2816], atol=1e-4)
    z = picture.latents.reshape(5, 5, 2)
    np.testing.assert_allclose(z[0, :, 0], q)  # z_1 rises along a row
    np.testing.assert_allclose(z[:, 0, 1], q[::-1])  # z_2 falls down the rows
    np.testing.assert_array_equal(picture.images, _generated(model, picture.latents))
    with pytest.raises(KerasGenError, match="needs a 2-D latent; vae has 4 dimensions"):
        latent_manifold(_vae(latent_dim=4))
    with pytest.raises(KerasGenError, match="one Gaussian latent vector"):
        latent_manifold(build("autoencoder", image_size=8, channels=1, code_dim=2, filters=2, downsamplings=1))
    for bad, match in ((dict(steps=1), "--steps"), (dict(dims=0), "--dims"), (dict(span=-1.0), "--span"),
                       (dict(dims=[2, 9]), "from 0 to 1")):
        with pytest.raises(KerasGenError, match=match):
            latent_traversal(model, **bad)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("pictures") / "run"
    assert main(["train", "vae", "--data", "digits", "--out", str(run), "--image-size", "8", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "16", "--set", "latent_dim=2", "--set", "base_filters=4",
                 "--set", "hidden=8", "--set", "iw_samples=2"]) == 0
    return run


def _size(cells_down, cells_across, side=8):
    scale = 64 // side  # save_grid enlarges small images
    return (scale * (cells_down * (side + 2) + 2), scale * (cells_across * (side + 2) + 2))


def test_training_writes_traversal_and_manifold(vae_run):
    assert np.asarray(Image.open(vae_run / "traversal.png")).shape == _size(2, 9)  # 2 dimensions, 9 steps
    assert np.asarray(Image.open(vae_run / "manifold.png")).shape == _size(20, 20)


def test_cli_traverse_and_manifold_write_pngs_of_the_right_size(vae_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["traverse", str(vae_run), "--out", str(tmp_path / "t.png"), "--dims", "2", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "2 rows x 5 columns" in out and "ranked by mean KL over" in out, out
    assert np.asarray(Image.open(tmp_path / "t.png")).shape == _size(2, 5)
    assert main(["traverse", str(vae_run), "--out", str(tmp_path / "f.png"), "--dims", "1", "--rank", "first",
                 "--seed", "3"]) == 0
    assert "latent dimensions 0 (the first ones)" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "f.png")).shape == _size(1, 9)
    assert main(["manifold", str(vae_run), "--out", str(tmp_path / "m.png"), "--steps", "6"]) == 0
    assert "6 x 6 decoded latents at Gaussian quantiles" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "m.png")).shape == _size(6, 6)


def test_cli_pictures_of_an_export_match_the_run(vae_run, tmp_path, capsys):
    assert main(["export", str(vae_run), "--out", str(tmp_path / "exports")]) == 0
    for command in (["manifold", "--steps", "4"], ["traverse", "--dims", "2", "--rank", "first"]):
        for source, name in ((vae_run, "run.png"), (tmp_path / "exports" / "vae", "edge.png")):
            assert main([command[0], str(source), "--out", str(tmp_path / name), *command[1:]]) == 0
        run, edge = (np.asarray(Image.open(tmp_path / n)).astype(int) for n in ("run.png", "edge.png"))
        assert run.shape == edge.shape and np.abs(run - edge).max() <= 1
    capsys.readouterr()
    assert main(["traverse", str(tmp_path / "exports" / "vae"), "--out", str(tmp_path / "x.png"), "--rank", "kl"]) == 2
    assert "is an export" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["manifold", "RUN", "--label", "3"], "--label needs a class-conditional model; vae takes none"),
    (["traverse", "RUN", "--dims", "0,5"], "latent dimensions must be from 0 to 1"),
    (["traverse", "RUN", "--dims", "many"], "--dims takes a count or a comma list"),
    (["traverse", "RUN", "--steps", "1"], "--steps must be a whole number from 2 up"),
    (["traverse", "RUN", "--out", "t.txt"], "Cannot write t.txt"),
    (["manifold", "NOWHERE"], "does not exist"),
])
def test_cli_errors_are_one_line_and_exit_2(vae_run, tmp_path, capsys, argv, message):
    argv = [str(vae_run) if a == "RUN" else str(tmp_path / "none") if a == "NOWHERE" else a for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "p.png")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
