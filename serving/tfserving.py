"""A TF Serving deployment for an export repository: `keras-gen deploy EXPORTS --out DIR`.

Writes, into DIR:

    models.config        ModelServerConfig (text proto): one entry per model in EXPORTS, each with
                         its version policy (TF Serving serves the newest `num_versions`)
    batching.config      BatchingParameters for --enable_batching (server-side request batching)
    monitoring.config    Prometheus metrics at /monitoring/prometheus/metrics
    docker-compose.yml   the official tensorflow/serving image, EXPORTS mounted read-only at /models
    kubernetes.yml       ConfigMap, Deployment (readiness on /v1/models/NAME), Service, and a
                         HorizontalPodAutoscaler on CPU
    README.md            the commands that start it

Only versions that `keras_gen.core.edge` verifies against their manifest count: TF Serving itself
would load a half-written numeric directory and fail at predict time. Plain Python: nothing here
imports TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

from keras_gen.core.edge.manifest import is_version_name
from keras_gen.core.edge.repository import list_versions
from keras_gen.core.errors import KerasGenError
from keras_gen.core.fileio import atomic_path

# The image's tag follows TensorFlow's release, the same one that wrote the SavedModels.
TF_SERVING_IMAGE = "tensorflow/serving:2.21.0"
REST_PORT, GRPC_PORT = 8501, 8500
MODELS_MOUNT, CONFIG_MOUNT = "/models", "/config"
DEFAULT_BATCHING = {
    "max_batch_size": 64,          # the largest batch the generators are benchmarked at
    "batch_timeout_micros": 2000,  # a 2 ms wait is small against a 16..64 px generator's run time
    "max_enqueued_batches": 100,   # past this TF Serving answers UNAVAILABLE at once (bounded queue)
    "num_batch_threads": 4,
}


def repository_models(exports: str | Path) -> dict[str, list[int]]:
    """{model name: its verified versions, newest first} for every model folder in EXPORTS."""
    exports = Path(exports)
    if not exports.is_dir():
        raise KerasGenError(f"{exports} is not a directory: pass the export repository written by `keras-gen export`.")
    models = {}
    for child in sorted(exports.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        statuses = list_versions(child)
        if statuses:
            models[child.name] = [s.version for s in statuses if s.ok]
    if not models:
        if any(is_version_name(c.name) for c in exports.iterdir()):
            raise KerasGenError(f"{exports} is one model's folder; pass the repository above it ({exports.parent}).")
        raise KerasGenError(f"{exports} holds no exported models (EXPORTS/NAME/VERSION). Run `keras-gen export` first.")
    broken = sorted(name for name, versions in models.items() if not versions)
    if broken:
        raise KerasGenError(f"no complete version of {', '.join(broken)} in {exports}: every version is incomplete or "
                            "does not match its manifest. Re-run `keras-gen export`.")
    return models


def models_config(models: dict[str, list[int]], num_versions: int = 1) -> str:
    """ModelServerConfig text proto: every model under /models/NAME, serving the newest versions."""
    entries = []
    for name in models:
        entries.append(
            "  config {\n"
            f"    name: {json.dumps(name)}\n"
            f"    base_path: {json.dumps(f'{MODELS_MOUNT}/{name}')}\n"
            '    model_platform: "tensorflow"\n'
            f"    model_version_policy {{ latest {{ num_versions: {int(num_versions)} }} }}\n"
            "  }\n")
    return "model_config_list {\n" + "".join(entries) + "}\n"


def batching_config(params: dict | None = None) -> str:
    """BatchingParameters text proto (each field is a wrapped int64)."""
    params = {**DEFAULT_BATCHING, **(params or {})}
    lines = [f"{key} {{ value: {int(value)} }}" for key, value in params.items()]
    return "\n".join(lines + ["pad_variable_length_inputs: false"]) + "\n"


MONITORING_CONFIG = 'prometheus_config {\n  enable: true\n  path: "/monitoring/prometheus/metrics"\n}\n'


def server_args(poll_seconds: int) -> list[str]:
    return [f"--port={GRPC_PORT}", f"--rest_api_port={REST_PORT}",
            f"--model_config_file={CONFIG_MOUNT}/models.config",
            f"--model_config_file_poll_wait_seconds={int(poll_seconds)}",
            f"--file_system_poll_wait_seconds={int(poll_seconds)}",  # new versions are picked up by polling
            "--enable_batching", f"--batching_parameters_file={CONFIG_MOUNT}/batching.config",
            f"--monitoring_config_file={CONFIG_MOUNT}/monitoring.config"]


def compose_file(exports: Path, poll_seconds: int) -> dict:
    return {"services": {"tfserving": {
        "image": TF_SERVING_IMAGE,
        "command": server_args(poll_seconds),
        "ports": [f"{GRPC_PORT}:{GRPC_PORT}", f"{REST_PORT}:{REST_PORT}"],
        "volumes": [f"{exports.resolve()}:{MODELS_MOUNT}:ro", f"./:{CONFIG_MOUNT}:ro"],
        "restart": "unless-stopped",
    }}}


def kubernetes_objects(models: dict, configs: dict[str, str], poll_seconds: int, replicas: int,
                       max_replicas: int) -> list[dict]:
    """ConfigMap, Deployment, Service and HorizontalPodAutoscaler; exports on a PersistentVolumeClaim."""
    app = {"app": "keras-gen-tfserving"}
    ready_model = next(iter(models))
    container = {
        "name": "tfserving", "image": TF_SERVING_IMAGE, "args": server_args(poll_seconds),
        "ports": [{"name": "grpc", "containerPort": GRPC_PORT}, {"name": "http", "containerPort": REST_PORT}],
        # TF Serving answers /v1/models/NAME once the model's version is AVAILABLE.
        "readinessProbe": {"httpGet": {"path": f"/v1/models/{ready_model}", "port": REST_PORT},
                           "initialDelaySeconds": 5, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": GRPC_PORT}, "initialDelaySeconds": 15, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        "volumeMounts": [{"name": "exports", "mountPath": MODELS_MOUNT, "readOnly": True},
                         {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}],
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keras-gen-tfserving-config"},
         "data": configs},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "keras-gen-tfserving", "labels": app},
         "spec": {"replicas": replicas, "selector": {"matchLabels": app},
                  "template": {"metadata": {"labels": app}, "spec": {
                      "containers": [container],
                      "volumes": [{"name": "exports", "persistentVolumeClaim": {"claimName": "keras-gen-exports"}},
                                  {"name": "config", "configMap": {"name": "keras-gen-tfserving-config"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "keras-gen-tfserving", "labels": app},
         "spec": {"selector": app, "ports": [{"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT},
                                             {"name": "http", "port": REST_PORT, "targetPort": REST_PORT}]}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "keras-gen-tfserving"},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "keras-gen-tfserving"},
                  "minReplicas": replicas, "maxReplicas": max_replicas,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}},
    ]


def _readme(exports: Path, models: dict) -> str:
    first = next(iter(models))
    return f"""# TF Serving deployment (written by `keras-gen deploy`)

