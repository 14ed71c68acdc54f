"""The harness every registered model passes. Registering a model enrols it here.

For each name in `registry.names()` (the test-only loop model included), with the model's own
`harness_options` (tiny, so all of this takes seconds):
  - config round trip: get_config -> from_config -> the same config; options as --set strings;
  - save -> reload (safe_mode) -> the same samples and the same training state, bit for bit;
  - 1 + 1 epochs resumed across a reload equal 2 straight (every weight, every optimizer
    variable, every seed generator), through the CLI on bundled data: the straight run's epoch-1
    checkpoint, in a copy of the run as a process killed after epoch 1 leaves it, resumed;
  - CLI sample from the run, CLI export of it (parity on every endpoint, recorded in the
    manifest), and CLI sample of the export on onnxruntime equal to the Keras model's sample.
One export per model serves every check that needs it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from keras_gen import inputs as kinds
from keras_gen import registry
from keras_gen.cli import main
from keras_gen.images import to_uint8
from tests.model_checks import (assert_checkpoint_layout_kept, assert_same_training_state, run_model_saving_test,
                                run_serialization_test)
from tests.models import toy_coded, toy_loop, toy_pix2pix, toy_translator, toy_upscaler  # noqa: F401  (test-only models)

NAMES = registry.names()
STEPS, BATCH = 2, 8


def _spec(name):
    spec = registry.get(name)
    if not spec.model_class.harness_options:
        pytest.fail(f"{spec.model_class.__name__} defines no harness_options: give it tiny settings "
                    "(see the README's 'Adding a model').")
    return spec


# Classes of the data each kind trains on in the harness (digits: 10; shapes' attributes: 6 shapes).
HARNESS_CLASSES = {"labelled": 10, "attributes": 6}
HARNESS_TABLE = 4 * BATCH  # an "indexed" model's latent table (training fills it in from the data)


def _tiny(name):
    spec = _spec(name)
    extra = {"num_images": HARNESS_TABLE} if spec.data_kind == "indexed" else {}
    return registry.build(name, image_size=spec.model_class.harness_image_size, channels=1,
                          num_classes=HARNESS_CLASSES.get(spec.data_kind), **spec.model_class.harness_options, **extra)


def _set_flags(name) -> list[str]:
    spec = _spec(name)
    size = spec.model_class.harness_image_size
    flags = ["--image-size", str(size) if isinstance(size, int) else "x".join(map(str, size))]
    for key, value in spec.model_class.harness_options.items():
        flags += ["--set", f"{key}={value}"]
    return flags


def _tiny_batch(model, seed=0):
    """One in-memory batch shaped as the model's data kind yields it, each image at its side's shape."""
    rng = np.random.default_rng(seed)
    shapes = model.data_shapes()
    images = rng.uniform(-1, 1, (BATCH, *shapes[0])).astype("float32")
    if model.data_kind == "labelled":
        return images, (np.arange(BATCH) % model.num_classes).astype("int64")
    if model.data_kind in ("paired", "unpaired", "degraded"):
        return images, rng.uniform(-1, 1, (BATCH, *shapes[1])).astype("float32")
    if model.data_kind == "indexed":
        return images, (np.arange(BATCH) % model.options.num_images).astype("int64")
    if model.data_kind == "attributes":
        from keras_gen.data.training_data import attribute_arrays

        _, labels, attributes = attribute_arrays("shapes", "train", image_size=model.image_size, channels=1,
                                                 seed=seed, limit=BATCH)
        return images, labels, attributes
    if model.data_kind == "captioned":
        from keras_gen.core.text import tokenize
        from keras_gen.data.captions import example_captions

        text = model.text_spec()
        return images, tokenize(example_captions()[:BATCH], text.vocabulary, text.max_words)[0]
    return images


def write_data_flags(root) -> dict[str, list[str]]:
    """--data flags per data kind, on bundled data (two-domain sets written from `shapes` into root)."""
    from keras_gen.data import load_arrays
    from keras_gen.images import save_image

    a, _, _ = load_arrays("shapes", "train", image_size=16, channels=1, limit=48, seed=0)
    b, _, _ = load_arrays("shapes", "train", image_size=16, channels=1, limit=48, seed=1)
    for domain, images in (("A", a), ("B", b)):
        for i, image in enumerate(to_uint8(images)):
            save_image(image, root / "two" / domain / f"{i:03d}.png")
    return {"images": ["--data", "digits"], "labelled": ["--data", "digits"], "indexed": ["--data", "digits"],
            "attributes": ["--data", "shapes"], "degraded": ["--data", "digits"], "captioned": ["--data", "shapes"],
            "paired": ["--data", str(root / "two")], "unpaired": ["--data", str(root / "two" / "A"),
                                                                   "--data-b", str(root / "two" / "B")]}


def train_harness_runs(name, root, data_flags) -> tuple:
    """(resumed run, straight run, export version dir) of model `name` under root, through the CLI:
    2 epochs straight; the same run as it stands when stopped after epoch 1 (`stopped_after_epoch_1`),
    resumed with `--resume` for the second; and the resumed run exported. Two train calls and three
    epochs for the exact-resume proof (the checkpoint the straight run wrote after epoch 1 is the one
    a separate 1-epoch run would write: same seed, same data, same steps)."""
    common = [*data_flags[registry.get(name).data_kind], *_set_flags(name), "--batch-size", str(BATCH),
              "--steps-per-epoch", str(STEPS), "--seed", "3"]
    resumed, straight = root / "resumed", root / "straight"
    assert main(["train", name, "--out", str(straight), "--epochs", "2", *common]) == 0
    stopped_after_epoch_1(straight, resumed)
    assert main(["train", name, "--out", str(resumed), "--resume"]) == 0  # on to the run's own 2 epochs
    assert main(["export", str(resumed), "--out", str(root / "exports"), "--name", name]) == 0
    return resumed, straight, root / "exports" / name / "1"


def stopped_after_epoch_1(run, out) -> None:
    """Write into `out` the run folder that `run` (2 epochs, finished) was after its first epoch, as a
    process killed then leaves it: its config.json, the epoch-1 checkpoint (`run`'s previous.keras,
    which the second epoch's checkpoint rotated out of last.keras) as last.keras, and state.json."""
    from keras_gen.callbacks import read_checkpoint_state
    from keras_gen.runs import checkpoints

    last, previous = checkpoints(out)
    state = read_checkpoint_state(checkpoints(run)[1])
    assert state is not None and state["epoch"] == 1, state
    last.parent.mkdir(parents=True)
    shutil.copyfile(run / "config.json", out / "config.json")
    shutil.copyfile(checkpoints(run)[1], last)
    (out / "state.json").write_text(json.dumps(state))
    assert not previous.exists()


@pytest.fixture(scope="module")
def data_flags(tmp_path_factory):
    return write_data_flags(tmp_path_factory.mktemp("harness_data"))


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name):
    model = _tiny(name)
    run_serialization_test(model)
    spec = registry.get(name)
    as_flags = [f"{k}={v}" for k, v in model.get_config().items() if k in spec.defaults]
    assert registry.parse_options(spec, as_flags) == {k: model.get_config()[k] for k in spec.defaults}


