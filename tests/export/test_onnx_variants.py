"""Smaller ONNX variants (`keras-gen export --onnx-variants fp16,int8`): written beside model.onnx,
measured in the manifest (size, parity, domain FID), refused past the FID tolerance, and run by
the edge runner, the CLI and the edge server when picked."""

import json
import shutil

import numpy as np
import onnx
import pytest

from export.onnx_variants import KindCalibrationReader, build_variants, parse_variants, variant_file
from keras_gen import inputs as kinds
from keras_gen.edge import EdgeModel, verify_manifest
from keras_gen.errors import KerasGenError
from tests.export.export_helpers import TRAINING_INFO

FID_N = 160  # more than the 128-d domain features


@pytest.fixture(scope="module")
def variants_export(dcgan16, digits_classifier_cache, tmp_path_factory):
    """(model, root, version dir, manifest) of the 16px DCGAN exported with both variants."""
    from export import export_model

    root = tmp_path_factory.mktemp("variants")
    version_dir = export_model(dcgan16, root, training_info=TRAINING_INFO, parity_n=16, onnx_variants="fp16,int8",
                               fid_n=FID_N, cache_dir=digits_classifier_cache)
    return dcgan16, root, version_dir, json.loads((version_dir / "manifest.json").read_text())


def _io_types(path):
    graph = onnx.load(str(path)).graph
    return [(v.name, v.type.tensor_type.elem_type) for v in (*graph.input, *graph.output)]


def test_variants_are_written_measured_and_listed(variants_export):
    _, _, version_dir, manifest = variants_export
    record = manifest["onnx_variants"]
    assert record["fid_tolerance"] == pytest.approx(0.10)
    assert verify_manifest(version_dir) == []  # the variant files are hashed like every other file
    float_size = (version_dir / "model.onnx").stat().st_size
    for variant in ("fp16", "int8"):
        entry = record[variant]
        assert entry["status"] == "written", entry
        path = version_dir / f"model.{variant}.onnx"
        assert entry["files"]["model.onnx"]["file"] == path.name
        assert entry["size"] == path.stat().st_size == manifest["files"][path.name]["size"]
        assert entry["size_ratio"] == pytest.approx(entry["size"] / float_size) and entry["size_ratio"] < 1
        # callers do not change: the same float32 inputs and outputs as model.onnx
        assert _io_types(path) == _io_types(version_dir / "model.onnx")
        parity = entry["files"]["model.onnx"]["parity"]
        assert parity["n"] == 16 and 0 < parity["max_abs_diff"] == entry["max_abs_diff"] < 0.25
        fid = entry["fid"]
        assert fid["features"] == "domain" and fid["data"] == "digits" and fid["n"] == FID_N
        assert fid["relative_change"] == pytest.approx(abs(fid["variant"] - fid["float32"]) / fid["float32"])
        assert fid["relative_change"] <= record["fid_tolerance"] and fid["vs_float32_samples"] >= 0
    # float16 keeps ~3 significant digits; int8 is coarser, but both are close to float32
    assert record["fp16"]["max_abs_diff"] < record["int8"]["max_abs_diff"]
    assert record["fp16"]["fid"]["float32"] == record["int8"]["fid"]["float32"]  # one float32 reference


def test_calibration_reader_yields_the_declared_inputs():
    specs = [kinds.InputSpec("z", "latent", (4,), distribution="gaussian"),
             kinds.InputSpec("label", "label", (), "int32", num_classes=3),
             kinds.InputSpec("truncation", "option", (), default=1.0, range=(0.0, 2.0))]
    reader = KindCalibrationReader(specs, batches=3, batch_size=5, seed=7)
    batches = list(iter(reader.get_next, None))
    assert len(batches) == 3 and reader.get_next() is None
    for index, feeds in enumerate(batches):
        assert sorted(feeds) == ["label", "truncation", "z"]
        assert feeds["z"].shape == (5, 4) and feeds["z"].dtype == np.float32
        assert feeds["label"].tolist() == [0, 1, 2, 0, 1] and feeds["label"].dtype == np.int32  # every class in turn
        assert feeds["truncation"].shape == () and float(feeds["truncation"]) == 1.0
        expected = kinds.resolve_inputs(specs, 5, 7 + index)  # the seeded latent machinery, seed + batch
        np.testing.assert_array_equal(feeds["z"], expected["z"])
    assert not np.array_equal(batches[0]["z"], batches[1]["z"])
    reader.rewind()
    np.testing.assert_array_equal(reader.get_next()["z"], batches[0]["z"])


def test_variant_names_are_checked():
    assert parse_variants("int8, fp16,int8") == ("int8", "fp16")
    assert parse_variants("") == parse_variants(()) == ()
    assert variant_file("swap_a_to_b.onnx", "fp16") == "swap_a_to_b.fp16.onnx"
    with pytest.raises(KerasGenError, match="fp16, int8"):
        parse_variants("fp8")


def test_a_variant_past_the_fid_tolerance_is_refused(variants_export, digits_classifier_cache, tmp_path):
    """build_variants on a copy of the export's temporary folder, as export_model calls it before
    it writes the manifest and renames the folder into place."""
    from keras_gen.edge import write_manifest

    _, _, version_dir, manifest = variants_export
    shutil.copy(version_dir / "model.onnx", tmp_path / "model.onnx")
    tolerance = 1e-9  # artificially tight: any change of the FID is too much
    record = build_variants(tmp_path, manifest, "int8", parity_n=16, fid_n=FID_N, fid_tolerance=tolerance,
                            cache_dir=digits_classifier_cache)
    entry = record["int8"]
    assert entry["fid"]["relative_change"] > tolerance
    assert entry["status"] == "refused" and "refused, not written" in entry["reason"] and "files" not in entry
    assert f"{entry['fid']['float32']:.4g}" in entry["reason"] and f"{entry['fid']['variant']:.4g}" in entry["reason"]
    assert entry["measured_files"]["model.onnx"]["size"] > 0  # the figures stay, the file goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    write_manifest(tmp_path, {**manifest, "onnx_variants": record})
    with pytest.raises(KerasGenError, match="refused"):
        EdgeModel.from_path(tmp_path, variant="int8")


