"""Checkpoints as a model wrote them before some of its options existed.

A config saved before an option was added lists every option of its day and not the new one
(GenerativeModel.options_added_later). `save_as_before` writes a `.keras` checkpoint of a model
built with the old values, then removes the new options from the config inside the archive, so
the file is what the earlier code wrote; `assert_loads_as_before` loads it the way runs are
loaded and checks it rebuilt the old network with the same weights and the same samples.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np

from keras_gen.runs import load_checkpoint


def save_as_before(model, path, added_later: dict):
    """Save `model` (built with the old values `added_later` and compiled) to `path` as a
    checkpoint whose config lacks the options in `added_later`."""
    for key, old in added_later.items():
        assert getattr(model.options, key) == old, f"build the model with its old {key}={old!r}"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    saved = json.loads(files["config.json"])
    for key in added_later:
        del saved["config"][key]
    files["config.json"] = json.dumps(saved).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def assert_loads_as_before(model, path, sample_kwargs: dict):
    """The checkpoint at `path` loads (training state included), with the old option values, the
    same variables, and the same samples as `model`, which wrote it."""
    loaded = load_checkpoint(path)
    added_later = type(model).options_added_later
    assert {k: getattr(loaded.options, k) for k in added_later} == {k: getattr(model.options, k) for k in added_later}
    assert [tuple(v.shape) for v in loaded.weights] == [tuple(v.shape) for v in model.weights]
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    np.testing.assert_array_equal(loaded.sample(**sample_kwargs), model.sample(**sample_kwargs))
    return loaded
