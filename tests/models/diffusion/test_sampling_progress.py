"""The CLI's progress bar over a sampling loop: `progress(done, total)` once per step, inside the
tf.while_loop (Keras runs) and in the numpy loop (exports on onnxruntime), with the same images."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

from keras_gen import inputs as kinds
from keras_gen import registry
from keras_gen.commands.sample import _sample_loop_with_bar
from keras_gen.images import to_uint8
from keras_gen.samplers import sample_with_progress, takes_progress

# n = 3 as in test_ddpm.py: the package's cddpm traces its sampling loop once for both files
REQUEST = {"steps": 4, "sampler": "ddpm", "eta": 0.5, "label": [1, 4, 7], "guidance": 3.0}


def _numpy_network(model):
    return lambda feeds: {k: np.asarray(v) for k, v in model.network(**feeds).items()}


def test_the_tf_loop_reports_each_step_once_and_samples_the_same_images(cddpm):
    calls = []
    images = sample_with_progress(cddpm, 3, 5, REQUEST, lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert np.array_equal(images, cddpm.sample(3, 5, **REQUEST))


def test_the_numpy_loop_reports_each_step_and_the_cli_bar_draws_on_a_terminal_only(cddpm, monkeypatch, capsys):
    edge = SimpleNamespace(run_network=_numpy_network(cddpm), input_specs=cddpm.request_specs(), sampler=cddpm.sampler())
    calls = []
    images = sample_with_progress(edge, 3, 5, REQUEST, lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)] and images.dtype == np.uint8
    keras_images = to_uint8(cddpm.sample(3, 5, **REQUEST))
    assert np.abs(images.astype(int) - keras_images).max() <= 1  # float32 rounding across runtimes
    assert _sample_loop_with_bar(edge, 3, 5, REQUEST, False, edge.sampler) is None  # stderr is no terminal here
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert _sample_loop_with_bar(edge, 3, 5, REQUEST, True, edge.sampler) is None  # --quiet
    assert _sample_loop_with_bar(edge, 3, 5, REQUEST, False, None) is None  # a model sampled in one call
    assert np.array_equal(_sample_loop_with_bar(edge, 3, 5, REQUEST, False, edge.sampler), images)
    assert "sampling" in capsys.readouterr().err
    legacy = SimpleNamespace(run_numpy=lambda network, inputs, n, seed: None, run_tf=lambda network, inputs, n, seed: None)
    assert takes_progress(edge.sampler) and not takes_progress(legacy)


def test_pixelcnn_reports_every_sub_pixel_in_both_loops():
    model = registry.build("pixelcnn", image_size=4, channels=1, **registry.get("pixelcnn").model_class.harness_options)
    values = kinds.resolve_inputs(model.request_specs(), 2, 0, {})
    numpy_calls, tf_calls = [], []
    model.sampler().run_numpy(_numpy_network(model), values, 2, 0, progress=lambda *a: numpy_calls.append(a))
    sample_with_progress(model, 2, 0, {}, lambda *a: tf_calls.append(a))
    assert numpy_calls == tf_calls == [(k, 16) for k in range(1, 17)]
