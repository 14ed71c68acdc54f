"""The diffusion schedulers against their equations, and numpy against TF step by step."""

from __future__ import annotations

import numpy as np
import pytest

from keras_gen.core.errors import KerasGenError
from keras_gen.core.schedulers import NUMPY, DiffusionScheduler
from keras_gen.core_tf.schedulers import TF


def _images(seed, shape=(3, 4, 4, 1)):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_closed_form_q_xt_given_x0_matches_iterating_the_one_step_process(schedule):
    """Eq. (4) against eq. (2) applied t + 1 times: same mean, same variance (Monte Carlo)."""
    s = DiffusionScheduler(20, schedule)
    x0 = np.linspace(-1, 1, 5, dtype=np.float64)
    rng = np.random.default_rng(0)
    draws = 200_000
    for t in (0, 7, 19):
        x = np.broadcast_to(x0, (draws, 5)).copy()
        for step in range(t + 1):  # q(x_s | x_{s-1}) = N(sqrt(1 - beta_s) x_{s-1}, beta_s)
            beta = float(s.betas[step])
            x = np.sqrt(1 - beta) * x + np.sqrt(beta) * rng.standard_normal(x.shape)
        abar = float(s.abar(t))
        np.testing.assert_allclose(x.mean(0), np.sqrt(abar) * x0, atol=0.01)
        np.testing.assert_allclose(x.var(0), 1 - abar, atol=0.01)
        # and add_noise is exactly that Gaussian's reparameterisation
        eps = rng.standard_normal((1, 1, 1, 5)).astype(np.float32)
        got = s.add_noise(x0.astype(np.float32).reshape(1, 1, 1, 5), eps, np.array([t]))
        np.testing.assert_allclose(got, np.sqrt(abar) * x0.reshape(1, 1, 1, 5) + np.sqrt(1 - abar) * eps, rtol=1e-5)


def test_posterior_mean_and_variance_are_the_product_of_gaussians():
    """q(x_{t-1} | x_t, x_0) ∝ q(x_t | x_{t-1}) q(x_{t-1} | x_0): completing the square gives
    precision 1/beta~ = alpha_t / beta_t + 1 / (1 - abar_{t-1}) and the mean of eq. (7)."""
    s = DiffusionScheduler(50, "linear")
    x0, x_t = _images(1)
    for t in (1, 10, 49):
        abar_prev, beta = float(s.abar(t - 1)), float(s.betas[t])
        precision = (1 - beta) / beta + 1 / (1 - abar_prev)
        mean = (np.sqrt(1 - beta) / beta * x_t + np.sqrt(abar_prev) / (1 - abar_prev) * x0) / precision
        got_mean, got_var = s.q_posterior(x0, x_t, t)
        np.testing.assert_allclose(got_var, 1 / precision, rtol=1e-4)
        np.testing.assert_allclose(got_mean, mean, rtol=1e-4, atol=1e-5)
    assert float(s.q_posterior(x0, x_t, 0)[1]) == 0.0  # the last step adds no noise


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("steps", [1, 7, 100])
def test_ddim_eta0_with_the_true_noise_recovers_x0_exactly(prediction, steps):
    """In float64: at the cosine schedule's last step abar = 2e-9, and reading x0 from eps
    divides by sqrt(abar), so float32 rounding alone would be amplified 20,000 times (the reason
    for v prediction at such schedules)."""
    s = DiffusionScheduler(1000, "cosine", prediction)
    x0, eps = (a.astype(np.float64) for a in _images(2))
    x = s.add_noise(x0, eps, np.full(3, s.timestep(0, steps)))
    for k in range(steps):
        t = s.timestep(k, steps)
        oracle = eps if prediction == "epsilon" else s.velocity(x0, eps, np.full(3, t))
        x = s.ddim_step(oracle, x, k, steps, 0.0, np.zeros_like(x))  # the noise direction stays eps
    np.testing.assert_allclose(x, x0, atol=1e-6)  # the tables are float32: sqrt(abar)^2 + sqrt(1 - abar)^2 = 1 +- 1e-7


