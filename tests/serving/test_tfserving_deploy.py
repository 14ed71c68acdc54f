"""`keras-gen deploy`: TF Serving configs that its own protos parse, for SavedModels its CLI runs.

The TF Serving binary cannot be installed here; `saved_model_cli` (the same loader) stands in for
it on every signature, and the configs are parsed with the tensorflow-serving-api protos.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from google.protobuf import text_format

from keras_gen.cli import main
from keras_gen.errors import KerasGenError
from serving import protos
from serving.tfserving import write_deployment

SAVED_MODEL_CLI = str(Path(sys.executable).with_name("saved_model_cli"))

# One value per input, given to saved_model_cli as .npy files (its --input_exprs only takes literals).
VALUES = {"n": np.int32(3), "seed": np.int64(5), "z": np.zeros((3, 16), np.float32), "truncation": np.float32(1.0)}


@pytest.fixture(scope="module")
def deployment(served, tmp_path_factory):
    _, model_dir, _ = served
    out = tmp_path_factory.mktemp("deploy")
    assert main(["deploy", str(model_dir.parent), "--out", str(out), "--num-versions", "2"]) == 0
    return model_dir, out


def test_models_config_parses_with_tf_serving_protos(deployment):
    model_dir, out = deployment
    config = text_format.Parse((out / "models.config").read_text(), protos.load().model_server_config_pb2.ModelServerConfig())
    (entry,) = config.model_config_list.config
    assert entry.name == model_dir.name and entry.base_path == f"/models/{model_dir.name}"
    assert entry.model_platform == "tensorflow" and entry.model_version_policy.latest.num_versions == 2


def test_batching_monitoring_compose_and_kubernetes_files(deployment):
    model_dir, out = deployment
    batching = dict(re.findall(r"^(\w+) \{ value: (\d+) \}$", (out / "batching.config").read_text(), re.M))
    assert {k: int(v) for k, v in batching.items()} == {"max_batch_size": 64, "batch_timeout_micros": 2000,
                                                        "max_enqueued_batches": 100, "num_batch_threads": 4}
    assert 'path: "/monitoring/prometheus/metrics"' in (out / "monitoring.config").read_text()
    compose = yaml.safe_load((out / "docker-compose.yml").read_text())["services"]["tfserving"]
    assert compose["image"].startswith("tensorflow/serving:")
    assert f"{model_dir.parent.resolve()}:/models:ro" in compose["volumes"]
    assert "--model_config_file=/config/models.config" in compose["command"]
    objects = {o["kind"]: o for o in yaml.safe_load_all((out / "kubernetes.yml").read_text())}
    assert set(objects) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"}
    assert objects["ConfigMap"]["data"]["models.config"] == (out / "models.config").read_text()
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": f"/v1/models/{model_dir.name}", "port": 8501}
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == objects["Deployment"]["metadata"]["name"]
    assert "docker compose up" in (out / "README.md").read_text()


def test_deploy_refuses_what_tf_serving_could_not_serve(served, tmp_path):
    _, model_dir, _ = served
    with pytest.raises(KerasGenError, match="one model's folder"):
        write_deployment(model_dir, tmp_path / "d")
    with pytest.raises(KerasGenError, match="no exported models"):
        write_deployment(tmp_path, tmp_path / "d")
    half = tmp_path / "repo" / "broken" / "1"
    half.mkdir(parents=True)
    (half / "saved_model.pb").write_bytes(b"half")
    with pytest.raises(KerasGenError, match="no complete version of broken"):
        write_deployment(tmp_path / "repo", tmp_path / "d")
    with pytest.raises(KerasGenError, match="--replicas"):
        write_deployment(model_dir.parent, tmp_path / "d", replicas=0)


def test_saved_model_cli_shows_and_runs_every_signature(served, tmp_path):
    """`saved_model_cli show --all` and `run` on each signature, in parallel subprocesses."""
    _, _, version_dir = served
    manifest = json.loads((version_dir / "manifest.json").read_text())
    signatures = manifest["saved_model"]["signatures"]
    show = subprocess.Popen([SAVED_MODEL_CLI, "show", "--dir", str(version_dir), "--all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = {}
    for name in signatures:
        files = []
        for spec in manifest["endpoints"][name]["inputs"]:
            path = tmp_path / f"{name}-{spec['name']}.npy"
            np.save(path, np.asarray(VALUES[spec["name"]]))
            files.append(f"{spec['name']}={path}")
        runs[name] = subprocess.Popen(
            [SAVED_MODEL_CLI, "run", "--dir", str(version_dir), "--tag_set", "serve", "--signature_def", name,
             "--inputs", ";".join(files), "--outdir", str(tmp_path / name)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # each subprocess imports TensorFlow (5-10 CPU seconds); on 2 shared cores beside the other
    # test worker they queue, so the group gets one generous deadline rather than 120 s each
    deadline = time.monotonic() + 600
    try:
        shown, err = show.communicate(timeout=600)
        assert show.returncode == 0, err[-2000:]
        for name in signatures:
            assert f"signature_def['{name}']" in shown
        for name, process in runs.items():
            _, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert process.returncode == 0, err[-2000:]
            (output,) = manifest["endpoints"][name]["outputs"]
            images = np.load(tmp_path / name / f"{output['name']}.npy")
            assert images.shape == (3, 16, 16, 1) and images.dtype == np.dtype(output["dtype"])
    finally:  # a failure or a time-out leaves no TensorFlow process running on the shared cores
        for process in [show, *runs.values()]:
            if process.poll() is None:
                process.kill()
                process.wait()