def test_without_training_data_the_fid_records_why(variants_export, tmp_path):
    _, _, version_dir, manifest = variants_export
    shutil.copy(version_dir / "model.onnx", tmp_path / "model.onnx")
    bare = {**manifest, "training": {}}
    record = build_variants(tmp_path, bare, ["fp16"], parity_n=8, fid_n=FID_N)
    assert record["fp16"]["status"] == "written" and "no training data" in record["fp16"]["fid"]["unavailable"]
    assert (tmp_path / "model.fp16.onnx").is_file()


def test_sampling_a_variant_from_the_cli_and_the_runner(variants_export, tmp_path):
    from keras_gen.cli import main

    _, _, version_dir, _ = variants_export
    reference = EdgeModel.from_path(version_dir).sample(8, seed=3)
    for variant in ("fp16", "int8"):
        edge = EdgeModel.from_path(version_dir, variant=variant)
        assert edge.variant == variant and edge.onnx_path.name == f"model.{variant}.onnx"
        images = edge.sample(8, seed=3)
        assert images.shape == reference.shape and images.dtype == np.uint8
        # the variant's samples are the float32 ones up to its precision (int8: a few levels)
        assert np.abs(images.astype(int) - reference).max() <= (2 if variant == "fp16" else 40)
        out = tmp_path / f"{variant}.npz"
        assert main(["sample", str(version_dir), "--variant", variant, "--n", "8", "--seed", "3", "--out", str(out)]) == 0
        np.testing.assert_array_equal(np.load(out)["images"], images)
    assert main(["sample", str(version_dir.parent), "--variant", "fp16", "--out", str(tmp_path / "x.png")]) == 0


def test_the_edge_server_serves_the_picked_variant(variants_export, export16, monkeypatch):
    from serving.models import VARIANT_ENV, ModelRepository

    _, root, _, _ = variants_export
    repository = ModelRepository(root, variant="int8")
    repository.poll_once()
    loaded = repository.version("dcgan")
    assert loaded.model.variant == "int8" and loaded.model.onnx_path.name == "model.int8.onnx"
    expected = EdgeModel.from_path(root / "dcgan", variant="int8").sample(4, seed=1)
    request = {kinds.SAMPLE_COUNT: np.int32(4), kinds.SAMPLE_SEED: np.int64(1)}
    np.testing.assert_array_equal(loaded.endpoints["sample"].run(request)["images"], expected)
    # the variant from the environment when none is passed; an export without it is reported, not served
    monkeypatch.setenv(VARIANT_ENV, "fp16")
    plain = ModelRepository(export16[1])
    plain.poll_once()
    status = plain.status("dcgan")["model_version_status"]
    assert plain.variant == "fp16" and plain.models["dcgan"].current is None
    assert "no 'fp16' variant" in status[0]["status"]["error_message"]
    with pytest.raises(KerasGenError, match="--onnx-variant"):
        ModelRepository(root, variant="fp8")


def test_a_graph_the_tool_cannot_convert_refuses_that_variant_only(variants_export, tmp_path, monkeypatch):
    import export.onnx_variants as variants

    _, _, version_dir, manifest = variants_export
    shutil.copy(version_dir / "model.onnx", tmp_path / "model.onnx")

    def fail(src, dst, specs, seed=0):
        dst.write_bytes(b"half-written")
        raise RuntimeError("Unsupported op in this graph\nmore detail")

    monkeypatch.setattr(variants, "quantize_int8", fail)
    record = build_variants(tmp_path, {**manifest, "training": {}}, "fp16,int8", parity_n=8)
    assert record["fp16"]["status"] == "written"
    assert record["int8"]["status"] == "refused"
    assert record["int8"]["reason"].endswith("quantisation failed on model.onnx: Unsupported op in this graph.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fp16.onnx", "model.onnx"]


def test_the_runner_takes_variant_files_only_as_the_manifest_names_them():
    from keras_gen.edge.runner import onnx_file_for

    def manifest(name, status="written"):
        return {"onnx_variants": {"int8": {"status": status, "reason": "int8 variant refused, not written: x.",
                                           "files": {"model.onnx": {"file": name}}}}}

    assert onnx_file_for(manifest("model.int8.onnx"), "model.onnx", None, "v") == "model.onnx"
    assert onnx_file_for(manifest("model.int8.onnx"), "model.onnx", "int8", "v") == "model.int8.onnx"
    for bad in ("../other/model.int8.onnx", "model.onnx", "sub/model.int8.onnx", None):
        with pytest.raises(KerasGenError, match="no usable int8 file"):
            onnx_file_for(manifest(bad), "model.onnx", "int8", "v")
    with pytest.raises(KerasGenError, match=r"refused, not written: x\. Variants here: float32\."):
        onnx_file_for(manifest("model.int8.onnx", "refused"), "model.onnx", "int8", "v")
    with pytest.raises(KerasGenError, match="no 'fp16' variant. Variants here: float32, int8"):
        onnx_file_for(manifest("model.int8.onnx"), "model.onnx", "fp16", "v")