def _noise_conditions(model, n):
    """Seeded random images for each image input of a request, at the shape the model reads it."""
    return {s.name: kinds.image_noise(dataclasses.replace(s, shape=model.image_input_shape(s)), n, 0)
            for s in model.request_specs() if s.kind == "image"}


@pytest.mark.parametrize("name", NAMES)
def test_save_reload_gives_the_same_samples_and_training_state(name, runs, tmp_path):
    """The run's trained model (two epochs through the CLI: weights, optimizer slots and seed
    generators all moved) saved to .keras and loaded back with safe_mode gives the same samples
    and the same training state, in the layout recorded for the model."""
    model = runs.trained(name)
    conditions = _noise_conditions(model, 4)
    loaded = run_model_saving_test(model, tmp_path, None, generate=lambda m, _: m.sample(4, seed=5, **conditions))
    assert_same_training_state(model, loaded)
    assert_checkpoint_layout_kept(name, tmp_path / "model.keras")
    images = model.sample(4, seed=1, **conditions)  # the traced batch size: a loop sampler is not traced again
    assert images.shape == (4, *model.output_shape) and images.dtype == np.float32
    assert -1.0 <= images.min() and images.max() <= 1.0


class HarnessRuns:
    """`runs(name)`: (resumed run, straight run, export version dir) of model `name`, trained through
    the CLI once. `runs.trained(name)`: the resumed run's model, loaded once for the tests that only
    read it (sampling is seeded by its request and moves no state; `ema_weights()` swaps back), the
    last two kept: xdist's loadgroup runs one model's tests one after another."""

    def __init__(self, tmp_path_factory, data_flags):
        self._tmp, self._flags = tmp_path_factory, data_flags
        self._runs, self._models = {}, {}

    def __call__(self, name):
        if name not in self._runs:
            self._runs[name] = train_harness_runs(name, self._tmp.mktemp(f"harness_{name}"), self._flags)
        return self._runs[name]

    def trained(self, name):
        from keras_gen.runs import load_run

        if name not in self._models:
            self._models = {k: v for k, v in list(self._models.items())[-1:]}
            self._models[name] = load_run(self(name)[0])[0]
        return self._models[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_flags):
    return HarnessRuns(tmp_path_factory, data_flags)


