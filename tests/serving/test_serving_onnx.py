"""The onnxruntime edge path: same images as Keras and TF Serving, no TensorFlow, safe loading."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from keras_gen.edge import EdgeModel, check_onnx_file, make_session, write_manifest
from keras_gen.errors import KerasGenError
from keras_gen.images import save_samples
from keras_gen.latents import gaussian_latents

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generator(served):
    _, model_dir, _ = served
    return EdgeModel.from_path(model_dir)


def test_generate_matches_keras_in_chunks(served, generator):
    model, _, version_dir = served
    assert generator.version_dir == version_dir
    assert [(s.name, s.kind, s.shape) for s in generator.input_specs] == [("z", "latent", (16,)),
                                                                          ("truncation", "option", ())]
    assert [s.name for s in generator.condition_specs] == ["truncation"] and generator.image_shape == (16, 16, 1)
    assert generator.provider == "CPUExecutionProvider"  # no usable GPU on the test machines
    z = gaussian_latents(12, 16, seed=5)
    images = generator.generate(z=z)
    assert images.shape == (12, 16, 16, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images, model.generate(z).numpy(), atol=1e-4, rtol=0)
    chunked = EdgeModel(generator.version_dir, generator.manifest, generator.session, chunk_size=5)
    np.testing.assert_array_equal(chunked.generate(z=z), images)


def test_sample_is_seeded_and_matches_savedmodel(served, generator):
    import tensorflow as tf

    _, _, version_dir = served
    a = generator.sample(64, seed=0)
    assert a.shape == (64, 16, 16, 1) and a.dtype == np.uint8
    np.testing.assert_array_equal(generator.sample(64, seed=0), a)
    np.testing.assert_array_equal(generator.sample(3, seed=0), a[:3])
    assert np.abs(generator.sample(64, seed=1).astype(int) - a.astype(int)).mean() > 5

    loaded = tf.saved_model.load(str(version_dir))
    served_images = loaded.signatures["sample"](n=tf.constant(64), seed=tf.constant(0, tf.int64),
                                                truncation=tf.constant(1.0))["images"].numpy()  # the option's default
    diff = np.abs(served_images.astype(int) - a.astype(int))
    # Same latents by construction; a pixel may round the other way where the runtimes' floats
    # straddle a uint8 boundary.
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.01 * diff.size


@pytest.mark.parametrize("n, seed, message", [(0, 0, "--n"), (2.5, 0, "--n"), (True, 0, "--n"), (4, "x", "--seed"),
                                             (65537, 0, "--n"), (4, -1, "--seed"), (4, 2**32, "--seed")])
def test_sample_rejects_bad_requests(generator, n, seed, message):
    with pytest.raises(KerasGenError, match=message):
        generator.sample(n, seed)


def test_generate_and_sample_reject_wrong_inputs(generator):
    with pytest.raises(KerasGenError, match=r"\(N, 16\)"):
        generator.generate(z=np.zeros((2, 15), np.float32))
    with pytest.raises(KerasGenError, match="unknown input.*label.*takes z"):
        generator.sample(4, 0, label=3)


def test_an_edited_manifest_is_a_clear_error_before_anything_runs(served, tmp_path):
    """A manifest whose declared latent size no longer matches model.onnx is refused at load."""
    import shutil

    _, _, version_dir = served
    copy = tmp_path / "edited" / "1"
    shutil.copytree(version_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for spec in manifest["endpoints"]["generate"]["inputs"] + manifest["metadata"]["request_inputs"]:
        spec["shape"] = [32]
    write_manifest(copy, {k: v for k, v in manifest.items() if k != "files"})
    with pytest.raises(KerasGenError, match=r"manifest.json does not match model.onnx.*z: shape \[16\]"):
        EdgeModel.from_path(copy.parent)


def test_sample_to_grid_writes_png(served, tmp_path):
    _, model_dir, _ = served
    out = save_samples(EdgeModel.from_path(model_dir).sample(6, 3), tmp_path / "grids" / "grid.png")
    picture = np.asarray(Image.open(out))
    # 6 images -> 3 columns x 2 rows of 16px tiles, 2px padding, enlarged 4x for viewing.
    assert picture.shape == (4 * (2 * 18 + 2), 4 * (3 * 18 + 2))


def test_edge_path_does_not_import_tensorflow(served, tmp_path):
    _, model_dir, _ = served
    code = (
        "import json, sys\n"
        "from keras_gen.cli import main\n"
        "from serving import EdgeModel\n"
        "g = EdgeModel.from_path(sys.argv[1])\n"
        "images = g.sample(8, 7)\n"
        "assert main(['sample', sys.argv[1], '--n', '8', '--seed', '7', '--out', sys.argv[2]]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'))\n"
        "print(json.dumps({'heavy': heavy, 'provider': g.provider, 'sum': int(images.sum())}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code, str(model_dir), str(tmp_path / "g.png")],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["sum"] == int(EdgeModel.from_path(model_dir).sample(8, 7).sum())
    assert (tmp_path / "g.png").is_file()
    # The CPU fallback is quiet: no CUDA provider load error on a machine without CUDA.
    if result["provider"] == "CPUExecutionProvider":
        assert "Failed to load library" not in proc.stderr and "CUDAExecutionProvider" not in proc.stderr


def _model_with_external_data(folder: Path, location: str) -> Path:
    """A one-op ONNX model (y = x + w) whose weight w is stored in the external file `location`."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    w = numpy_helper.from_array(np.array([1.0, 2.0, 3.0, 4.0], np.float32), "w")  # raw bytes: can go external
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    if location != "weights.bin":
        proto = onnx.load(str(folder / "model.onnx"), load_external_data=False)
        for entry in proto.graph.initializer[0].external_data:
            if entry.key == "location":
                entry.value = location
        (folder / "model.onnx").write_bytes(proto.SerializeToString())  # keep the reference as written
    return folder / "model.onnx"


def test_external_data_inside_the_version_is_allowed(tmp_path):
    path = _model_with_external_data(tmp_path / "v1", "weights.bin")
    assert check_onnx_file(path, tmp_path / "v1") == path.resolve()
    session = make_session(path, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.zeros((2, 4), np.float32)})
    np.testing.assert_array_equal(out, [[1, 2, 3, 4]] * 2)


@pytest.mark.parametrize("location", ["../secret.bin", "ABSOLUTE", "link.bin", "sub/../../secret.bin", "missing.bin"])
def test_external_data_outside_the_version_is_refused(tmp_path, location):
    version = tmp_path / "v1"
    version.mkdir()
    (tmp_path / "secret.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    (version / "link.bin").symlink_to(tmp_path / "secret.bin")
    if location == "ABSOLUTE":
        location = str(tmp_path / "secret.bin")
    path = _model_with_external_data(version, location)
    with pytest.raises(KerasGenError, match="outside|only relative|missing"):
        check_onnx_file(path, version)


def test_loader_checks_external_data_even_with_a_matching_manifest(served, tmp_path):
    """A manifest that hashes a crafted model.onnx is not enough to read files outside the version."""
    _, _, version_dir = served
    manifest = json.loads((version_dir / "manifest.json").read_text())
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    version = tmp_path / "crafted" / "1"
    _model_with_external_data(version, "../../secret.bin")
    (version / "weights.bin").unlink()
    manifest["onnx"]["inputs"] = [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}]
    write_manifest(version, {k: v for k, v in manifest.items() if k != "files"})
    with pytest.raises(KerasGenError, match="outside its version directory"):
        EdgeModel.from_path(version.parent)
