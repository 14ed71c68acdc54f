"""MATLAB's bicubic (keras_gen/core/resize.py) and its TF twin, the degradation module
(keras_gen/data/degradations.py) and the SR measure (Y-PSNR/SSIM, keras_gen/metrics/restoration.py)."""

import numpy as np
import pytest

from keras_gen.core.resize import bicubic_upscale, imresize, mirror_index, resize_matrix
from keras_gen.data.degradations import Degradation, PatchSource, degrade, interpolated, modcrop, sr_holdout
from keras_gen.errors import KerasGenError
from keras_gen.images import from_uint8


def test_imresize_gives_octaves_values_without_antialiasing():
    # Octave's image package (the same `contributions` as MATLAB): imresize(0:15 as 4x4, 0.5, 'bicubic',
    # 'Antialiasing', false) -> [2.1875 4.3125; 10.6875 12.8125]
    image = np.arange(16.0).reshape(4, 4, 1)
    np.testing.assert_allclose(imresize(image, 0.5, antialias=False)[..., 0], [[2.1875, 4.3125], [10.6875, 12.8125]])


def test_antialiased_weights_are_the_stretched_kernel_with_mirrored_borders():
    # x1/2: the kernel spans 8 input pixels (h(x/2)/2); every row sums to 1 and is symmetric about
    # the output pixel's centre; the first row mirrors the border (index -1 reads pixel 0, -2 pixel 1)
    w = resize_matrix(16, 8)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    taps = w[3, 3:11]  # output 3 is centred on input 6.5: inputs 3 .. 10
    np.testing.assert_allclose(taps, taps[::-1], atol=1e-12)
    assert np.count_nonzero(w[3]) == 8 and taps[3] > taps[2] > 0 > taps[1]
    # output 0 (centre 0.5) reads inputs -3 .. 4; -3, -2, -1 are mirrored onto 2, 1, 0
    np.testing.assert_allclose(w[0, :5], [taps[2] + taps[3], taps[1] + taps[4], taps[0] + taps[5], taps[6], taps[7]])
    assert np.all(w[0, 5:] == 0)
    np.testing.assert_array_equal(mirror_index(np.array([-3, -2, -1, 0, 4, 5, 6]), 5), [2, 1, 0, 0, 4, 4, 3])


def test_imresize_keeps_a_flat_image_and_rounds_uint8_like_matlab():
    flat = np.full((12, 18, 3), 77, np.uint8)
    out = imresize(flat, 1 / 3)
    assert out.dtype == np.uint8 and out.shape == (4, 6, 3) and np.all(out == 77)
    ramp = np.tile(np.linspace(0, 255, 24)[None, :, None], (8, 1, 1)).round().astype(np.uint8)
    once, twice = imresize(ramp, 0.5, rounding=None), imresize(ramp, 0.5)
    assert np.abs(once.astype(int) - twice.astype(int)).max() <= 1  # rounding after each pass moves a level at most


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_upscale_numpy_tf_and_float64_agree(scale):
    from keras_gen.core_tf.resize import bicubic_upscale_tf

    x = np.random.default_rng(scale).uniform(-1, 1, (2, 7, 5, 3)).astype(np.float32)
    numpy_out = bicubic_upscale(x, scale)
    assert numpy_out.shape == (2, 7 * scale, 5 * scale, 3)
    np.testing.assert_allclose(numpy_out, np.asarray(bicubic_upscale_tf(x, scale)), atol=1e-6)
    np.testing.assert_allclose(numpy_out, imresize(x.astype(np.float64), scale, rounding=None), atol=2e-6)


def test_degrade_is_exact_division_of_the_sides():
    rng = np.random.default_rng(0)
    high = rng.integers(0, 256, (2, 24, 36, 3), dtype=np.uint8)
    low = degrade(high, 4)
    assert low.dtype == np.uint8 and low.shape == (2, 6, 9, 3)
    assert modcrop(np.zeros((25, 38, 1)), 4).shape == (24, 36, 1)
    with pytest.raises(KerasGenError, match="modcrop it first"):
        degrade(high[:, :23], 4)
    ilr = interpolated(low, 4)
    assert ilr.shape == (2, 24, 36, 3) and ilr.dtype == np.float32


def test_degradation_shapes_and_its_errors():
    assert Degradation((4,)).input_shape((96, 64, 3)) == (24, 16, 3)
    assert Degradation((2, 3, 4), interpolate=True).input_shape((48, 36, 1)) == (48, 36, 1)
    with pytest.raises(KerasGenError, match="multiple of 12"):
        Degradation((2, 3, 4), interpolate=True).input_shape((40, 40, 1))
    with pytest.raises(KerasGenError, match="interpolate=True"):
        Degradation((2, 4))


