"""The export stage writes a complete, verifiable TF Serving version directory, or nothing."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tests.export.export_helpers import LATENT_DIM, TRAINING_INFO

from export import export_model
from keras_gen.edge import read_manifest, verify_manifest
from keras_gen.errors import KerasGenError
from keras_gen.inputs import image
from keras_gen.models.base import Endpoint, GenerativeModel


def _hidden_or_versions(model_dir):
    return sorted(p.name for p in model_dir.iterdir())


@pytest.mark.parametrize("fixture, name, shape", [("export16", "dcgan", (16, 16, 1)), ("export32rgb", "rgb", (32, 32, 3))])
def test_layout_and_manifest(request, fixture, name, shape):
    model, root, version_dir = request.getfixturevalue(fixture)
    assert version_dir == root / name / "1"
    for rel in ("saved_model.pb", "variables/variables.index", "model.onnx", "manifest.json"):
        assert (version_dir / rel).is_file(), rel
    assert any((version_dir / "variables").glob("variables.data-*"))
    # Only the version directory: no temporary folder left beside it.
    assert _hidden_or_versions(root / name) == ["1"]

    manifest = read_manifest(version_dir)
    assert verify_manifest(version_dir) == []
    assert manifest["name"] == name and manifest["model"] == "dcgan" and manifest["version"] == 1
    assert manifest["metadata"] == {**model.export_metadata(), "weights": "raw"}
    assert manifest["training"] == TRAINING_INFO
    assert set(manifest["endpoints"]) == {"generate", "serving_default", "sample"}
    sd = manifest["endpoints"]["serving_default"]
    assert sd["inputs"][0] == {"name": "z", "kind": "latent", "dtype": "float32", "shape": [LATENT_DIM],
                               "distribution": "gaussian", "description": f"Gaussian latent (N, {LATENT_DIM})"}
    assert [(i["name"], i["kind"], i["default"], i["range"]) for i in sd["inputs"][1:]] == [
        ("truncation", "option", 1.0, [0.0, 1.0])]  # every GAN's truncation option, off by default
    assert sd["outputs"] == [{"name": "images", "dtype": "uint8", "shape": [None, *shape], "range": [0, 255]}]
    sample_inputs = manifest["endpoints"]["sample"]["inputs"]
    assert [(i["name"], i["kind"], i["range"]) for i in sample_inputs] == [("n", "option", [1, 65536]),
                                                                           ("seed", "option", [0, 2**32 - 1]),
                                                                           ("truncation", "option", [0.0, 1.0])]
    assert manifest["metadata"]["sampler"] == {"name": "direct"}
    gen_out = manifest["endpoints"]["generate"]["outputs"][0]
    assert gen_out["dtype"] == "float32" and gen_out["range"] == [-1.0, 1.0]

    onnx_info = manifest["onnx"]
    assert onnx_info["opset"] == 17 and onnx_info["endpoint"] == "generate"
    assert onnx_info["inputs"] == [{"name": "z", "dtype": "float32", "shape": ["batch", LATENT_DIM]},
                                   {"name": "truncation", "dtype": "float32", "shape": []}]
    assert onnx_info["outputs"] == [{"name": "images", "dtype": "float32", "shape": ["batch", *shape]}]
    assert onnx_info["dynamic_axes"] == {"z": {"0": "batch"}, "images": {"0": "batch"}}
    # Every file but the manifest is hashed, with its size.
    listed = set(manifest["files"])
    on_disk = {p.relative_to(version_dir).as_posix() for p in version_dir.rglob("*") if p.is_file()}
    assert listed == on_disk - {"manifest.json"}
    assert manifest["files"]["model.onnx"]["size"] == (version_dir / "model.onnx").stat().st_size


@pytest.mark.parametrize("fixture", ["export16", "export32rgb"])
def test_parity_figures_recorded(request, fixture):
    _, _, version_dir = request.getfixturevalue(fixture)
    parity = read_manifest(version_dir)["parity"]
    assert parity["passed"] is True and parity["n"] == 64 and parity["atol"] == 1e-4
    figures = parity["outputs"]["images"]
    assert set(figures) == {"keras_vs_savedmodel", "keras_vs_onnxruntime", "savedmodel_vs_onnxruntime"}
    assert all(0.0 <= d <= 1e-4 for d in figures.values())
    assert parity["max_abs_diff"] == max(figures.values())
    checks = [parity["serving_default"]["images"], parity["sample"]["savedmodel_vs_edge"],
              parity["sample"]["savedmodel_vs_keras"]]
    for agreement in checks:
        assert agreement["max_abs_diff"] <= 1
        assert agreement["differing"] <= 0.01 * agreement["total"]


def test_versions_increment_and_existing_is_refused(dcgan16, tmp_path):
    first = export_model(dcgan16, tmp_path)
    second = export_model(dcgan16, tmp_path)
    assert (first.name, second.name) == ("1", "2")
    before = (second / "manifest.json").read_bytes()
    with pytest.raises(KerasGenError, match="already exists"):
        export_model(dcgan16, tmp_path, version=2)
    assert (second / "manifest.json").read_bytes() == before
    seventh = export_model(dcgan16, tmp_path, version=7, training_info={"last_logs": {"g_loss": float("nan")}})
    assert read_manifest(seventh)["training"] == {"last_logs": {"g_loss": None}}  # a diverged loss stays valid JSON
    assert export_model(dcgan16, tmp_path).name == "8"
    assert _hidden_or_versions(tmp_path / "dcgan") == ["1", "2", "7", "8"]


def test_tampering_is_detected(export16, tmp_path):
    _, _, version_dir = export16
    copy = tmp_path / "1"
    shutil.copytree(version_dir, copy)
    assert verify_manifest(copy) == []

    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    (copy / "model.onnx").write_bytes(bytes(data))
    (copy / "variables" / "variables.index").unlink()
    (copy / "extra.txt").write_text("not exported")
    problems = verify_manifest(copy)
    assert any(p.startswith("model.onnx: sha256") for p in problems)
    assert "variables/variables.index: missing" in problems
    assert any(p.startswith("extra.txt: present but not listed") for p in problems)

    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["../outside"] = {"sha256": "0", "size": 0}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert any("unsafe path" in p for p in verify_manifest(copy))


def _corrupt_onnxruntime(monkeypatch):
    import export.parity

    real = export.parity.run_onnx
    monkeypatch.setattr(export.parity, "run_onnx", lambda s, feeds: {k: v + 1e-3 for k, v in real(s, feeds).items()})


def _shift_edge_latents(monkeypatch):
    import keras_gen.edge.runner

    real = keras_gen.edge.runner.kinds.resolve_inputs
    monkeypatch.setattr(keras_gen.edge.runner.kinds, "resolve_inputs",
                        lambda specs, n, seed, *a, **k: real(specs, n, seed + 1, *a, **k))


@pytest.mark.parametrize("corrupt, message", [(_corrupt_onnxruntime, "onnxruntime"), (_shift_edge_latents, "sample")])
def test_failed_parity_writes_nothing(dcgan16, tmp_path, monkeypatch, corrupt, message):
    corrupt(monkeypatch)
    with pytest.raises(KerasGenError, match=f"parity check failed.*{message}"):
        export_model(dcgan16, tmp_path / "exports")
    assert not (tmp_path / "exports").exists()  # a failed first export leaves not even the folders it made
    (tmp_path / "dcgan" / "7").mkdir(parents=True)  # an existing repository keeps its other versions
    with pytest.raises(KerasGenError, match=f"parity check failed.*{message}"):
        export_model(dcgan16, tmp_path)
    assert _hidden_or_versions(tmp_path / "dcgan") == ["7"]


def test_onnx_dynamic_batch_matches_keras(export16):
    import onnx
    import onnxruntime as ort

    model, _, version_dir = export16
    proto = onnx.load(str(version_dir / "model.onnx"))
    assert [i.name for i in proto.graph.input] == ["z", "truncation"] and [o.name for o in proto.graph.output] == ["images"]
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in proto.graph.initializer)
    session = ort.InferenceSession(str(version_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch in (1, 3, 64):
        z = rng.standard_normal((batch, LATENT_DIM)).astype(np.float32)
        (images,) = session.run(["images"], {"z": z, "truncation": np.asarray(1.0, np.float32)})
        assert images.shape == (batch, 16, 16, 1) and images.dtype == np.float32
        np.testing.assert_allclose(images, model.generate(z).numpy(), atol=1e-4, rtol=0)


def test_savedmodel_signatures(export32rgb):
    model, _, version_dir = export32rgb
    loaded = tf.saved_model.load(str(version_dir))
    assert set(loaded.signatures) == {"serving_default", "sample", "generate"}
    z = np.random.default_rng(1).standard_normal((5, LATENT_DIM)).astype(np.float32)
    off = tf.constant(1.0)  # the truncation option at its default: a signature has no optional inputs
    out = loaded.signatures["serving_default"](z=tf.constant(z), truncation=off)
    assert set(out) == {"images"} and out["images"].dtype == tf.uint8 and out["images"].shape == (5, 32, 32, 3)
    float_out = model.generate(z).numpy()
    expected = np.clip(np.round((float_out + 1.0) * 127.5), 0, 255)  # the documented to_uint8 formula
    assert np.abs(out["images"].numpy().astype(int) - expected).max() <= 1

    def sample(n, seed):
        return loaded.signatures["sample"](n=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64),
                                           truncation=off)["images"].numpy()

    a, b = sample(6, 3), sample(6, 3)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sample(2, 3), a[:2])  # sample i depends only on (seed, i)
    assert np.abs(sample(6, 4).astype(int) - a.astype(int)).mean() > 5  # another seed, other images


class _NoDefault(GenerativeModel):
    """A model that forgot TF Serving's default signature."""

    def export_endpoints(self):
        spec = image((None, None, 2), name="x")
        return {"generate": Endpoint(lambda x: {"y": x}, [spec], "identity", onnx=True)}

    def export_metadata(self):
        return {"model": "nodefault"}