@pytest.mark.parametrize("name", NAMES)
def test_one_plus_one_epochs_resumed_equal_two_straight(name, runs):
    from keras_gen.runs import load_run

    _, straight, _ = runs(name)
    model_a = runs.trained(name)
    model_b, _ = load_run(straight)
    assert [int(o.iterations) for o in model_a.optimizers.values()] == [2 * STEPS] * len(model_a.optimizers)
    assert_same_training_state(model_a, model_b)


@pytest.mark.parametrize("name", NAMES)
def test_export_parity_on_every_endpoint(name, runs):
    _, _, version_dir = runs(name)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    parity = manifest["parity"]
    assert parity["passed"] is True and parity["max_abs_diff"] <= parity["atol"]
    assert set(manifest["endpoints"]) == set(registry.get(name).exports)
    for agreement in ("savedmodel_vs_edge", "savedmodel_vs_keras"):
        assert parity["sample"][agreement]["max_abs_diff"] <= 1
    assert parity["serving_default"]  # checked, or the same function as `sample`
    for endpoint in manifest["endpoints"].values():  # every input declares its kind
        assert all(i["kind"] in kinds.KINDS for i in endpoint["inputs"])
    network = manifest["endpoints"][parity["endpoint"]]["inputs"]
    if any(i["kind"] == "image" and None in i["shape"] for i in network):  # any size: checked at two sizes
        first, second = parity["input_shapes"], parity["second_size"]["input_shapes"]
        assert first != second and all(shape[0] != shape[1] for shape in second.values()), (first, second)
        assert all(v <= parity["atol"] for o in parity["second_size"]["outputs"].values() for v in o.values())


def _image_flags(model, folder):
    """`--NAME PATH` for each image input of the request (an image file the CLI reads, at the
    shape the model reads that input), and the same image as the Keras model's condition."""
    from keras_gen.data import load_arrays
    from keras_gen.images import from_uint8, load_image_file, save_image

    flags, conditions = [], {}
    for spec in model.request_specs():
        if spec.kind == "image":
            height, width, _ = model.image_input_shape(spec)
            digits, _, _ = load_arrays("digits", "test", image_size=(height, width), channels=1, limit=1)
            path = save_image(to_uint8(digits[0]), folder / f"{spec.name}.png")
            flags += [f"--{spec.name}", str(path)]
            conditions[spec.name] = from_uint8(load_image_file(path, spec.shape))
    return flags, conditions


@pytest.mark.parametrize("name", NAMES)
def test_cli_samples_of_the_run_and_the_export_agree(name, runs, tmp_path):
    resumed, _, version_dir = runs(name)
    model = runs.trained(name)
    flags, conditions = _image_flags(model, tmp_path)
    weights = json.loads((version_dir / "manifest.json").read_text())["metadata"]["weights"]
    assert weights == ("ema" if model.options.ema else "raw")
    assert main(["sample", str(resumed), "--n", "6", "--seed", "4", "--out", str(tmp_path / "run.npz"), *flags]) == 0
    assert main(["sample", str(version_dir.parent), "--n", "6", "--seed", "4", "--out", str(tmp_path / "edge.npz"),
                 *flags]) == 0
    # a PNG grid from the export (onnxruntime: no second load and trace of the run)
    assert main(["sample", str(version_dir.parent), "--n", "4", "--out", str(tmp_path / "grid.png"), *flags]) == 0
    run_npz, edge_npz = np.load(tmp_path / "run.npz"), np.load(tmp_path / "edge.npz")
    assert sorted(run_npz.files) == sorted(edge_npz.files)
    with model.ema_weights():  # what the CLI and the export use
        keras_images = to_uint8(model.sample(6, seed=4, **conditions))
    for images in (run_npz["images"], edge_npz["images"]):
        assert images.dtype == np.uint8 and images.shape == (6, *model.output_shape)
        assert np.abs(images.astype(int) - keras_images.astype(int)).max() <= 1
    assert (tmp_path / "grid.png").stat().st_size > 0


