"""Latent tools of the GAN family: slerp, the truncation option, arithmetic on averaged latents."""

import numpy as np
import pytest

from keras_gen import KerasGenError, registry
from keras_gen.latent_arithmetic import combine, concept_means, latent_arithmetic, parse_expression
from keras_gen.latents import gaussian_latents, slerp


def _dcgan():
    return registry.build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4)


def test_slerp_ends_at_both_latents_and_keeps_the_norm_of_unit_vectors():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    path = slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-6)  # lerp's midpoint has norm 0.71
    np.testing.assert_allclose(path[2], [np.sqrt(0.5), np.sqrt(0.5), 0.0], atol=1e-6)
    np.testing.assert_allclose(slerp(a, 2 * a, [0.5])[0], 1.5 * a, atol=1e-6)  # parallel: lerp


def test_truncation_is_a_declared_option_that_scales_z_toward_the_mean():
    model = _dcgan()
    truncation = model.request_specs()[-1]
    assert (truncation.name, truncation.kind, truncation.default, truncation.range) == (
        "truncation", "option", 1.0, (0.0, 1.0))
    sample_inputs = [s.name for s in model.export_endpoints()["sample"].inputs]
    assert sample_inputs == ["n", "seed", "truncation"]  # in the export's `sample` signature
    z = gaussian_latents(3, 8, 5)
    np.testing.assert_allclose(model.sample(3, seed=5, truncation=0.5), np.asarray(model.generate(0.5 * z)),
                               atol=1e-6)
    np.testing.assert_array_equal(model.sample(3, seed=5), model.sample(3, seed=5, truncation=1.0))  # 1 is off
    at_mean = model.sample(3, seed=5, truncation=0.0)
    np.testing.assert_allclose(at_mean, np.repeat(at_mean[:1], 3, axis=0), atol=1e-6)  # psi = 0: every z is 0
    for bad in (1.5, -0.1):
        with pytest.raises(KerasGenError, match="truncation=.* is out of range: pass a value from 0.0 to 1.0"):
            model.sample(2, seed=0, truncation=bad)


def test_expressions_parse_and_concept_means_combine_with_their_signs():
    assert parse_expression(" red circle -red square+ blue  square") == [
        (1, "red circle"), (-1, "red square"), (1, "blue square")]
    with pytest.raises(KerasGenError, match="two or more concepts"):
        parse_expression("red circle")
    z = np.arange(12, dtype=np.float32).reshape(6, 2)
    means = concept_means(z, ["a", "b", "a", "c", "b", "a"])
    np.testing.assert_allclose(means["a"][0], z[[0, 2, 5]].mean(0))
    assert means["a"][1] == 3
    np.testing.assert_allclose(combine(means, [(1, "a"), (-1, "b"), (1, "c")]),
                               z[[0, 2, 5]].mean(0) - z[[1, 4]].mean(0) + z[3])
    with pytest.raises(KerasGenError, match="no generated sample was tagged 'd'"):
        combine(means, [(1, "a"), (-1, "d")])


def test_latent_arithmetic_averages_the_latents_the_judge_tagged_and_decodes_the_result():
    model = _dcgan()

    def judge(images):  # tag by mean brightness: a stand-in for the shapes judge
        brightness = np.asarray(images, np.float64).mean(axis=(1, 2, 3))
        return np.where(brightness > np.median(brightness), "bright", "dark").tolist()

    result = latent_arithmetic(model, judge, "bright - dark + bright", target="bright", n=64, seed=3,
                               samples=4, min_count=1)
    z = gaussian_latents(64, 8, 3)
    from keras_gen.images import to_uint8

    tags = np.asarray(judge(to_uint8(np.asarray(model.generate(z)))))
    expected = 2 * z[tags == "bright"].mean(0) - z[tags == "dark"].mean(0)
    np.testing.assert_allclose(result.latent, expected, atol=1e-5)
    assert result.counts == {"bright": int((tags == "bright").sum()), "dark": int((tags == "dark").sum())}
    np.testing.assert_array_equal(result.images[0], to_uint8(np.asarray(model.generate(expected[None])))[0])
    assert len(result.images) == 4 and 0.0 <= result.hit_rate <= 1.0 and result.base_rate == pytest.approx(0.5)
