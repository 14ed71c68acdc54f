"""`--precision`: float16 with loss scaling (several optimizers and the EMA included), bfloat16,
float32 variables, outputs, checkpoints and exports (every registered model's step under
mixed_float16 is in the harness: test_mixed_float16_steps_scale_their_losses_and_keep_float32)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import registry
from keras_gen.cli import main
from keras_gen.distribute import precision_policy
from keras_gen.keras_adapter import inner_optimizer, scales_losses, weight_average

TINY = dict(image_size=16, channels=1, latent_dim=8, base_filters=4, ema=0.9)


def _dcgan(precision):
    with precision_policy(precision):
        keras.utils.set_random_seed(0)
        model = registry.build("dcgan", **TINY)
        model.compile()
    return model


def _images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 16, 16, 1)).astype("float32")


def test_the_policy_is_the_runs_and_is_restored_after():
    assert keras.config.dtype_policy().name == "float32"
    model = _dcgan("mixed_float16")
    assert keras.config.dtype_policy().name == "float32"
    assert model.generator.layers[2].compute_dtype == "float16"
    # Networks end in float32 (their last layers compute in it), variables are float32.
    assert model.generator.output.dtype == "float32" and model.discriminator.layers[-1].compute_dtype == "float32"
    assert {v.dtype for v in model.variables if "float" in v.dtype} == {"float32"}
    assert "dtype" not in model.get_config()  # a checkpoint is built in the policy where it is loaded
    with pytest.raises(Exception, match="precision"):
        with precision_policy("float8"):
            pass


def test_loss_scaled_gradients_equal_float32_ones():
    """apply_gradients' scaling: the gradient taken at loss x scale, divided by the scale, is the
    float32 gradient to float16's precision; without the scale, D's smallest gradients vanish."""
    grads = {}
    for precision in ("float32", "mixed_float16"):
        model = _dcgan(precision)
        with tf.GradientTape(persistent=True) as tape:
            logits = model.discriminator(_images(), training=True)
            loss = tf.reduce_mean(tf.nn.softplus(-logits)) * 1e-6  # small, as late in training
        optimizer = model.optimizers["discriminator"]
        scale = float(optimizer.scale_loss(1.0)) if scales_losses(optimizer) else 1.0
        grads[precision] = [np.asarray(g) / scale for g in model.loss_gradients("discriminator", tape, loss)]
        if precision == "mixed_float16":
            assert scale == 2.0 ** 15
            unscaled = tape.gradient(loss, model.variables_for("discriminator"))
            assert sum(int(np.sum(np.asarray(g) == 0)) for g in unscaled) > sum(
                int(np.sum(g == 0)) for g in grads[precision]), "float16 underflow did not show without scaling"
    for a, b in zip(grads["mixed_float16"], grads["float32"], strict=True):
        assert np.linalg.norm(a - b) <= 2e-2 * np.linalg.norm(b) + 1e-30


def test_an_overflowing_step_is_skipped_with_its_ema_and_the_scale_halved():
    model = _dcgan("mixed_float16")
    assert all(scales_losses(o) for o in model.optimizers.values())
    data = tf.data.Dataset.from_tensors(_images())
    model.fit(data, epochs=1, verbose=0)
    d = model.optimizers["discriminator"]
    assert int(d.iterations) == 1 and float(d.dynamic_scale) == 2.0 ** 15
    weights = [np.asarray(v) for v in model.variables_for("discriminator")]
    averages = [np.asarray(a) for _, a in weight_average(d).pairs()]
    d.dynamic_scale.assign(2.0 ** 100)  # the scaled gradient overflows float16: inf
    model.fit(data, epochs=1, verbose=0)
    assert int(d.iterations) == 1, "a non-finite step was taken"
    assert float(d.dynamic_scale) == 2.0 ** 99
    for before, variable in zip(weights, model.variables_for("discriminator"), strict=True):
        np.testing.assert_array_equal(before, np.asarray(variable))
    for before, (_, average) in zip(averages, weight_average(d).pairs(), strict=True):
        np.testing.assert_array_equal(before, np.asarray(average))  # the EMA skipped it too
    assert int(model.optimizers["generator"].iterations) == 2  # G's own scale was fine


def test_bfloat16_trains_without_loss_scaling():
    model = _dcgan("mixed_bfloat16")
    assert not any(scales_losses(o) for o in model.optimizers.values())
    history = model.fit(tf.data.Dataset.from_tensors(_images()).repeat(2), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert model.generator.layers[2].compute_dtype == "bfloat16"
    assert int(model.optimizers["generator"].iterations) == 2


def test_cli_float16_run_resumes_as_float16_and_exports_float32(tmp_path, capsys):
    from keras_gen.runs import load_run

    run = tmp_path / "run"
    common = ["--data", "digits", "--image-size", "16", "--batch-size", "8", "--steps-per-epoch", "2",
              "--set", "base_filters=4", "--set", "latent_dim=8", "--set", "ema=0.9"]
    assert main(["train", "dcgan", "--out", str(run), "--epochs", "1", "--precision", "mixed_float16", *common]) == 0
    assert "mixed_float16" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["precision"] == "mixed_float16"
    assert main(["train", "dcgan", "--out", str(run), "--resume", "--epochs", "2", "--precision", "float32"]) == 2
    assert "precision (run: 'mixed_float16', given: 'float32')" in capsys.readouterr().err
    assert main(["train", "dcgan", "--out", str(run), "--resume", "--epochs", "2"]) == 0
    model, _ = load_run(run)  # here, in float32: a float32 network with the run's loss-scaled optimizers
    assert all(scales_losses(o) for o in model.optimizers.values())
    assert all(int(inner_optimizer(o).iterations) >= 3 for o in model.optimizers.values())
    assert model.generator.layers[2].compute_dtype == "float32"
    assert main(["export", str(run), "--out", str(tmp_path / "exports"), "--name", "dcgan"]) == 0
    manifest = json.loads((tmp_path / "exports" / "dcgan" / "1" / "manifest.json").read_text())
    assert manifest["parity"]["passed"] is True and manifest["parity"]["max_abs_diff"] <= manifest["parity"]["atol"]
