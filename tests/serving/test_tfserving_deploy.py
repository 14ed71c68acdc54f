"""`keras-gen deploy`: TF Serving configs that its own protos parse, for SavedModels its CLI runs.

The TF Serving binary cannot be installed here; `saved_model_cli` (the same loader) stands in for
it on every signature, and the configs are parsed with the tensorflow-serving-api protos.
"""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from google.protobuf import text_format

from keras_gen.cli import main
from keras_gen.errors import KerasGenError
from serving import protos
from serving.tfserving import write_deployment

SAVED_MODEL_CLI_COMMANDS = Path(__file__).resolve().parents[1] / "scripts" / "saved_model_cli_commands.py"

# One value per input, given to saved_model_cli as .npy files (its --input_exprs only takes literals).
VALUES = {"n": np.int32(3), "seed": np.int64(5), "z": np.zeros((3, 16), np.float32), "truncation": np.float32(1.0)}


@pytest.fixture(scope="module")
def deployment(served, tmp_path_factory):
    _, model_dir, _ = served
    out = tmp_path_factory.mktemp("deploy")
    assert main(["deploy", str(model_dir.parent), "--out", str(out), "--num-versions", "2"]) == 0
    return model_dir, out


def parse_models_config(out):
    return text_format.Parse((out / "models.config").read_text(), protos.load().model_server_config_pb2.ModelServerConfig())


def server_args(out) -> dict[str, list[str]]:
    """The tensorflow_model_server flags of each way the deployment starts it."""
    compose = yaml.safe_load((out / "docker-compose.yml").read_text())["services"]["tfserving"]["command"]
    objects = {o["kind"]: o for o in yaml.safe_load_all((out / "kubernetes.yml").read_text())}
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    return {"docker-compose.yml": compose, "kubernetes.yml": container["args"]}


def assert_batching_is_deployable(out, exports):
    """TF Serving's own check, on the SavedModels it would serve: where a server flag turns batching
    on, every input of every signature of every served version has rank >= 1 (batching_util.h:
    "Batching Run() input tensors must have at least one dimension"). Returns whether it is on."""
    saved_model_pb2 = protos.load().saved_model_pb2
    served = {entry.name: list(entry.model_version_policy.specific.versions)
              for entry in parse_models_config(out).model_config_list.config}
    scalars = []
    for name, versions in served.items():
        assert versions, f"{name}: models.config names no version"
        for version in versions:
            saved_model = saved_model_pb2.SavedModel()
            saved_model.ParseFromString((exports / name / str(version) / "saved_model.pb").read_bytes())
            (graph,) = [g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags]
            scalars += [f"{name}/{version} {sig}:{key}" for sig, signature in graph.signature_def.items()
                        if not sig.startswith("__") for key, info in signature.inputs.items()
                        if info.tensor_shape.unknown_rank or not info.tensor_shape.dim]
    flags = server_args(out)
    on = {where: "--enable_batching" in args for where, args in flags.items()}
    assert len(set(on.values())) == 1, on
    batching = next(iter(on.values()))
    if batching:
        assert not scalars, f"batching is on while these inputs are rank 0: {scalars}"
        for args in flags.values():
            assert "--batching_parameters_file=/config/batching.config" in args
        assert (out / "batching.config").is_file()
    else:
        assert not (out / "batching.config").exists()
    return batching


def test_models_config_names_the_verified_versions(served, tmp_path):
    """`specific`, not `latest`: a truncated version 3 beside good 1 and 2 is never named, so TF
    Serving, which would load the highest numeric folder, serves what deploy verified."""
    _, _, version_dir = served
    exports = tmp_path / "exports"
    for version in (1, 2, 3):
        shutil.copytree(version_dir, exports / "dcgan" / str(version))
    with open(exports / "dcgan" / "3" / "model.onnx", "r+b") as f:
        f.truncate(100)  # a copy cut short
    write_deployment(exports, tmp_path / "one")
    (entry,) = parse_models_config(tmp_path / "one").model_config_list.config
    assert entry.name == "dcgan" and entry.base_path == "/models/dcgan" and entry.model_platform == "tensorflow"
    assert entry.model_version_policy.WhichOneof("policy_choice") == "specific"
    assert list(entry.model_version_policy.specific.versions) == [2]
    write_deployment(exports, tmp_path / "two", num_versions=2)
    (entry,) = parse_models_config(tmp_path / "two").model_config_list.config
    assert list(entry.model_version_policy.specific.versions) == [2, 1]
    readme = (tmp_path / "two" / "README.md").read_text()
    assert "dcgan (versions 2, 1)" in readme and f"keras-gen deploy {exports.resolve()} --out" in readme