@pytest.mark.parametrize("clip_sample", [False, True])
def test_ddim_with_eta1_on_every_step_is_ddpm(clip_sample):
    """Song et al.: eta = 1 gives sigma^2 = beta~, and the DDIM mean equals the posterior mean.
    With clipping (x0_hat clipped here at k = 0) the posterior keeps the share beta / (1 - abar_t)
    of x0_hat's clipped-off part out of its mean, 1 - SNR_t / SNR_prev: DDIM at clip_rate 1."""
    s = DiffusionScheduler(30, "linear", clip_sample=clip_sample, clip_rate=1.0)
    x0, eps = _images(3)
    x_t, z = _images(4)
    for k in (0, 5, 29):
        x0_hat, eps_hat = s.read_prediction(eps, x_t, s.timestep(k, 30))
        abar = float(s.abar(s.timestep(k, 30)))
        np.testing.assert_allclose(np.sqrt(abar) * x0_hat + np.sqrt(1 - abar) * eps_hat, x_t, atol=1e-5)
        if k == 0:  # x0_hat is read from pure noise: far outside [-1, 1], so clipping acts
            assert np.abs(x0_hat).max() > 10 and np.abs(s.split_prediction(eps, x_t, 29)[0]).max() == (
                1.0 if clip_sample else np.abs(x0_hat).max())
        a = s.ddim_step(eps, x_t, k, 30, 1.0, z)
        b = s.ddpm_step(eps, x_t, k, 30, z)
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_ddim_keeps_snr_ratio_to_the_clip_rate_of_the_clipped_off_part_and_none_at_the_last_step(schedule):
    """Issue 27: re-reading eps_hat from the clipped x0_hat keeps sqrt(SNR_t / SNR_prev) of the
    clipped-off part d = x0_hat - clip(x0_hat) in x_prev (at the cosine schedule's first step, d is the
    network's error times 20,000, and the deterministic chain carried it to the end as speckle).
    A step keeps (SNR_t / SNR_prev)^clip_rate of d with the network's own eps_hat:
        x_prev = sqrt(abar_prev) (clip(x0_hat) + rho^k d) + sqrt(1 - abar_prev) eps_hat,
    so over a stretch of the chain the share kept is (SNR_end / SNR_start)^k whatever the number
    of steps, and the last step (abar_prev = 1, rho = 0) returns clip(x0_hat) itself."""
    s = DiffusionScheduler(1000, schedule)
    assert s.clip_rate == 4.0
    rng = np.random.default_rng(7)
    eps = rng.standard_normal((2, 4, 4, 1))
    for steps in (20, 50):
        for k in (0, 1, steps // 2, steps - 1):
            t, t_prev = int(s.timestep(k, steps)), int(s.timestep(k + 1, steps))
            a, a_prev = float(s.abar(t)), float(s.abar(t_prev))
            x0_hat = rng.uniform(-3, 3, eps.shape)  # half of it outside [-1, 1]
            x_t = np.sqrt(a) * x0_hat + np.sqrt(1 - a) * eps
            rho = a * (1 - a_prev) / ((1 - a) * a_prev)
            kept = np.clip(x0_hat, -1, 1) + rho ** 4 * (x0_hat - np.clip(x0_hat, -1, 1))
            want = np.sqrt(a_prev) * kept + np.sqrt(1 - a_prev) * eps
            got = s.ddim_step(eps.astype(np.float32), x_t.astype(np.float32), k, steps, 0.0, np.zeros_like(eps))
            np.testing.assert_allclose(got, want, atol=2e-4 * max(1.0, np.sqrt(a_prev / a)))
            if k == steps - 1:  # the last step lands on the clipped prediction: no noise and no overshoot left
                assert t_prev == -1 and a_prev == 1.0
                np.testing.assert_allclose(got, np.clip(x0_hat, -1, 1), atol=1e-3)
    # where nothing is clipped the step is eq. (12) exactly
    x0_hat = rng.uniform(-0.9, 0.9, eps.shape)
    t, t_prev = int(s.timestep(3, 10)), int(s.timestep(4, 10))
    a, a_prev = float(s.abar(t)), float(s.abar(t_prev))
    x_t = (np.sqrt(a) * x0_hat + np.sqrt(1 - a) * eps).astype(np.float32)
    np.testing.assert_allclose(s.ddim_step(eps.astype(np.float32), x_t, 3, 10, 0.0, 0.0),
                               np.sqrt(a_prev) * x0_hat + np.sqrt(1 - a_prev) * eps, atol=1e-5)


def test_clip_rate_is_in_the_config_and_must_be_positive():
    s = DiffusionScheduler(10, clip_rate=2.0)
    assert DiffusionScheduler(**s.get_config()).clip_rate == 2.0
    # an export made before clip_rate existed samples with the fixed rule
    assert DiffusionScheduler(**{k: v for k, v in s.get_config().items() if k != "clip_rate"}).clip_rate == 4.0
    for bad in (0, -1.0, "4", True):
        with pytest.raises(KerasGenError, match="clip_rate must be a positive number"):
            DiffusionScheduler(10, clip_rate=bad)


@pytest.mark.parametrize("sampler", [0, 1])
@pytest.mark.parametrize("prediction", ["v", "epsilon"])
def test_numpy_and_tf_schedulers_agree_step_by_step(sampler, prediction):
    """Both runtimes run the same rule, clipping included (an epsilon network's first x0_hat is
    far outside [-1, 1]: the DDIM clip rule acts there)."""
    import tensorflow as tf

    s = DiffusionScheduler(40, "cosine", prediction)
    x, _ = _images(5, (2, 8, 8, 3))
    x = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)  # x_T: pure noise
    x_tf = tf.constant(x)
    clipped = 0
    for k in range(10):
        out, z = _images(10 + k, x.shape)
        clipped += int(np.abs(s.read_prediction(out, x, s.timestep(k, 10))[0]).max() > 1)
        x = s.step(sampler, out, x, k, 10, 0.3, z)
        x_tf = s.step(tf.constant(sampler), tf.constant(out), x_tf, tf.constant(k), tf.constant(10),
                      tf.constant(0.3), tf.constant(z), TF)
        np.testing.assert_allclose(x, x_tf.numpy(), atol=1e-5, rtol=1e-5)
    assert clipped > 0
    assert np.array_equal(s.set_timesteps(10), [int(s.timestep(tf.constant(k), tf.constant(10), TF)) for k in range(10)])
    assert NUMPY.name == "numpy"