Models: {', '.join(f'{name} (versions {", ".join(map(str, v))})' for name, v in models.items())}.

Docker Compose (EXPORTS = {exports.resolve()}, mounted read-only at {MODELS_MOUNT}):

    docker compose up -d
    curl http://localhost:{REST_PORT}/v1/models/{first}            # status: AVAILABLE when ready
    keras-gen query http://localhost:{REST_PORT} --model {first} --n 16 --seed 0 --out grid.png
    keras-gen query grpc://localhost:{GRPC_PORT} --model {first} --n 16 --seed 0 --out grid.png

Kubernetes (copy the export repository onto the PersistentVolumeClaim `keras-gen-exports` first):

    kubectl apply -f kubernetes.yml
    kubectl rollout status deployment/keras-gen-tfserving
    kubectl port-forward service/keras-gen-tfserving {REST_PORT}:{REST_PORT}

New versions exported into the repository are picked up by polling; Prometheus metrics are at
http://localhost:{REST_PORT}/monitoring/prometheus/metrics.
"""


def write_deployment(exports: str | Path, out: str | Path, num_versions: int = 1, poll_seconds: int = 30,
                     replicas: int = 2, max_replicas: int = 8, batching: dict | None = None) -> dict[str, Path]:
    """Write the deployment for the export repository EXPORTS into OUT; returns {file name: path}."""
    import yaml

    for what, value, lo in (("--num-versions", num_versions, 1), ("--poll-seconds", poll_seconds, 1),
                            ("--replicas", replicas, 1), ("--max-replicas", max_replicas, replicas)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise KerasGenError(f"{what} must be an integer >= {lo}, got {value!r}.")
    exports, out = Path(exports), Path(out)
    models = repository_models(exports)
    configs = {"models.config": models_config(models, num_versions), "batching.config": batching_config(batching),
               "monitoring.config": MONITORING_CONFIG}
    texts = dict(configs)
    class PlainDumper(yaml.SafeDumper):  # no &id001 anchors: the files are read and edited by people
        def ignore_aliases(self, data):
            return True

    texts["docker-compose.yml"] = yaml.dump(compose_file(exports, poll_seconds), Dumper=PlainDumper, sort_keys=False)
    texts["kubernetes.yml"] = yaml.dump_all(kubernetes_objects(models, configs, poll_seconds, replicas, max_replicas),
                                            Dumper=PlainDumper, sort_keys=False)
    texts["README.md"] = _readme(exports, models)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in texts.items():
        with atomic_path(out / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written[name] = out / name
    return written
