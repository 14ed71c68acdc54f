"""io.read_image, the one reader of files and bundled pictures, and its thin wrappers."""

import numpy as np
import pytest
from PIL import Image

from keras_gen.data import bundled
from keras_gen.errors import KerasGenError
from keras_gen.models.style import io
from keras_gen.models.style.style_images import picture_uint8, square_picture


def test_bundled_names_bare_or_prefixed_and_a_file_of_that_name_wins(tmp_path, monkeypatch):
    brick = bundled._picture("textures", "brick")
    assert brick.shape[-1] == 1
    for spec in ("brick", "textures:brick"):
        pixels, notes = io.read_image(spec, "style image")
        np.testing.assert_array_equal(pixels, np.repeat(brick, 3, axis=-1))
        assert notes == [f"style image {spec} is grayscale: repeated to RGB"]
        np.testing.assert_array_equal(picture_uint8(spec), brick)  # native channels kept, no note
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((9, 12, 3), 40, np.uint8)).save(tmp_path / "brick", format="PNG")
    assert io.read_image("brick")[0].shape == (9, 12, 3) and (io.read_image("brick")[0] == 40).all()
    (tmp_path / "grass").mkdir()  # a folder of that name does not hide the bundled picture
    assert io.read_image("grass")[0].shape[:2] == bundled._picture("textures", "grass").shape[:2]


def test_files_decode_like_image_folders(tmp_path):
    deep = np.full((10, 8), 65535, np.uint16)
    deep[0, 0] = 0
    Image.fromarray(deep).save(tmp_path / "deep.png")
    gray = picture_uint8(tmp_path / "deep.png")
    assert gray.shape == (10, 8, 1) and gray[1, 1, 0] == 255 and gray[0, 0, 0] == 0  # scaled, not clipped
    wide = np.zeros((8, 16, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise on display
    Image.fromarray(wide).save(tmp_path / "turned.png", exif=exif)
    assert io.read_image(tmp_path / "turned.png")[0].shape == (16, 8, 3)
    assert square_picture(str(tmp_path / "deep.png"), 4, 3).shape == (1, 4, 4, 3)


def test_clear_one_line_errors(tmp_path):
    Image.fromarray(np.zeros((7, 30, 3), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    for spec, message in [
        (tmp_path / "tiny.png", "is 30x7 px, below the 8 px minimum on each side: use a larger image"),
        (tmp_path / "bad.png", "cannot read it as an image"),
        (tmp_path / "missing.png", "no such file, and it is neither an image file nor a bundled picture"),
        ("photos:brick", "no bundled picture 'brick' in photos"),
    ]:
        with pytest.raises(KerasGenError, match=message) as info:
            io.read_image(spec, "content image")
        assert "\n" not in str(info.value)
