"""ddpm / cddpm: guidance, request options and their errors (the shared harness covers the rest)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen import inputs as kinds
from keras_gen import registry
from keras_gen.errors import KerasGenError
from keras_gen.samplers import Sampler
from tests.models.diffusion.conftest import tiny


def test_guidance_1_is_conditional_sampling_and_other_scales_differ(cddpm):
    """A plain conditional loop (no unconditional pass) against the model's guided sampler at w = 1."""
    scheduler, steps, n, seed = cddpm.scheduler, 4, 3, 7
    values = kinds.resolve_inputs(cddpm.request_specs(), n, seed, {"label": [2, 5, 9], "steps": steps})
    x = values["noise"]
    for k in range(steps):
        out = np.asarray(cddpm.network(x, int(scheduler.timestep(k, steps)), values["label"])["prediction"])
        x = scheduler.step(0, out, x, k, steps, 0.0, Sampler.step_noise(n, x.shape[1:], seed, k))
    # eta 0: the guidance alone, without the step noise's float32 rounding (numpy's against TF's)
    guided = cddpm.sample(n, seed, label=[2, 5, 9], steps=steps, guidance=1.0, eta=0.0)
    np.testing.assert_allclose(guided, np.clip(x, -1, 1), atol=1e-5)
    assert np.abs(cddpm.sample(n, seed, label=[2, 5, 9], steps=steps, guidance=3.0, eta=0.0) - guided).max() > 1e-3


def test_samplers_share_the_network_and_differ_in_their_updates(cddpm):
    ddim = cddpm.sample(3, 1, steps=5, sampler="ddim")
    assert np.array_equal(ddim, cddpm.sample(3, 1, steps=5, sampler=0))
    assert np.abs(cddpm.sample(3, 1, steps=5, sampler="ddpm") - ddim).max() > 1e-3
    for eta in (0.0, 1.0):
        assert np.abs(cddpm.sample(3, 1, steps=5, eta=eta) - ddim).max() > 1e-3


def test_the_default_request_is_partly_stochastic_ddim_and_eta_0_stays_deterministic(cddpm):
    """The default DDIM noise is eta 0.5 (DDIM-50's FID 0.93x DDPM-1000's on the 16 px cosine model,
    1.28x at eta 0): the option, the request's default and what an export's manifest records all
    say 0.5; the default request is the eta 0.5 chain, the same images again at the same seed (its
    step noise is seeded). eta 0 stays available and is the deterministic chain: from one x_T it
    gives the same images whatever the seed of the step noise, where eta 0.5's differ."""
    assert cddpm.options.eta == 0.5
    metadata = cddpm.export_metadata()
    assert metadata["options"]["eta"] == 0.5 and metadata["sampler"]["config"]["eta"] == 0.5
    assert {s["name"]: s.get("default") for s in metadata["request_inputs"]}["eta"] == 0.5
    default = cddpm.sample(3, 1, steps=5)
    np.testing.assert_array_equal(default, cddpm.sample(3, 1, steps=5))
    np.testing.assert_array_equal(default, cddpm.sample(3, 1, steps=5, eta=0.5))
    noise = kinds.resolve_inputs(cddpm.request_specs(), 3, 1)["noise"]
    eta0 = [cddpm.sample(3, seed, steps=5, eta=0.0, noise=noise) for seed in (1, 2)]
    np.testing.assert_allclose(eta0[0], eta0[1], atol=1e-6)
    eta_half = [cddpm.sample(3, seed, steps=5, noise=noise) for seed in (1, 2)]
    assert np.abs(eta_half[0] - eta_half[1]).max() > 1e-3


def test_a_run_saved_with_eta_0_keeps_its_deterministic_default():
    """eta was an option from the first release, so every saved config records it: a run saved
    while the default was 0 rebuilds with 0 (and its exports' requests default to it); new ones
    get 0.5."""
    model = tiny("ddpm")
    saved = {**model.get_config(), "eta": 0.0}
    old = type(model).from_config(saved)
    assert old.options.eta == 0.0 and old.export_metadata()["sampler"]["config"]["eta"] == 0.0
    assert type(model).from_config(model.get_config()).options.eta == 0.5


@pytest.mark.parametrize("request_, message", [
    ({"steps": 11}, "steps=11 is out of range: pass a value from 1 to 10"),
    ({"steps": 0}, "steps=0 is out of range"),
    ({"eta": 1.5}, "eta=1.5 is out of range: pass a value from 0.0 to 1.0"),
    ({"eta": -0.1}, "eta=-0.1 is out of range"),
    ({"sampler": "euler"}, "sampler must be one of ddim, ddpm"),
    ({"guidance": 25.0}, "guidance=25.0 is out of range"),
])
def test_bad_request_options_are_one_clear_error(cddpm, request_, message):
    with pytest.raises(KerasGenError, match=message):
        cddpm.sample(1, 0, **request_)