@pytest.mark.parametrize("name", NAMES)
def test_cli_evaluate_runs_every_metric_the_model_can_feed(name, runs, digits_classifier_cache, train_cached_classifier,
                                                           capsys):
    """Without --metrics, evaluate picks what the model feeds: sample metrics for generators, the
    per-class accuracy for a class-conditional one, PSNR/SSIM for a paired translator or an
    autoencoder, and one clear error for a model that feeds none (a face swap)."""
    from keras_gen.evaluation.metric_table import capabilities

    resumed, _, _ = runs(name)
    spec = registry.get(name)
    config = json.loads((resumed / "config.json").read_text())
    if config["data"] == "shapes":  # its domain classifier, trained for one epoch: the test checks the plumbing
        train_cached_classifier("shapes", epochs=1)
    capsys.readouterr()
    args = ["evaluate", str(resumed), "--n", "150", "--cache-dir", str(digits_classifier_cache)]
    model = _tiny(name)  # what it feeds and what its request takes: one build
    if not capabilities(model):  # no prior and no pairs (an autoencoder, a face swap): one clear error
        assert main(args) == 2
        assert "feeds no metric" in capsys.readouterr().err
        return
    assert main(args) == 0
    printed = capsys.readouterr().out
    if spec.data_kind == "degraded":  # a super-resolution model: its scores per scale beside bicubic's
        expected = ["y_psnr_x", "y_ssim_x", "rgb_psnr_x", "vgg_distance_x"]
    elif spec.data_kind == "paired" or callable(getattr(spec.model_class, "reconstruct", None)):
        expected = ["psnr", "ssim"]  # a translator's or an autoencoder's pairs
    else:
        expected = ["fid", "kid x1000", "precision", "recall"]
        if any(s.kind == "label" for s in model.request_specs()):
            expected += ["label_accuracy", "label_accuracy per class (generated/floor): 0:"]
    for row in expected:
        assert row in printed, f"{row!r} missing from:\n{printed}"
    assert "floor" in printed


@pytest.mark.parametrize("name", NAMES)
def test_mixed_float16_steps_scale_their_losses_and_keep_float32(name):
    """Two steps under `--precision mixed_float16`: every optimizer is a LossScaleOptimizer (the
    loss scaled through apply_gradients' output gradient, unscaled before the step), at least one
    step is taken (a step skipped for an overflow halves the scale and is not counted), the
    losses are finite, variables stay float32 and the samples are float32 images."""
    import keras
    import tensorflow as tf

    from keras_gen.distribute import precision_policy
    from keras_gen.keras_adapter import inner_optimizer, scales_losses

    with precision_policy("mixed_float16"):
        keras.utils.set_random_seed(0)
        model = _tiny(name)
        model.compile()
        data = tf.data.Dataset.from_tensors(_tiny_batch(model)).repeat()
        history = model.fit(data, epochs=1, steps_per_epoch=2, verbose=0).history
        # A step whose gradient overflows float16 at the first scale (the model's
        # initial_loss_scale) is skipped while the scale halves; it must settle within a few.
        for _ in range(4):
            if all(int(inner_optimizer(o).iterations) for o in model.optimizers.values()):
                break
            history = model.fit(data, epochs=1, steps_per_epoch=2, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in history.values()), history
    assert model.optimizers and all(scales_losses(o) for o in model.optimizers.values())
    for optimizer_name, optimizer in model.optimizers.items():
        taken, scale = int(inner_optimizer(optimizer).iterations), float(optimizer.dynamic_scale)
        assert taken >= 1, f"{optimizer_name}: every step was skipped (scale now {scale})"
        assert scale >= model.initial_loss_scale / 2 ** 10, f"{optimizer_name}: the loss scale fell to {scale}"
    assert {v.dtype for v in model.trainable_variables} == {"float32"}
    images = model.sample(2, seed=1, **_noise_conditions(model, 2))
    assert images.dtype == np.float32 and np.isfinite(images).all()