def test_min_snr_weight_is_x0s_error_weighted_by_min_snr_gamma_in_both_runtimes():
    """Hang et al. 2023: the squared error of x0 weighted by min(SNR_t, gamma); an epsilon
    network's error is SNR_t times x0's and a v network's (SNR_t + 1) times, so their weights are
    min(SNR, 5) / SNR and min(SNR, 5) / (SNR + 1). SNR from the schedule in float64 here."""
    import tensorflow as tf

    betas = np.clip(1 - np.cos(((np.arange(1, 1001) / 1000 + 0.008) / 1.008) * np.pi / 2) ** 2
                    / np.cos(((np.arange(1000) / 1000 + 0.008) / 1.008) * np.pi / 2) ** 2, 0, 0.999)
    abar = np.cumprod(1 - betas)
    snr = abar / (1 - abar)
    t = np.array([0, 100, 300, 500, 900, 999])
    expected = {"epsilon": np.minimum(snr[t], 5) / snr[t], "v": np.minimum(snr[t], 5) / (snr[t] + 1)}
    for prediction in ("epsilon", "v"):
        s = DiffusionScheduler(1000, "cosine", prediction)
        np.testing.assert_allclose(s.snr(t), snr[t], rtol=2e-3)
        weight = s.loss_weight(t, "min_snr", 5.0)
        np.testing.assert_allclose(weight, expected[prediction], rtol=2e-3)
        np.testing.assert_allclose(s.loss_weight(tf.constant(t), "min_snr", 5.0, TF).numpy(), weight, rtol=1e-6)
        np.testing.assert_array_equal(s.loss_weight(t, "uniform"), np.ones(len(t)))
        # x0's error weighted by min(SNR, gamma): the weight times the target's own factor
        factor = snr[t] if prediction == "epsilon" else snr[t] + 1
        np.testing.assert_allclose(weight * factor, np.minimum(snr[t], 5), rtol=2e-3)
    s = DiffusionScheduler(1000, "cosine", "epsilon")
    assert s.loss_weight(999, "min_snr") == pytest.approx(1.0) and s.loss_weight(0, "min_snr") < 1e-3
    v = DiffusionScheduler(1000, "cosine", "v").loss_weight(np.arange(1000), "min_snr")
    assert v.max() == pytest.approx(5 / 6, rel=0.01) and v[999] < 1e-8 and v[0] < 1e-3  # peak at SNR = gamma
    with pytest.raises(KerasGenError, match="loss_weighting must be one of uniform, min_snr"):
        s.loss_weight(t, "p2")
    with pytest.raises(KerasGenError, match="min_snr_gamma must be a positive number"):
        s.loss_weight(t, "min_snr", 0.0)


def test_timesteps_start_at_pure_noise_and_end_at_zero():
    s = DiffusionScheduler(1000)
    for steps in (1, 10, 50, 1000):
        tau = s.set_timesteps(steps)
        assert tau[0] == 999 and len(tau) == steps and np.all(np.diff(tau) < 0)
    assert list(DiffusionScheduler(10).set_timesteps(10)) == list(range(9, -1, -1))


