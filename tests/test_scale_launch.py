"""`keras-gen launch`: a Kubeflow TFJob whose every field is one the TFJob custom resource has.

TFJOB_FIELDS is the part of the TFJob schema the manifest may use, field names as the training
operator's CRD declares them (kubeflow/training-operator, manifests/base/crds/
kubeflow.org_tfjobs.yaml, kubeflow.org/v1: spec.runPolicy, spec.tfReplicaSpecs.<type>.{replicas,
restartPolicy, template}) and, inside the pod template, Kubernetes' PodSpec and Container (the
CRD embeds core/v1's). A misspelt or invented key (`restart_policy`, `tfReplicaSpec`, `volumeMount`)
is refused by the API server only at `kubectl apply`; this test refuses it here.
"""

import json

import pytest
import yaml

from keras_gen.cli import main

CONTAINER = {"name": str, "image": str, "command": list, "args": list, "env": list, "resources": dict,
             "volumeMounts": list, "workingDir": str, "ports": list, "imagePullPolicy": str}
TFJOB_FIELDS = {
    "apiVersion": str, "kind": str,
    "metadata": {"name": str, "namespace": str, "labels": dict, "annotations": dict},
    "spec": {
        "runPolicy": {"cleanPodPolicy": str, "backoffLimit": int, "activeDeadlineSeconds": int,
                      "ttlSecondsAfterFinished": int, "schedulingPolicy": dict, "suspend": bool},
        "successPolicy": str, "enableDynamicWorker": bool,
        "tfReplicaSpecs": {"*": {
            "replicas": int, "restartPolicy": str,
            "template": {"metadata": {"labels": dict, "annotations": dict, "name": str, "namespace": str},
                         "spec": {"containers": [CONTAINER], "volumes": [{"name": str, "persistentVolumeClaim":
                                                                          {"claimName": str, "readOnly": bool}}],
                                  "nodeSelector": dict, "tolerations": list, "affinity": dict,
                                  "restartPolicy": str}},
        }},
    },
}
REPLICA_TYPES = {"Chief", "Worker", "PS", "Evaluator", "Master"}
RESTART_POLICIES = {"Always", "OnFailure", "Never", "ExitCode"}
CLEAN_POD_POLICIES = {"None", "Running", "All"}
LEAF_CHILDREN = {"env": {"name", "value", "valueFrom"}, "volumeMounts": {"name", "mountPath", "readOnly", "subPath"},
                 "resources": {"limits", "requests"}}


def check_fields(value, schema, where="tfjob"):
    """Every key of `value` is one `schema` allows, recursively; types as declared."""
    if isinstance(schema, dict):
        assert isinstance(value, dict), f"{where} must be a mapping"
        for key, child in value.items():
            spec = schema.get(key, schema.get("*"))
            assert spec is not None, f"{where}.{key} is not a field of TFJob"
            check_fields(child, spec, f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where} must be a list"
        for i, item in enumerate(value):
            check_fields(item, schema[0], f"{where}[{i}]")
    else:
        assert isinstance(value, schema) and not (schema is int and isinstance(value, bool)), \
            f"{where} is {type(value).__name__}, not {schema.__name__}"
        if schema in (list, dict) and where.rsplit(".", 1)[-1] in LEAF_CHILDREN:
            allowed = LEAF_CHILDREN[where.rsplit(".", 1)[-1]]
            for item in value if isinstance(value, list) else [value]:
                assert set(item) <= allowed, f"{where}: {sorted(set(item) - allowed)} not fields of Kubernetes' API"


@pytest.fixture()
def run_config(tmp_path):
    path = tmp_path / "faces.json"
    path.write_text(json.dumps({"model": "dcgan", "data": "/runs/shards/faces", "image_size": 64, "batch_size": 256,
                                "epochs": 30, "precision": "mixed_bfloat16", "options": {"base_filters": 64}}))
    return path


def test_launch_writes_a_tfjob_of_tfjob_fields_that_runs_the_same_training(run_config, tmp_path, capsys):
    out = tmp_path / "k8s"
    assert main(["launch", str(run_config), "--workers", "4", "--out", str(out), "--gpus-per-worker", "2",
                 "--image", "registry.example/keras-gen:1", "--namespace", "ml"]) == 0
    assert "kubectl apply" in capsys.readouterr().out
    job = yaml.safe_load((out / "tfjob.yaml").read_text())
    check_fields(job, TFJOB_FIELDS)
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    assert job["metadata"]["name"] == "faces" and job["metadata"]["namespace"] == "ml"
    assert job["spec"]["runPolicy"]["cleanPodPolicy"] in CLEAN_POD_POLICIES
    replicas = job["spec"]["tfReplicaSpecs"]
    assert set(replicas) <= REPLICA_TYPES and set(replicas) == {"Worker"}  # worker 0 is the chief
    worker = replicas["Worker"]
    assert worker["replicas"] == 4 and worker["restartPolicy"] in RESTART_POLICIES
    pod = worker["template"]["spec"]
    container, = pod["containers"]
    # The operator sets TF_CONFIG in the container named "tensorflow".
    assert container["name"] == "tensorflow" and container["image"] == "registry.example/keras-gen:1"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    command = container["command"]
    assert command[:3] == ["keras-gen", "train", "dcgan"]
    flags = {flag: value for flag, value in zip(command, command[1:]) if flag.startswith("--")}
    assert flags["--out"] == "/runs/faces" and flags["--strategy"] == "multiworker"
    assert "--auto-resume" in command  # a restarted pod goes on from the run's last checkpoint
    assert (flags["--data"], flags["--image-size"], flags["--batch-size"], flags["--epochs"],
            flags["--precision"]) == ("/runs/shards/faces", "64", "256", "30", "mixed_bfloat16")
    assert flags["--set"] == "base_filters=64"
    # The run folder on one volume every worker shares.
    mount, = container["volumeMounts"]
    volume, = pod["volumes"]
    assert mount["name"] == volume["name"] and mount["mountPath"] == "/runs"
    claim = yaml.safe_load((out / "volume.yaml").read_text())
    assert claim["kind"] == "PersistentVolumeClaim" and claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_the_tfjob_command_is_a_train_command_the_cli_accepts(run_config, tmp_path):
    from keras_gen.cli import build_parser

    assert main(["launch", str(run_config), "--workers", "2", "--out", str(tmp_path / "k8s")]) == 0
    job = yaml.safe_load((tmp_path / "k8s" / "tfjob.yaml").read_text())
    command = job["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["command"]
    args = build_parser().parse_args(command[1:])
    assert (args.model, args.strategy, args.auto_resume, args.batch_size) == ("dcgan", "multiworker", True, 256)
    assert args.set == ["base_filters=64"]


def test_launch_refusals_are_one_line(run_config, tmp_path, capsys):
    assert main(["launch", str(run_config), "--workers", "3", "--out", str(tmp_path / "a")]) == 2
    assert "does not split over 3 workers" in capsys.readouterr().err  # 256 over 3 GPUs
    assert main(["launch", str(run_config), "--workers", "0", "--out", str(tmp_path / "b")]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": "no_such_model"}))
    assert main(["launch", str(bad), "--workers", "2", "--out", str(tmp_path / "c")]) == 2
    assert "no_such_model" in capsys.readouterr().err
    assert main(["launch", str(tmp_path / "missing.json"), "--workers", "2", "--out", str(tmp_path / "d")]) == 2
    assert "Cannot read the run config" in capsys.readouterr().err
