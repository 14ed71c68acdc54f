"""The model contract's shared pieces: input kinds, the registry, options, EMA, and
the sampling CLI with conditions (class labels, options, raw outputs)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_gen import inputs as kinds
from keras_gen import registry
from keras_gen.errors import KerasGenError

REPO = Path(__file__).resolve().parents[1]


def test_requests_resolve_the_same_way_everywhere():
    specs = [kinds.latent(4), kinds.label(10), kinds.code("c", "categorical", num_classes=3),
             kinds.code("u", "uniform", dim=2), kinds.option("steps", 5, 1, 50)]
    a = kinds.resolve_inputs(specs, 6, seed=7)
    np.testing.assert_array_equal(a["label"], [0, 1, 2, 3, 4, 5])  # every class in turn
    assert a["steps"] == 5 and a["steps"].dtype == np.int32
    # Random inputs draw from their own streams: the latent is the plain seeded latent.
    from keras_gen.latents import gaussian_latents

    np.testing.assert_array_equal(a["z"], gaussian_latents(6, 4, 7))
    b = kinds.resolve_inputs(specs, 6, seed=7, conditions={"label": [3, 9], "steps": 9})
    np.testing.assert_array_equal(b["label"], [3, 9, 3, 9, 3, 9])  # cycled to n
    np.testing.assert_array_equal(b["z"], a["z"])  # conditions never move the random draws
    for bad, message in (({"label": 10}, "from 0 to 9"), ({"steps": 0}, "from 1 to 50"), ({"steps": 2.5}, "whole"),
                         ({"nope": 1}, "unknown input.*takes z, label"), ({"label": [1.5]}, "class indices")):
        with pytest.raises(KerasGenError, match=message):
            kinds.resolve_inputs(specs, 6, 7, bad)
    with pytest.raises(KerasGenError, match="needs an input image"):
        kinds.resolve_inputs([kinds.image((8, 8, 3))], 2, 0)
    for n, seed in ((0, 0), (65537, 0), (1, -1), (1, 2**32)):
        with pytest.raises(KerasGenError, match="--n|--seed"):
            kinds.resolve_inputs(specs, n, seed)


def test_tf_resolution_matches_numpy():
    import tensorflow as tf

    from keras_gen.core_tf.inputs import resolve_inputs_tf

    specs = [kinds.latent(4), kinds.label(10), kinds.code("c", "categorical", num_classes=3)]
    numpy_values = kinds.resolve_inputs(specs, 5, 11, {"label": [2, 7]})
    tf_values = resolve_inputs_tf(specs, tf.constant(5), tf.constant(11, tf.int64),
                                  {"label": tf.constant([2, 7], tf.int32),
                                   "c": tf.zeros((0,), tf.int32)})  # an empty code: draw it
    for key, value in numpy_values.items():
        np.testing.assert_allclose(np.asarray(tf_values[key]), value, atol=1e-5)


def test_input_declarations_round_trip_through_json():
    for spec in (kinds.latent(8), kinds.label(3), kinds.image((None, None, 3), dtype="uint8"),
                 kinds.option("guidance", 3.0, 0.0, 20.0), kinds.code("u", "uniform", dim=2)):
        assert kinds.InputSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    with pytest.raises(KerasGenError, match="kind"):
        kinds.InputSpec("x", "noise")


def _fresh_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_listing_models_imports_no_tensorflow_and_no_model_module():
    """`keras-gen models` reads the registrations only: one line a model, no TensorFlow, no model
    module, no source parsed."""
    out = _fresh_python("import sys\nfrom keras_gen.cli import main\nmain(['models'])\n"
                        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')"
                        " or m.count('.') >= 3 and m.startswith('keras_gen.models.')))")
    lines = out.strip().splitlines()
    assert lines[-1] == "[]"
    listed = [line.split()[0] for line in lines[:-1] if line.strip() and not line.startswith("`")]
    packaged = sorted(e["name"] for e in registry.catalog() if e["family"] != "test")
    assert listed == [*packaged, "classifier"]  # one line a model, not a page of options
    dcgan = next(line for line in lines if line.startswith("dcgan "))
    assert "adversarial" in dcgan and "images" in dcgan and "convolutional GAN" in dcgan


def test_finding_a_model_imports_its_module_alone():
    """Looking a model up imports its family's registrations (no TensorFlow) and, when its class is
    used, its own module: no other model module."""
    out = _fresh_python("import sys\nfrom keras_gen import registry\nspec = registry.get('cdcgan')\n"
                        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
                        "spec.model_class\n"
                        "print(sorted(m for m in sys.modules if m.startswith('keras_gen.models.') and m.count('.') >= 3))")
    before, after = out.strip().splitlines()[-2:]
    assert before == "[]"
    modules = eval(after)  # noqa: S307 (our own printed list)
    assert "keras_gen.models.gan.cdcgan" in modules and "keras_gen.models.gan.dcgan" in modules  # its base
    assert not any(m.startswith(("keras_gen.models.latent.", "keras_gen.models.diffusion.",
                                 "keras_gen.models.autoregressive.", "keras_gen.models.style.")) for m in modules)
    assert "keras_gen.models.gan.stylegan" not in modules


def test_the_registration_is_the_one_source_of_a_models_name_and_data_kind():
    for name in registry.names():
        spec = registry.get(name)
        cls = spec.model_class
        assert (cls.registered_name, cls.data_kind) == (name, spec.data_kind)
        assert spec.summary and spec.family and "\n" not in spec.summary
    with pytest.raises(KerasGenError, match="Two models are registered as 'dcgan'"):
        registry.Family("elsewhere", "somewhere").register("dcgan", "x:Y", data_kind="images", summary="s")
    with pytest.raises(KerasGenError, match="data_kind must be one of"):
        registry.Family("elsewhere", "somewhere").register("dcgan_x", "x:Y", data_kind="pairs", summary="s")


def test_options_are_typed_and_bounded_from_one_dataclass():
    spec = registry.get("cdcgan")
    assert spec.defaults["embed_dim"] == 50 and spec.defaults["latent_dim"] == 100  # inherited from DCGAN
    assert registry.parse_options(spec, ["ema=0.999", "embed_dim=8"]) == {"ema": 0.999, "embed_dim": 8}
    for pair, message in (("ema=1.5", "ema must be <= "), ("embed_dim=0", "embed_dim must be >= 1"),
                          ("generator_loss=hinge", "must be one of"), ("embed_dim=x", "expected a int")):
        with pytest.raises(KerasGenError, match=message):
            registry.parse_options(spec, [pair])
    with pytest.raises(KerasGenError, match="labelled data"):
        registry.build("cdcgan", image_size=16, channels=1)


def test_ema_weights_are_kept_by_the_optimizers_and_exported_when_asked(tmp_path):
    import tensorflow as tf

    from export import export_model

    model = registry.build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4, ema=0.5)
    model.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=2, verbose=0)
    raw = model.sample(4, seed=0)
    with model.ema_weights() as swapped:
        assert swapped
        averaged = model.sample(4, seed=0)
    assert not np.allclose(raw, averaged)
    np.testing.assert_array_equal(model.sample(4, seed=0), raw)  # swapped back
    version = export_model(model, tmp_path, weights="auto")
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["metadata"]["weights"] == "ema"
    from keras_gen.edge import EdgeModel
    from keras_gen.images import to_uint8

    edge = EdgeModel.from_path(version).sample(4, 0)
    assert np.abs(edge.astype(int) - to_uint8(averaged).astype(int)).max() <= 1
    plain = registry.build("dcgan", image_size=16, channels=1, latent_dim=8, base_filters=4)
    plain.compile()
    with pytest.raises(KerasGenError, match="keeps no moving average"):
        export_model(plain, tmp_path, weights="ema")


@pytest.fixture(scope="module")
def cdcgan_export(tmp_path_factory):
    from export import export_model
    from tests.export.export_helpers import spread_generator_weights

    model = registry.build("cdcgan", image_size=16, channels=1, num_classes=10, latent_dim=8, base_filters=4,
                           embed_dim=4)
    spread_generator_weights(model)
    return model, export_model(model, tmp_path_factory.mktemp("cdcgan"))


def test_label_requests_on_keras_savedmodel_and_onnxruntime_agree(cdcgan_export):
    import tensorflow as tf

    from keras_gen.edge import EdgeModel
    from keras_gen.images import to_uint8

    model, version = cdcgan_export
    manifest = json.loads((version / "manifest.json").read_text())
    label_input = next(i for i in manifest["endpoints"]["sample"]["inputs"] if i["name"] == "label")
    assert label_input["kind"] == "label" and label_input["num_classes"] == 10
    keras_images = to_uint8(model.sample(8, seed=2, label=7))
    edge_images = EdgeModel.from_path(version).sample(8, 2, label=7)
    saved = tf.saved_model.load(str(version)).signatures["sample"](
        n=tf.constant(8), seed=tf.constant(2, tf.int64), label=tf.constant([7]),
        truncation=tf.constant(1.0))["images"].numpy()  # a signature has no optional inputs: the option's default
    for images in (edge_images, saved):
        assert np.abs(images.astype(int) - keras_images.astype(int)).max() <= 1
    # the label changes the images; the seed alone fixes the latents
    assert np.abs(to_uint8(model.sample(8, seed=2, label=3)).astype(int) - keras_images).mean() > 1


def test_cli_sample_with_labels_writes_grids_folders_and_npz(cdcgan_export, tmp_path, capsys):
    from keras_gen.cli import main

    model, version = cdcgan_export
    assert main(["sample", str(version), "--n", "6", "--labels", "1,2", "--out", str(tmp_path / "s.npz")]) == 0
    saved = np.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(saved["label"], [1, 2, 1, 2, 1, 2])
    assert saved["images"].shape == (6, 16, 16, 1) and saved["images"].dtype == np.uint8
    assert main(["sample", str(version), "--n", "3", "--label", "4", "--out", str(tmp_path / "pngs") + "/"]) == 0
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert main(["sample", str(version), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    capsys.readouterr()
    for argv, message in ((["--label", "10"], "from 0 to 9"), (["--label", "1", "--labels", "2"], "not both"),
                          (["--steps", "3"], "unknown flag '--steps'"), (["--seed", "-1"], "--seed must be"),
                          (["--n", "100000"], "--n must be"), (["--labels", "1,,2"], "no empty entry"),
                          (["--labels", "1,2,"], "no empty entry")):
        assert main(["sample", str(version), "--out", str(tmp_path / "x.png"), *argv]) == 2
        assert message in capsys.readouterr().err


def test_a_manifest_promising_more_classes_than_the_network_has_is_refused(cdcgan_export, tmp_path, capsys):
    """A manifest edited to num_classes 20 over a 10-class network: labels are checked against the
    network's own class table, not a --label 15 that fails inside onnxruntime's Gather."""
    import shutil

    from keras_gen.cli import main
    from keras_gen.edge import EdgeModel
    from keras_gen.edge.runner import label_table_sizes

    _, version = cdcgan_export
    assert label_table_sizes(version / "model.onnx", ["label"])["label"][0] == 10
    edited = tmp_path / "cdcgan" / "1"
    shutil.copytree(version, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    for spec in [*manifest["metadata"]["request_inputs"], *(i for e in manifest["endpoints"].values() for i in e["inputs"])]:
        if spec["kind"] == "label":
            spec["num_classes"] = 20
    (edited / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(KerasGenError, match=r"label: 20 classes in manifest.json, 10 in model.onnx"):
        EdgeModel.from_path(edited)
    assert main(["sample", str(edited), "--label", "15", "--n", "2", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "promises more classes than the network was built with" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_image_file_below_the_minimum_side_is_refused_naming_it(tmp_path):
    from PIL import Image

    from keras_gen.commands.sample import _flag_value

    spec = kinds.image((None, None, 3))
    Image.fromarray(np.full((6, 9, 3), 90, np.uint8)).save(tmp_path / "6.png")
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "8.png")
    with pytest.raises(KerasGenError, match=r"--image .*6.png is 9x6 px; image files need at least 8 px on each side"):
        _flag_value(spec, "--image", str(tmp_path / "6.png"))
    assert _flag_value(spec, "--image", str(tmp_path / "8.png")).shape[1:] == (8, 8, 3)


def test_image_inputs_of_any_size_run_the_same_on_every_runtime(tmp_path):
    """An `image` input with unknown height and width: exported once, run at sizes it never saw."""
    import tensorflow as tf

    from export import export_model
    from keras_gen.edge import EdgeModel
    from tests.models import toy_translator  # noqa: F401  (registers the test-only translator)

    model = registry.build("toy_translator", image_size=16, channels=1, filters=4)
    model.compile()
    version = export_model(model, tmp_path)
    spec = json.loads((version / "manifest.json").read_text())["endpoints"]["generate"]["inputs"][0]
    assert spec["kind"] == "image" and spec["shape"] == [None, None, 1]
    edge, saved = EdgeModel.from_path(version), tf.saved_model.load(str(version))
    for height, width in ((24, 24), (8, 20)):
        images = kinds.image_noise(kinds.image((height, width, 1)), 3, seed=height)
        expected = np.asarray(model.generate(images))
        np.testing.assert_allclose(edge.generate(image=images), expected, atol=1e-4)
        np.testing.assert_allclose(saved.signatures["generate"](image=tf.constant(images))["images"].numpy(),
                                   expected, atol=1e-5)
        from keras_gen.images import from_uint8, to_uint8

        public = to_uint8(images)  # images at the public edge are uint8: converted on the way in
        given_uint8 = edge.sample(3, 0, image=public)
        assert given_uint8.shape == (3, height, width, 1) and given_uint8.dtype == np.uint8
        np.testing.assert_array_equal(given_uint8, edge.sample(3, 0, image=from_uint8(public)))


@pytest.fixture(scope="module")
def coded_export(tmp_path_factory):
    from export import export_model
    from tests.models import toy_coded  # noqa: F401  (registers the test-only coded model)

    model = registry.build("toy_coded", image_size=8, channels=1)
    model.compile()
    import tensorflow as tf

    images = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensors(images), epochs=2, verbose=0)
    return model, export_model(model, tmp_path_factory.mktemp("coded"))


def test_codes_are_drawn_from_the_seed_or_given_on_every_runtime(coded_export):
    import tensorflow as tf

    from keras_gen.edge import EdgeModel
    from keras_gen.images import to_uint8

    model, version = coded_export
    edge, saved = EdgeModel.from_path(version), tf.saved_model.load(str(version)).signatures["sample"]
    assert [s.name for s in edge.condition_specs] == ["category", "continuous"]

    def from_savedmodel(category, continuous):
        return saved(n=tf.constant(6), seed=tf.constant(3, tf.int64), category=tf.constant(category, tf.int32),
                     continuous=tf.constant(continuous, tf.float32))["images"].numpy()

    drawn = to_uint8(model.sample(6, seed=3))
    empty = from_savedmodel(np.zeros((0,), np.int32), np.zeros((0, 2), np.float32))  # empty: draw from the seed
    for images in (edge.sample(6, 3), empty):
        assert np.abs(images.astype(int) - drawn.astype(int)).max() <= 1
    fixed = to_uint8(model.sample(6, seed=3, category=[2], continuous=[[1.5, -1.0]]))
    for images in (edge.sample(6, 3, category=2, continuous=[1.5, -1.0]), from_savedmodel([2], [[1.5, -1.0]])):
        assert np.abs(images.astype(int) - fixed.astype(int)).max() <= 1
    assert np.abs(fixed.astype(int) - drawn.astype(int)).mean() > 1  # the codes matter
    # Fixing one code leaves the other's draw and z as they were.
    values = kinds.resolve_inputs(model.request_specs(), 6, 3, {"category": [0]})
    base = kinds.resolve_inputs(model.request_specs(), 6, 3)
    np.testing.assert_array_equal(values["continuous"], base["continuous"])
    np.testing.assert_array_equal(values["z"], base["z"])


def test_cli_sets_codes_records_them_and_lists_the_request(coded_export, tmp_path, capsys):
    from keras_gen.cli import main

    _, version = coded_export
    assert main(["sample", str(version), "--n", "4", "--category", "1,2", "--continuous", "0.5,-0.5",
                 "--out", str(tmp_path / "s.npz")]) == 0
    saved = np.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(saved["category"], [1, 2, 1, 2])
    np.testing.assert_array_equal(saved["continuous"], [[0.5, -0.5]] * 4)
    assert main(["sample", str(version), "--n", "4", "--out", str(tmp_path / "drawn.npz")]) == 0
    drawn = np.load(tmp_path / "drawn.npz")  # codes drawn from the seed are recorded too
    from keras_gen.edge import EdgeModel

    np.testing.assert_array_equal(drawn["category"], kinds.resolve_inputs(
        EdgeModel.from_path(version).input_specs, 4, 0)["category"])
    assert main(["sample", str(version), "--n", "2", "--category=2", "--out", str(tmp_path / "eq.npz")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "eq.npz")["category"], [2, 2])  # --name=value works too
    capsys.readouterr()
    assert main(["sample", str(version), "--inputs"]) == 0
    listing = capsys.readouterr().out
    assert "category" in listing and "drawn from --seed unless given" in listing and "latent" in listing
    assert main(["sample", str(version), "--category", "7", "--out", str(tmp_path / "x.png")]) == 2
    assert "from 0 to 2" in capsys.readouterr().err
    assert main(["sample", str(version), "--label", "1", "--out", str(tmp_path / "x.png")]) == 2
    assert "--category, --continuous" in capsys.readouterr().err


def test_interpolation_moves_only_z(coded_export, monkeypatch):
    from keras_gen.callbacks import latent_interpolation

    model, _ = coded_export
    seen = {}
    real = type(model).generate

    def recording(self, **inputs):
        seen.update({k: np.asarray(v) for k, v in inputs.items()})
        return real(self, **inputs)

    monkeypatch.setattr(type(model), "generate", recording)
    grid = latent_interpolation(model, seeds=(0, 1, 2, 3), steps=4)
    assert grid.shape == (8, 8, 8, 1)
    rows = {k: v.reshape(2, 4, *v.shape[1:]) for k, v in seen.items()}
    for code in ("category", "continuous"):  # one draw per row, held along it
        assert all(np.array_equal(row[0], step) for row in rows[code] for step in row)
    assert not np.allclose(rows["z"][0, 0], rows["z"][0, -1])  # z moves from one end to the other


def test_seed_generators_of_sublayers_reload_whatever_the_process_built_before(tmp_path):
    """A Dropout's SeedGenerator is auto-named ("seed_generator_3"), numbered by what the process
    built before; its state is keyed by where it sits, so it reloads in any process."""
    import keras

    from keras_gen.models.base import GenerativeModel

    @keras.saving.register_keras_serializable(package="keras_gen_tests")
    class DropoutGenerator(GenerativeModel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            z = keras.Input((4,), name="z")
            h = keras.layers.Dropout(0.3)(keras.layers.Dense(8)(z))
            h = keras.layers.Dense(self.image_size ** 2 * self.channels, activation="tanh")(h)
            self.generator = keras.Model(z, keras.layers.Reshape(self.image_shape, name="images")(h))
            self.built = True

        def default_optimizers(self):
            return {"generator": keras.optimizers.Adam()}

    model = DropoutGenerator(image_size=4)
    model.compile()
    for generator in model._named_seed_generators().values():
        generator.next()
    model.save(tmp_path / "m.keras")
    keras.layers.Dropout(0.5)  # shifts the auto-numbering of the next generators
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    mine, theirs = model._named_seed_generators(), loaded._named_seed_generators()
    assert sorted(mine) == sorted(theirs) == ["generator.layers.2.seed_generator", "seed_generator"]
    for key in mine:
        np.testing.assert_array_equal(np.asarray(mine[key].state), np.asarray(theirs[key].state), err_msg=key)


def test_declarations_and_image_values_are_checked_not_cast():
    # An unbounded option would write inf into the strict-JSON manifest: refused where it is declared.
    for lo, hi, default in ((0.0, float("inf"), 3.0), (1, 50, 0)):
        with pytest.raises(KerasGenError, match="lo <= default <= hi"):
            kinds.option("guidance", default, lo, hi)
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 4, 4, 1)
    as_uint8 = kinds.image((4, 4, 1), dtype="uint8").check(x, 1)
    np.testing.assert_array_equal(as_uint8, np.round((x + 1) * 127.5).astype(np.uint8))  # not a wrapping cast
    pixels = (np.arange(16).reshape(1, 4, 4, 1) * 16).astype(np.int64)
    np.testing.assert_allclose(kinds.image((4, 4, 1)).check(pixels, 1), pixels / 127.5 - 1, atol=1e-6)
    with pytest.raises(KerasGenError, match=r"must be in \[-1, 1\]"):  # float pixels in [0, 255]
        kinds.image((4, 4, 1)).check(pixels.astype(np.float32), 1)
    with pytest.raises(KerasGenError, match=r"\[0, 255\]"):
        kinds.image((4, 4, 1)).check(pixels * 2, 1)


def test_loop_samplers_draw_per_step_noise_inside_tf_while_loop():
    """A sampler's step-k noise (DDPM, PixelCNN) comes from stream base + k, a tensor in the loop."""
    import tensorflow as tf

    from keras_gen.core import latents
    from keras_gen.core_tf.latents import gaussian_latents_tf

    @tf.function
    def per_step(n, seed):
        def body(k, out):
            return k + 1, out.write(k, gaussian_latents_tf(n, 4, seed, stream=k))

        return tf.while_loop(lambda k, o: k < 3, body, (tf.constant(0), tf.TensorArray(tf.float32, size=3)))[1].stack()

    drawn = per_step(tf.constant(2), tf.constant(5, tf.int64)).numpy()
    for k in range(3):
        np.testing.assert_allclose(drawn[k], latents.gaussian_latents(2, 4, 5, k), atol=1e-5)