def test_endpoint_contract_is_checked(tmp_path):
    with pytest.raises(KerasGenError, match="serving_default"):
        export_model(_NoDefault(), tmp_path)
    assert not (tmp_path / "nodefault").exists()


@pytest.mark.parametrize("kwargs, message", [({"version": "v2"}, "non-negative integer"), ({"name": "../up"}, "directory"),
                                             ({"atol": -1.0}, "atol")])
def test_bad_arguments(dcgan16, tmp_path, kwargs, message):
    with pytest.raises(KerasGenError, match=message):
        export_model(dcgan16, tmp_path, **kwargs)


def test_leftovers_of_killed_exports_are_removed_and_live_ones_kept(dcgan16, tmp_path):
    import os

    model_dir = tmp_path / "dcgan"
    gone = _dead_pid()
    stale = model_dir / f".tmp-3-{gone}-abc123"
    live = model_dir / f".tmp-4-{os.getpid()}-def456"  # an export running beside this one
    old_style = model_dir / ".tmp-5-ghi789"  # no pid in the name: not ours to judge
    for folder in (stale, live, old_style):
        (folder / "variables").mkdir(parents=True)
    export_model(dcgan16, tmp_path)
    assert not stale.exists() and live.is_dir() and old_style.is_dir()
    assert (model_dir / "1" / "manifest.json").is_file()


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_parity_tolerance_is_atol_for_images_and_relative_for_large_outputs():
    from export.parity import output_tolerance

    assert output_tolerance(1e-4, np.array([0.5, -0.9])) == 1e-4  # images in [-1, 1]: atol itself
    assert output_tolerance(1e-4, np.array([[20.0, -30.0]])) == pytest.approx(3e-3)  # logits: relative
    assert output_tolerance(1e-4, np.zeros((0,))) == 1e-4