def test_batching_stays_off_where_a_served_signature_takes_a_scalar(deployment):
    """keras-gen's signatures take n, seed and options as scalars, which TF Serving's batching
    refuses: the deployment it writes must not turn batching on, and says why."""
    model_dir, out = deployment
    assert assert_batching_is_deployable(out, model_dir.parent) is False
    readme = (out / "README.md").read_text()
    assert "Batching: off" in readme and "sample: input n is a scalar (rank 0)" in readme
    with pytest.raises(KerasGenError, match="cannot batch dcgan v1: .* is a scalar"):
        write_deployment(model_dir.parent, out / "refused", batching={"max_batch_size": 32})


def test_batching_is_on_where_every_signature_has_a_batch_dimension(tmp_path):
    """A SavedModel whose every input has a batch dimension gets batching, and TF Serving's
    BatchingSession would serve it correctly: two requests concatenated along dimension 0, run
    once and split back, give each request its own answer."""
    import tensorflow as tf

    from keras_gen.edge.manifest import FORMAT, FORMAT_VERSION, write_manifest

    class Rows(tf.Module):
        def __init__(self):
            self.scale = tf.Variable([[1.0, -2.0, 0.5, 3.0]])

        @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="x"),
                                      tf.TensorSpec((None,), tf.int32, name="label")])
        def predict(self, x, label):
            return {"y": x * self.scale + tf.cast(label, tf.float32)[:, None]}

    version_dir = tmp_path / "exports" / "rows" / "1"
    module = Rows()
    tf.saved_model.save(module, str(version_dir), signatures={"serving_default": module.predict})
    write_manifest(version_dir, {"format": FORMAT, "format_version": FORMAT_VERSION, "model": "rows"})
    out = tmp_path / "deploy"
    write_deployment(tmp_path / "exports", out, batching={"max_batch_size": 32})
    assert assert_batching_is_deployable(out, tmp_path / "exports") is True
    assert "max_batch_size { value: 32 }" in (out / "batching.config").read_text()
    objects = {o["kind"]: o for o in yaml.safe_load_all((out / "kubernetes.yml").read_text())}
    assert objects["ConfigMap"]["data"]["batching.config"] == (out / "batching.config").read_text()

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    requests = [(np.arange(8, dtype=np.float32).reshape(2, 4), np.array([1, 2], np.int32)),
                (np.ones((3, 4), np.float32), np.array([5, 6, 7], np.int32))]
    merged = signature(x=tf.constant(np.concatenate([r[0] for r in requests])),
                       label=tf.constant(np.concatenate([r[1] for r in requests])))["y"].numpy()
    for (x, label), part in zip(requests, np.split(merged, [2])):
        np.testing.assert_array_equal(part, signature(x=tf.constant(x), label=tf.constant(label))["y"].numpy())