@pytest.mark.parametrize("steps", [0, 11, 2.5])
def test_steps_outside_1_to_T_are_one_clear_error(steps):
    with pytest.raises(KerasGenError, match="steps must be a whole number from 1 to T = 10"):
        DiffusionScheduler(10).set_timesteps(steps)


def test_unknown_schedule_or_prediction_is_one_clear_error():
    with pytest.raises(KerasGenError, match="noise schedule"):
        DiffusionScheduler(10, "quadratic")
    with pytest.raises(KerasGenError, match="prediction must be one of auto, epsilon, v"):
        DiffusionScheduler(10, prediction="x0")


def test_auto_prediction_is_v_under_cosine_where_epsilon_amplifies_its_error_20000_times():
    """x0_hat's change for an output error of 1e-3 at t = T - 1: an epsilon network's is the error
    over sqrt(abar) (cosine: abar 2.4e-9, so 20,000x), a v network's the error times sqrt(1 - abar)."""
    x = np.zeros((1, 2, 2, 1), np.float32)
    error = np.full_like(x, 1e-3)
    amplification = {}
    for prediction in ("epsilon", "v"):
        s = DiffusionScheduler(1000, "cosine", prediction)
        moved = s.read_prediction(error, x, 999)[0] - s.read_prediction(0 * error, x, 999)[0]
        amplification[prediction] = float(np.abs(moved).max()) / 1e-3
    assert amplification["epsilon"] > 1e4 and amplification["v"] <= 1.0 + 1e-6
    assert DiffusionScheduler(1000, "cosine", "auto").get_config()["prediction"] == "v"
    assert DiffusionScheduler(1000, "linear", "auto").get_config()["prediction"] == "epsilon"


def _gaussian_oracle(s, x, t, mu, std, prediction):
    """The exact network for data x0 ~ N(mu, std^2): x_t ~ N(sqrt(a) mu, a std^2 + 1 - a) and
    E[eps | x_t] = sqrt(1 - a) (x_t - sqrt(a) mu) / (a std^2 + 1 - a); v is linear in eps and x0."""
    a = float(s.abar(t))
    eps = np.sqrt(1 - a) * (x - np.sqrt(a) * mu) / (a * std * std + 1 - a)
    if prediction == "epsilon":
        return eps
    x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
    return np.sqrt(a) * eps - np.sqrt(1 - a) * x0


@pytest.mark.parametrize("schedule, prediction", [("linear", "epsilon"), ("cosine", "v")])
def test_samplers_with_the_exact_denoiser_reach_the_data_distribution_and_ddim_improves_with_steps(
        schedule, prediction):
    """Data N(0.3, 0.2^2): DDIM (eta 0) over S = 10 .. 1000 trailing steps is Song et al.'s eq. (12)
    written out here, its std error shrinks at every larger S (towards the probability-flow ODE),
    the mean is right at every S, and DDIM-1000 and DDPM-1000 both land on the data's std."""
    mu, std, n = 0.3, 0.2, 4000
    s = DiffusionScheduler(1000, schedule, prediction, clip_sample=False)
    start = np.random.default_rng(0).standard_normal((n, 1, 1, 1))
    errors = []
    for steps in (10, 20, 50, 100, 1000):
        tau = s.set_timesteps(steps)
        assert len(set(tau.tolist())) == steps and tau[0] == 999 and tau[-1] == 1000 // steps - 1
        x, ref = start.copy(), start.copy()
        for k, t in enumerate(tau):
            x = s.step(0, _gaussian_oracle(s, x, t, mu, std, prediction), x, k, steps, 0.0, np.zeros_like(x))
            a, a_prev = float(s.abar(t)), (float(s.abar(tau[k + 1])) if k + 1 < steps else 1.0)
            eps = _gaussian_oracle(s, ref, t, mu, std, "epsilon")
            ref = np.sqrt(a_prev) * (ref - np.sqrt(1 - a) * eps) / np.sqrt(a) + np.sqrt(1 - a_prev) * eps  # eq. (12)
        np.testing.assert_allclose(x, ref, atol=1e-5)
        assert abs(x.mean() - mu) < 0.01
        errors.append(abs(x.std() - std))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.005, errors
    rng = np.random.default_rng(1)
    x = start.copy()
    for k, t in enumerate(s.set_timesteps(1000)):
        x = s.step(1, _gaussian_oracle(s, x, t, mu, std, prediction), x, k, 1000, 0.0, rng.standard_normal(x.shape))
    assert abs(x.mean() - mu) < 0.01 and abs(x.std() - std) < 0.01, (x.mean(), x.std())