def test_an_unconditional_model_takes_no_guidance_or_label():
    model = tiny("ddpm")
    for given in ({"guidance": 3.0}, {"label": 1}):
        with pytest.raises(KerasGenError, match=f"unknown input.*{next(iter(given))}.*this model takes noise, "
                                                "sampler, steps, eta"):
            model.sample(1, 0, **given)


def test_bad_model_options_are_one_clear_error():
    with pytest.raises(KerasGenError, match="sample_steps .20. cannot exceed timesteps T .10."):
        tiny("ddpm", sample_steps=20)
    with pytest.raises(KerasGenError, match="image_size must be a multiple of 4"):
        registry.build("ddpm", image_size=10, channels=1, channel_multipliers="1,2,2", timesteps=10, filters=4)
    with pytest.raises(KerasGenError, match="channel_multipliers takes positive whole numbers"):
        registry.build("ddpm", image_size=8, channels=1, channel_multipliers="1,x", timesteps=10)
    with pytest.raises(KerasGenError, match="cddpm is class-conditional"):
        registry.build("cddpm", image_size=8, channels=1, timesteps=10)


def test_prediction_auto_is_v_with_the_cosine_schedule_and_a_saved_choice_is_kept():
    """The default `auto` trains and samples v under the cosine schedule (an epsilon network's x0
    estimate there is its error times 20,000 at t = T - 1) and epsilon under the linear one; the
    sampler's scheduler config (what an export's manifest carries) names the resolved prediction,
    and a checkpoint saved with epsilon (before auto existed) loads as epsilon."""
    cosine, linear = tiny("ddpm", schedule="cosine"), tiny("ddpm")
    assert cosine.options.prediction == "auto" and cosine.scheduler.prediction == "v"
    assert cosine.sampler().config["scheduler"]["prediction"] == "v"
    assert linear.scheduler.prediction == "epsilon" and linear.sampler().config["scheduler"]["prediction"] == "epsilon"
    x0, noise = np.full((2, 8, 8, 1), 0.5, np.float32), np.ones((2, 8, 8, 1), np.float32)
    t = np.array([2, 9])
    np.testing.assert_allclose(cosine.scheduler.training_target(x0, noise, t), cosine.scheduler.velocity(x0, noise, t))
    saved = {**cosine.get_config(), "prediction": "epsilon"}
    assert type(cosine).from_config(saved).scheduler.prediction == "epsilon"
    assert tiny("ddpm", schedule="cosine", prediction="epsilon").scheduler.prediction == "epsilon"


def test_min_snr_loss_weighting_round_trips_and_a_run_saved_before_it_trains_with_l_simple():
    """The option is in the config and weights each example's squared error by the scheduler's
    min-SNR weight at its t; `auto` (the default) is min_snr under the cosine schedule and uniform
    under the linear one; a config saved before the option existed loads as uniform (eq. 14)."""
    import tensorflow as tf

    assert tiny("ddpm", schedule="cosine").loss_weighting == "min_snr" and tiny("ddpm").loss_weighting == "uniform"
    model = tiny("ddpm", schedule="cosine", loss_weighting="min_snr", min_snr_gamma=2.0)
    assert type(model).from_config(model.get_config()).options.loss_weighting == "min_snr"
    assert type(model).from_config(model.get_config()).options.min_snr_gamma == 2.0
    old = {k: v for k, v in model.get_config().items() if k not in ("loss_weighting", "min_snr_gamma")}
    assert type(model).from_config(old).options.loss_weighting == "uniform"
    assert type(model).from_config(old).loss_weighting == "uniform"
    rng = np.random.default_rng(0)
    target, prediction = rng.standard_normal((2, 3, 8, 8, 1)).astype(np.float32)
    t = np.array([0, 5, 9], np.int32)
    per_example = ((target - prediction) ** 2).mean(axis=(1, 2, 3))
    weight = model.scheduler.loss_weight(t, "min_snr", 2.0)
    assert weight.min() < 0.5 * weight.max()  # the weights differ across these t
    loss = float(model.denoising_loss(tf.constant(target), tf.constant(prediction), tf.constant(t)))
    assert loss == pytest.approx(float((weight * per_example).mean()), rel=1e-5)
    uniform = tiny("ddpm", schedule="cosine", loss_weighting="uniform")
    loss = float(uniform.denoising_loss(tf.constant(target), tf.constant(prediction), tf.constant(t)))
    assert loss == pytest.approx(float(per_example.mean()), rel=1e-5)
    with pytest.raises(KerasGenError, match="loss_weighting"):
        tiny("ddpm", loss_weighting="p2")