def test_monitoring_compose_and_kubernetes_files(deployment):
    model_dir, out = deployment
    assert 'path: "/monitoring/prometheus/metrics"' in (out / "monitoring.config").read_text()
    compose = yaml.safe_load((out / "docker-compose.yml").read_text())["services"]["tfserving"]
    assert compose["image"].startswith("tensorflow/serving:")
    assert f"{model_dir.parent.resolve()}:/models:ro" in compose["volumes"]
    assert "--model_config_file=/config/models.config" in compose["command"]
    objects = {o["kind"]: o for o in yaml.safe_load_all((out / "kubernetes.yml").read_text())}
    assert set(objects) == {"ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "HorizontalPodAutoscaler"}
    assert objects["ConfigMap"]["data"]["models.config"] == (out / "models.config").read_text()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (exports_volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    claim = objects["PersistentVolumeClaim"]
    assert exports_volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"] == "keras-gen-exports"
    assert "ReadWriteMany" in claim["spec"]["accessModes"] and claim["spec"]["resources"]["requests"]["storage"]
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == objects["Deployment"]["metadata"]["name"]
    readme = (out / "README.md").read_text()
    assert "docker compose up" in readme and "kubectl cp" in readme and "keras-gen-exports" in readme


def test_readiness_checks_every_model(served, tmp_path):
    """The readiness probe (Kubernetes) and health check (Compose) ask every model's status and pass
    only when each has a version AVAILABLE: run here with bash against the edge server, which
    answers GET /v1/models/NAME as TF Serving does."""
    from serving.client import ServingClient
    from tests.serving.live_server import start_server

    exports = tmp_path / "exports"
    for name in ("dcgan", "other"):
        shutil.copytree(served[2], exports / name / "1")
    out = tmp_path / "deploy"
    write_deployment(exports, out)
    objects = {o["kind"]: o for o in yaml.safe_load_all((out / "kubernetes.yml").read_text())}
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    probe = container["readinessProbe"]["exec"]["command"]
    assert probe[-2:] == ["dcgan", "other"]
    health = yaml.safe_load((out / "docker-compose.yml").read_text())["services"]["tfserving"]["healthcheck"]["test"]
    assert health[0] == "CMD" and [a.replace("$$", "$") for a in health[1:]] == probe  # $$: Compose's literal $

    (exports / "broken" / "1").mkdir(parents=True)
    (exports / "broken" / "1" / "saved_model.pb").write_bytes(b"half-written")
    server = start_server(exports, grpc=False)
    try:
        here = [a.replace("/127.0.0.1/8501", f"/127.0.0.1/{server.port}") for a in probe]
        assert subprocess.run(here, timeout=30).returncode == 0
        assert subprocess.run(here + ["missing"], timeout=30, capture_output=True).returncode != 0  # 404
        # a model whose status answers 200 but has no version AVAILABLE (its only one failed): not ready
        assert subprocess.run(here + ["broken"], timeout=30, capture_output=True).returncode != 0

        # The README's query line gives every input, so it works on metadata without defaults (TF Serving's).
        (line,) = [x for x in (out / "README.md").read_text().splitlines() if "keras-gen query" in x and "dcgan" in x
                   and "--metadata" not in x]
        flags = shlex.split(line.split("--model dcgan", 1)[1].split("--out")[0])
        request = {name[2:]: json.loads(value) for name, value in zip(flags[::2], flags[1::2])}
        client = ServingClient(server.rest_url, retries=0)
        metadata = client.metadata("dcgan")
        del metadata["keras_gen"]
        client._metadata[("dcgan", None)] = metadata
        assert client.sample("dcgan", **request).shape == (16, 16, 16, 1)
        client.close()
    finally:
        server.stop()


def test_deploy_refuses_what_tf_serving_could_not_serve(served, tmp_path):
    """No model, one model's folder, every version broken, bad numbers: one clear error each."""
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
    """`saved_model_cli show --all` and `run` on each signature: saved_model_cli's own parser and
    command functions (its TF 1 session loader), all in one subprocess, so that TensorFlow is
    imported once, not once a command (tests/scripts/saved_model_cli_commands.py)."""
    _, _, version_dir = served
    manifest = json.loads((version_dir / "manifest.json").read_text())
    signatures = manifest["saved_model"]["signatures"]
    commands = [["show", "--dir", str(version_dir), "--all"]]
    for name in signatures:
        files = []
        for spec in manifest["endpoints"][name]["inputs"]:
            path = tmp_path / f"{name}-{spec['name']}.npy"
            np.save(path, np.asarray(VALUES[spec["name"]]))
            files.append(f"{spec['name']}={path}")
        commands.append(["run", "--dir", str(version_dir), "--tag_set", "serve", "--signature_def", name,
                         "--inputs", ";".join(files), "--outdir", str(tmp_path / name)])
    # one TensorFlow import (5-10 CPU seconds) on 2 shared cores beside the other test worker: a
    # generous deadline; subprocess.run kills it on a time-out
    process = subprocess.run([sys.executable, str(SAVED_MODEL_CLI_COMMANDS), json.dumps(commands)], capture_output=True,
                             text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-2000:]
    printed = process.stdout.split("=== COMMAND ")[1:]
    assert [part.split("\n", 1)[0] for part in printed] == [str(i) for i in range(len(commands))]
    shown = printed[0]
    for name in signatures:
        assert f"signature_def['{name}']" in shown
    for name in signatures:
        (output,) = manifest["endpoints"][name]["outputs"]
        images = np.load(tmp_path / name / f"{output['name']}.npy")
        assert images.shape == (3, 16, 16, 1) and images.dtype == np.dtype(output["dtype"])