def test_patches_are_deterministic_full_resolution_and_skip_the_holdout():
    from keras_gen.data.degradations import _full_size_images

    train, test = (_full_size_images("photos", split, 3, 32, None) for split in ("train", "test"))
    held = {image.shape for _, image in sr_holdout(3)[:2]}
    assert len(train) == 5 and len(test) == 2 and {i.shape for i in test} == held
    assert not held & {i.shape for i in train}  # chelsea and coffee are in no training batch
    patches = PatchSource("photos", "train", (32, 32, 3), Degradation((4,)))
    low, high = patches.batch(3, 4, seed=7)
    assert low.shape == (4, 8, 8, 3) and high.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(low, patches.batch(3, 4, seed=7)[0])
    assert not np.array_equal(high, patches.batch(4, 4, seed=7)[1])
    # the input is the target degraded: bicubic of the (uint8) target patch
    np.testing.assert_array_equal(low, from_uint8(degrade(np.round((high + 1) * 127.5).astype(np.uint8), 4)))
    with pytest.raises(KerasGenError, match="holds a 2048x2048 patch"):
        PatchSource("photos", "train", (2048, 2048, 3), Degradation((4,)))


def test_training_data_of_the_degraded_kind():
    from keras_gen.data.training_data import describe_training_data, preview_examples, training_dataset

    assert describe_training_data("degraded", "digits").channels == 1
    dataset = training_dataset("degraded", "digits", shapes=[(16, 16, 1), (16, 16, 1)], batch_size=4, seed=0,
                               degradation=Degradation((2, 4), interpolate=True))
    inputs, targets = next(iter(dataset))
    assert inputs.shape == (4, 16, 16, 1) and targets.shape == (4, 16, 16, 1)
    again, _ = next(iter(dataset))
    np.testing.assert_array_equal(inputs, again)
    low, high = preview_examples("degraded", "digits", shapes=[(8, 8, 1), (16, 16, 1)], n=3, seed=0,
                                 degradation=Degradation((2,)))
    assert low.shape == (3, 8, 8, 1) and high.shape == (3, 16, 16, 1)
    with pytest.raises(KerasGenError, match="drop --data-b"):
        training_dataset("degraded", "digits", "shapes", shapes=[(8, 8, 1), (16, 16, 1)], batch_size=4, seed=0,
                         degradation=Degradation((2,)))


# -- the measure ---------------------------------------------------------------------------------
def test_y_channel_is_matlabs_studio_range_luma():
    from keras_gen.metrics import rgb_to_y

    white, black = np.full((1, 2, 2, 3), 255, np.uint8), np.zeros((1, 2, 2, 3), np.uint8)
    np.testing.assert_allclose(rgb_to_y(white), 235.0, atol=1e-9)
    np.testing.assert_allclose(rgb_to_y(black), 16.0, atol=1e-9)
    grey = np.random.default_rng(0).integers(0, 256, (1, 4, 4, 1), dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(grey), rgb_to_y(np.repeat(grey, 3, axis=-1)))


def test_y_psnr_shaves_the_border_and_y_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    from keras_gen.metrics import rgb_to_y, sr_scores, y_psnr, y_ssim

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    noisy = truth.copy()
    noisy[:, :4] = 0  # damage only a border of 4 px
    assert y_psnr(noisy, truth, border=4) == np.inf and y_psnr(noisy, truth) < 30
    blurred = np.clip(truth.astype(int) + rng.integers(-20, 21, truth.shape), 0, 255).astype(np.uint8)
    expected = np.mean([structural_similarity(rgb_to_y(blurred[i:i + 1])[0, 4:-4, 4:-4, 0],
                                              rgb_to_y(truth[i:i + 1])[0, 4:-4, 4:-4, 0], data_range=255,
                                              gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
                        for i in range(2)])
    assert y_ssim(blurred, truth, border=4) == pytest.approx(expected, abs=2e-3)
    scores = sr_scores(blurred, truth, 4)
    assert set(scores) == {"y_psnr", "y_ssim", "rgb_psnr"} and scores["y_psnr"] > scores["rgb_psnr"] - 5
    with pytest.raises(KerasGenError, match="nothing left"):
        y_psnr(truth[:, :8, :8], truth[:, :8, :8], border=4)