def test_savedmodel_sample_refuses_what_keras_and_the_edge_refuse():
    """The `sample` signature checks its request like resolve_inputs does: steps=0 would
    otherwise return the loop's starting noise as images, a label past the classes zeros on GPU."""
    import tensorflow as tf

    from tests.models import toy_loop  # noqa: F401  (registers toy_refiner)

    model = registry.build("toy_refiner", image_size=8, channels=1, filters=4, steps=3)
    endpoint = model.export_endpoints()["sample"]
    sample = tf.function(endpoint.fn, input_signature=endpoint.input_signature)
    n, seed = tf.constant(2), tf.constant(0, tf.int64)
    assert sample(n, seed, tf.constant(3))["images"].shape == (2, 8, 8, 1)
    for bad_n, steps, message in ((2, 0, "steps must be >= 1"), (2, 65, "steps must be <= 64"), (0, 3, "n must be")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            sample(tf.constant(bad_n), seed, tf.constant(steps))
    from keras_gen.core_tf.inputs import resolve_inputs_tf as labels  # the same checks for class indices

    with pytest.raises(tf.errors.InvalidArgumentError, match="label must be <= 9"):
        labels([kinds.latent(2), kinds.label(10)], n, seed, {"label": tf.constant([3, 10])})


def test_ema_weights_restore_a_variable_two_optimizers_average():
    """InfoGAN's info loss trains G beside G's own optimizer: leaving the block restores raw G."""
    import keras

    from keras_gen.keras_adapter import weight_average
    from keras_gen.models.base import GenerativeModel

    shared = keras.Variable(np.ones(2, "float32"))

    class TwoOptimizers(GenerativeModel):
        def default_optimizers(self):
            return {"a": keras.optimizers.Adam(), "b": keras.optimizers.Adam()}

        def variables_for(self, optimizer_name):
            return [shared]

    model = TwoOptimizers(image_size=4, ema=0.5)
    model.compile()
    for name, average in (("a", 5.0), ("b", 7.0)):
        weight_average(model.optimizers[name]).averages[0].assign([average, average])
    with model.ema_weights() as swapped:
        assert swapped
        np.testing.assert_array_equal(np.asarray(shared), [7.0, 7.0])
    np.testing.assert_array_equal(np.asarray(shared), [1.0, 1.0])


def test_an_optimizer_stepped_around_the_model_is_caught_before_its_empty_average_is_used():
    """The EMA follows the steps taken through apply_gradients/apply_optimizer; a train_step
    calling the optimizer's own apply_gradients would leave the average at its zeros, and
    sampling or exporting it would give a network of zeros: ema_weights() refuses, naming it."""
    import keras
    import tensorflow as tf

    from keras_gen.models.base import GenerativeModel

    class Bypass(GenerativeModel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.generator = keras.layers.Dense(2)
            self.generator.build((None, 3))
            self.built = True

        def default_optimizers(self):
            return {"generator": keras.optimizers.SGD(0.1)}

        def step(self, direct: bool):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self.generator(tf.ones((1, 3))) ** 2)
            grads = tape.gradient(loss, self.variables_for("generator"))
            if direct:
                self.optimizers["generator"].apply_gradients(zip(grads, self.variables_for("generator")))
            else:
                self.apply_optimizer("generator", grads)

    for direct in (False, True):
        model = Bypass(image_size=4, ema=0.9)
        model.compile()
        model.step(direct)
        if direct:
            message = r"optimizer 'generator' has taken 1 step\(s\) but its moving average never moved"
            with pytest.raises(KerasGenError, match=message):
                with model.ema_weights():
                    pass
        else:
            with model.ema_weights() as swapped:  # after step 0 the average is the weights themselves
                assert swapped
                kernel = np.asarray(model.generator.kernel)
            np.testing.assert_array_equal(kernel, np.asarray(model.generator.kernel))


@pytest.mark.parametrize("seed", ["abc", 1.5, True])
def test_a_run_config_with_a_non_integer_seed_is_one_clear_error(tmp_path, seed):
    from keras_gen.runs import RunConfig

    values = {"model": "dcgan", "data": "digits", "image_size": 16, "channels": 1, "batch_size": 8, "seed": seed,
              "epochs": 2, "steps_per_epoch": 2}
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(KerasGenError, match="--seed must be between"):
        RunConfig.load(tmp_path)


def test_request_input_names_are_checked():
    from keras_gen.models.gan.dcgan import DCGAN

    class Clash(DCGAN):
        def input_specs(self):
            return [kinds.latent(8, name="seed")]

    with pytest.raises(KerasGenError, match="seed.*reserved"):
        Clash(image_size=16, latent_dim=8, base_filters=4).request_specs()


def test_sampler_step_noise_is_the_same_in_numpy_and_inside_a_while_loop():
    import tensorflow as tf

    from keras_gen.core_tf.samplers import Sampler

    expected = np.stack([Sampler.step_noise(3, (4, 4, 1), seed=9, step=k) for k in range(3)])
    assert not np.allclose(expected[0], expected[1])  # every step its own noise

    @tf.function
    def loop():
        def body(k, acc):
            return k + 1, acc.write(k, Sampler.step_noise_tf(3, (4, 4, 1), tf.constant(9, tf.int64), k))

        _, acc = tf.while_loop(lambda k, acc: k < 3, body, (tf.constant(0), tf.TensorArray(tf.float32, 3)))
        return acc.stack()

    np.testing.assert_allclose(loop().numpy(), expected, atol=1e-5)
    # Its streams never meet a request input's: the first latent of a request is stream 0.
    np.testing.assert_array_equal(kinds.resolve_inputs([kinds.latent(16)], 3, 9)["z"].shape, (3, 16))
    assert not np.intersect1d(expected.ravel(), kinds.resolve_inputs([kinds.latent(16)], 3, 9)["z"].ravel()).size


@pytest.mark.parametrize("name", ["fast_style", "adain"])
def test_a_config_saved_before_an_option_existed_rebuilds_the_old_network(name):
    """An option added later (fast_style's input skip, AdaIN's identity loss and lr decay) takes
    its old value in a config that lacks it, and today's default only in new models."""
    cls = registry.get(name).model_class
    assert cls.options_added_later
    model = registry.build(name, image_size=16, channels=3, **cls.harness_options)
    config = model.get_config()
    assert all(config[k] != old for k, old in cls.options_added_later.items())  # today's defaults differ
    old_config = {k: v for k, v in config.items() if k not in cls.options_added_later}
    for config_given, expected in ((old_config, cls.options_added_later),
                                   (config, {k: config[k] for k in cls.options_added_later})):
        rebuilt = cls.from_config(config_given)
        assert {k: getattr(rebuilt.options, k) for k in cls.options_added_later} == expected


def test_a_checkpoint_loads_in_a_fresh_process_importing_its_model_module_alone(tmp_path):
    """A model's module is imported when its checkpoint is read (Keras must find the class), and
    no other model module."""
    model = registry.build("cdcgan", image_size=16, channels=1, num_classes=3, latent_dim=4, base_filters=4,
                           embed_dim=2)
    model.save(tmp_path / "last.keras")
    out = _fresh_python("import sys\nfrom keras_gen.runs import load_checkpoint\n"
                        f"m = load_checkpoint({str(tmp_path / 'last.keras')!r})\n"
                        "print(type(m).__name__, sorted(x for x in sys.modules if x.startswith('keras_gen.models.')"
                        " and x.count('.') >= 3 and not x.startswith('keras_gen.models.gan.')))")
    assert out.strip().splitlines()[-1] == "ConditionalDCGAN []"


def test_sample_keeps_the_shape_of_an_image_given_to_an_any_size_model(tmp_path):
    """`sample --image` on a fully convolutional model: a 40x64 picture gives 40x64 outputs (the
    input is not cropped to a square); from the run and from its export alike."""
    from keras_gen.cli import main
    from keras_gen.images import save_image
    from tests.models import toy_translator  # noqa: F401  (registers the test-only translator)

    rng = np.random.default_rng(0)
    for side in ("A", "B"):
        for i in range(8):
            save_image(rng.integers(0, 256, (16, 16, 1), dtype=np.uint8), tmp_path / "pairs" / side / f"{i}.png")
    run = tmp_path / "run"
    assert main(["train", "toy_translator", "--data", str(tmp_path / "pairs"), "--out", str(run), "--image-size", "16",
                 "--batch-size", "4", "--steps-per-epoch", "1", "--epochs", "1"]) == 0
    wide = save_image(rng.integers(0, 256, (40, 64, 1), dtype=np.uint8), tmp_path / "wide.png")
    assert main(["export", str(run), "--out", str(tmp_path / "exports")]) == 0
    for source, out in ((run, "run.npz"), (tmp_path / "exports" / "toy_translator", "edge.npz")):
        assert main(["sample", str(source), "--n", "2", "--image", str(wide), "--out", str(tmp_path / out)]) == 0
        assert np.load(tmp_path / out)["images"].shape == (2, 40, 64, 1)
