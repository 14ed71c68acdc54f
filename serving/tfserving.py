"""A TF Serving deployment for an export repository: `keras-gen deploy EXPORTS --out DIR`.

Writes, into DIR:

    models.config        ModelServerConfig (text proto): one entry per model in EXPORTS, each naming
                         the verified versions it serves (`specific`), never "the latest on disk"
    batching.config      BatchingParameters, only where every served signature can be batched
    monitoring.config    Prometheus metrics at /monitoring/prometheus/metrics
    docker-compose.yml   the official tensorflow/serving image, EXPORTS mounted read-only at /models,
                         a health check that every model is AVAILABLE
    kubernetes.yml       ConfigMap, PersistentVolumeClaim for the exports, Deployment (readiness: every
                         model AVAILABLE), Service, and a HorizontalPodAutoscaler on CPU
    README.md            the commands that start it, and how to refresh it after a new export

Only versions that `keras_gen.core.edge` verifies against their manifest count: TF Serving itself
would load a half-written numeric directory and fail at predict time, so models.config lists the
verified ones by number, and a new export reaches TF Serving when deploy is run again.

Batching. TF Serving's `--enable_batching` wraps the session of every model (or, with
`--enable_per_model_batching_parameters`, of every model whose version directory holds a
`batching_params.pbtxt`) in a BatchingSession that batches *every* signature of it
(saved_model_bundle_factory.cc: "batching of requests to any one signature_def"). It merges
concurrent requests by concatenating each input along dimension 0 and splits each output the
same way (batching_session.cc), so a signature can only be batched when every input has a batch
dimension of the same size and every output has one row per input row; a rank-0 input is refused
at predict time ("Batching Run() input tensors must have at least one dimension"). keras-gen's
`sample` signature is a request, not rows: (n, seed, options) -> n images, so it can never be
merged that way (n images are already one batch), and `generate`/`serving_default` take rank-0
options (truncation, steps). Deploy therefore reads each served SavedModel's signatures the way
the BatchingSession will see them (`batching_problems`) and turns batching on only when none has
a problem; otherwise it leaves it off and the README says which inputs keep it off. Plain
Python (the SavedModel is read with TF Serving's protos): nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from keras_gen.core.edge.manifest import is_version_name, read_manifest
from keras_gen.core.edge.repository import list_versions
from keras_gen.core.errors import KerasGenError
from keras_gen.core.fileio import atomic_path

# The image's tag follows TensorFlow's release, the same one that wrote the SavedModels.
TF_SERVING_IMAGE = "tensorflow/serving:2.21.0"
REST_PORT, GRPC_PORT = 8501, 8500
MODELS_MOUNT, CONFIG_MOUNT = "/models", "/config"
EXPORTS_CLAIM = "keras-gen-exports"
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


def models_config(served: dict[str, list[int]]) -> str:
    """ModelServerConfig text proto: every model under /models/NAME, serving exactly `served[NAME]`.

    A `specific` policy, not `latest`: TF Serving would otherwise load the highest numeric folder
    it finds, verified or not (a truncated copy, a version being written by hand)."""
    entries = []
    for name, versions in served.items():
        numbers = " ".join(f"versions: {int(v)}" for v in versions)
        entries.append(
            "  config {\n"
            f"    name: {json.dumps(name)}\n"
            f"    base_path: {json.dumps(f'{MODELS_MOUNT}/{name}')}\n"
            '    model_platform: "tensorflow"\n'
            f"    model_version_policy {{ specific {{ {numbers} }} }}\n"
            "  }\n")
    return "model_config_list {\n" + "".join(entries) + "}\n"


def batching_config(params: dict | None = None) -> str:
    """BatchingParameters text proto (each field is a wrapped int64)."""
    params = {**DEFAULT_BATCHING, **(params or {})}
    unknown = sorted(set(params) - set(DEFAULT_BATCHING))
    if unknown:
        raise KerasGenError(f"unknown batching parameter(s) {', '.join(unknown)}: use {', '.join(DEFAULT_BATCHING)}.")
    lines = [f"{key} {{ value: {int(value)} }}" for key, value in params.items()]
    return "\n".join(lines + ["pad_variable_length_inputs: false"]) + "\n"


MONITORING_CONFIG = 'prometheus_config {\n  enable: true\n  path: "/monitoring/prometheus/metrics"\n}\n'


def read_signatures(version_dir: str | Path) -> dict:
    """The `serve` MetaGraph's SignatureDefs of a version's saved_model.pb (TF Serving's protos,
    no TensorFlow runtime), by name."""
    from serving import protos

    path = Path(version_dir) / "saved_model.pb"
    saved_model = protos.load().saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString(path.read_bytes())
    except (OSError, ValueError) as err:  # protobuf's DecodeError is a ValueError
        raise KerasGenError(f"cannot read {path}: {err}. Re-run `keras-gen export`.") from None
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise KerasGenError(f"{path} has no MetaGraph tagged 'serve' (TF Serving loads that one). Re-run `keras-gen export`.")


def batching_problems(signatures: dict) -> list[str]:
    """Why TF Serving's BatchingSession could not batch these signatures; [] when it can.

    Its rules (batching_util.h ComputeTensorBatchSize, batching_session.cc SplitOutputTensors):
    every input has at least one dimension and all share the size of dimension 0; every output has
    a dimension 0 to split. `__saved_model_init_op` runs at load time, outside the batcher."""
    problems = []
    for name, signature in sorted(signatures.items()):
        if name.startswith("__"):
            continue
        sizes = set()
        for input_name, info in sorted(signature.inputs.items()):
            shape = info.tensor_shape
            if shape.unknown_rank:
                problems.append(f"{name}: input {input_name} has an unknown rank")
            elif not shape.dim:
                problems.append(f"{name}: input {input_name} is a scalar (rank 0)")
            elif shape.dim[0].size >= 0:
                sizes.add(shape.dim[0].size)
        if len(sizes) > 1:
            problems.append(f"{name}: inputs have fixed, different sizes of dimension 0 ({sorted(sizes)})")
        if not signature.inputs:
            problems.append(f"{name}: has no input to batch")
        for output_name, info in sorted(signature.outputs.items()):
            if not info.tensor_shape.unknown_rank and not info.tensor_shape.dim:
                problems.append(f"{name}: output {output_name} is a scalar (rank 0)")
    return problems


def readiness_command(models) -> list[str]:
    """A probe that succeeds only when every model reports a version AVAILABLE on the REST port.

    The tensorflow/serving image has bash but no curl or wget, and an httpGet probe checks one
    path, so this is bash's /dev/tcp: one HTTP/1.0 GET /v1/models/NAME per model (the server
    closes the connection after answering), passing when each answer holds "AVAILABLE"."""
    script = ('for model in "$@"; do '
              f'exec 3<>/dev/tcp/127.0.0.1/{REST_PORT} '
              '&& printf "GET /v1/models/%s HTTP/1.0\\r\\n\\r\\n" "$model" >&3 '
              '&& grep -q \'"AVAILABLE"\' <&3 || exit 1; '
              'exec 3<&-; done')
    return ["bash", "-c", script, "readiness", *models]


def server_args(poll_seconds: int, batching: bool) -> list[str]:
    args = [f"--port={GRPC_PORT}", f"--rest_api_port={REST_PORT}",
            f"--model_config_file={CONFIG_MOUNT}/models.config",
            f"--model_config_file_poll_wait_seconds={int(poll_seconds)}",  # a re-run of deploy is picked up
            f"--file_system_poll_wait_seconds={int(poll_seconds)}",
            f"--monitoring_config_file={CONFIG_MOUNT}/monitoring.config"]
    if batching:
        args += ["--enable_batching", f"--batching_parameters_file={CONFIG_MOUNT}/batching.config"]
    return args


def compose_file(exports: Path, models, poll_seconds: int, batching: bool) -> dict:
    return {"services": {"tfserving": {
        "image": TF_SERVING_IMAGE,
        "command": server_args(poll_seconds, batching),
        "ports": [f"{GRPC_PORT}:{GRPC_PORT}", f"{REST_PORT}:{REST_PORT}"],
        "volumes": [f"{exports.resolve()}:{MODELS_MOUNT}:ro", f"./:{CONFIG_MOUNT}:ro"],
        # Compose interpolates $NAME in its files: $$ is a literal $ for the probe's shell.
        "healthcheck": {"test": ["CMD", *(a.replace("$", "$$") for a in readiness_command(models))],
                        "interval": "10s", "timeout": "5s",
                        "retries": 3, "start_period": "30s"},
        "restart": "unless-stopped",
    }}}


def _storage_request(exports: Path) -> str:
    """Twice the repository's size (room for the next versions), in whole GiB, at least 1."""
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(exports) for f in files)
    return f"{max(1, math.ceil(2 * total / 2**30))}Gi"


def kubernetes_objects(models, configs: dict[str, str], poll_seconds: int, replicas: int, max_replicas: int,
                       batching: bool, storage: str = "1Gi") -> list[dict]:
    """ConfigMap, PersistentVolumeClaim, Deployment, Service and HorizontalPodAutoscaler."""
    app = {"app": "keras-gen-tfserving"}
    container = {
        "name": "tfserving", "image": TF_SERVING_IMAGE, "args": server_args(poll_seconds, batching),
        "ports": [{"name": "grpc", "containerPort": GRPC_PORT}, {"name": "http", "containerPort": REST_PORT}],
        # Ready when every model has a version AVAILABLE (GET /v1/models/NAME for each).
        "readinessProbe": {"exec": {"command": readiness_command(models)},
                           "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": GRPC_PORT}, "initialDelaySeconds": 15, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        "volumeMounts": [{"name": "exports", "mountPath": MODELS_MOUNT, "readOnly": True},
                         {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}],
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keras-gen-tfserving-config"},
         "data": configs},
        # Every replica mounts the exports read-only, and a copy pod writes them (see README.md):
        # many nodes at once, so ReadWriteMany (NFS, EFS, Filestore, Azure Files, CephFS).
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": EXPORTS_CLAIM, "labels": app},
         "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": storage}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "keras-gen-tfserving", "labels": app},
         "spec": {"replicas": replicas, "selector": {"matchLabels": app},
                  "template": {"metadata": {"labels": app}, "spec": {
                      "containers": [container],
                      "volumes": [{"name": "exports", "persistentVolumeClaim": {"claimName": EXPORTS_CLAIM,
                                                                                "readOnly": True}},
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


def query_flags(manifest: dict) -> str | None:
    """`keras-gen query` flags giving every input of the `sample` signature (TF Serving needs all of
    them and its metadata holds no defaults), or None when one is an image (query sends no images)."""
    specs = ((manifest.get("endpoints") or {}).get("sample") or {}).get("inputs") or []
    flags = []
    for spec in specs:
        name, kind = spec.get("name"), spec.get("kind")
        if name == "n":
            flags.append("--n 16")
        elif name == "seed":
            flags.append("--seed 0")
        elif kind == "image":
            return None
        elif kind == "option":
            flags.append(f"--{name} {spec.get('default')}")
        elif kind == "label":
            flags.append(f"--{name} 0")  # one class for all; a list ('[0,1,2]') cycles
        elif kind == "code":
            flags.append(f"--{name} '[]'")  # an empty code is drawn from the seed
    return " ".join(flags)


def _readme(exports: Path, served: dict, problems: dict[str, list[str]], batching: bool, storage: str) -> str:
    first = next(iter(served))
    lines = [f"# TF Serving deployment (written by `keras-gen deploy`)", "",
             "Models (the versions models.config names; each verified against its manifest): "
             + ", ".join(f"{name} (versions {', '.join(map(str, v))})" for name, v in served.items()) + ".", "",
             f"Docker Compose (EXPORTS = {exports.resolve()}, mounted read-only at {MODELS_MOUNT}):", "",
             "    docker compose up -d",
             f"    curl http://localhost:{REST_PORT}/v1/models/{first}            # \"AVAILABLE\" when ready",
             "    docker compose ps                                  # healthy once every model is AVAILABLE", ""]
    lines += ["Sampling (TF Serving takes every input a signature declares; these give each one):", ""]
    for name in served:
        manifest = read_manifest(exports / name / str(served[name][0]))
        flags = query_flags(manifest)
        if flags is None:
            lines.append(f"    # {name}: its sample signature takes an image; POST it to "
                         f"/v1/models/{name}:predict (see the signature with --metadata)")
            continue
        lines.append(f"    keras-gen query http://localhost:{REST_PORT} --model {name} {flags} --out {name}.png")
    lines.append(f"    keras-gen query grpc://localhost:{GRPC_PORT} --model {first} --metadata   # signatures and dtypes")
    lines += ["", "Kubernetes: kubernetes.yml defines the PersistentVolumeClaim "
              f"`{EXPORTS_CLAIM}` ({storage}, ReadWriteMany: every replica mounts it read-only, so it needs a "
              "storage class that serves many nodes, e.g. NFS, EFS, Filestore, Azure Files). Copy the exports onto "
              "it through a pod that mounts it, then start the server:", "",
              "    kubectl apply -f kubernetes.yml",
              f"    kubectl run keras-gen-copy --image=busybox --restart=Never --overrides='{{\"spec\": {{\"volumes\": "
              f"[{{\"name\": \"e\", \"persistentVolumeClaim\": {{\"claimName\": \"{EXPORTS_CLAIM}\"}}}}], "
              f"\"containers\": [{{\"name\": \"c\", \"image\": \"busybox\", \"command\": [\"sleep\", \"3600\"], "
              f"\"volumeMounts\": [{{\"name\": \"e\", \"mountPath\": \"{MODELS_MOUNT}\"}}]}}]}}}}'",
              f"    kubectl cp {exports.resolve()}/. keras-gen-copy:{MODELS_MOUNT}/ && kubectl delete pod keras-gen-copy",
              "    kubectl rollout status deployment/keras-gen-tfserving   # ready once every model is AVAILABLE",
              f"    kubectl port-forward service/keras-gen-tfserving {REST_PORT}:{REST_PORT}", "",
              "New versions: models.config names the verified versions above, so a version exported later is",
              "served once this deployment is written again. After `keras-gen export`, run",
              "",
              f"    keras-gen deploy {exports.resolve()} --out <this folder>",
              "",
              "TF Serving re-reads models.config every --model_config_file_poll_wait_seconds and loads the new",
              "version beside the old one before unloading it. On Kubernetes, copy the new version onto the",
              "claim first, then `kubectl apply -f kubernetes.yml` (the ConfigMap reaches the pods within a minute).",
              "",
              f"Prometheus metrics: http://localhost:{REST_PORT}/monitoring/prometheus/metrics.", ""]
    if batching:
        lines += ["Batching: on (batching.config). Every input of every served signature has a batch dimension,",
                  "so TF Serving's BatchingSession can merge concurrent requests.", ""]
    else:
        lines += ["Batching: off. TF Serving batches every signature of a model or none, and batching needs",
                  "every input to have a batch dimension (\"Batching Run() input tensors must have at least one",
                  "dimension\"); these signatures take scalars:", ""]
        for name, why in problems.items():
            lines += [f"    {name}: {problem}" for problem in why[:6]]
            if len(why) > 6:
                lines.append(f"    {name}: ... and {len(why) - 6} more")
        lines += ["", "A `sample` request is a batch already: n images in one run (--n 64 draws 64 at once).", ""]
    return "\n".join(lines)


def write_deployment(exports: str | Path, out: str | Path, num_versions: int = 1, poll_seconds: int = 30,
                     replicas: int = 2, max_replicas: int = 8, batching: dict | None = None) -> dict[str, Path]:
    """Write the deployment for the export repository EXPORTS into OUT; returns {file name: path}.

    `num_versions`: the newest verified versions of each model that TF Serving serves. Batching is
    on when every served signature can be batched (`batching_problems`), with `batching`'s
    parameters over DEFAULT_BATCHING; parameters given for models that cannot be batched are an
    error naming the inputs that stop it."""
    import yaml

    for what, value, lo in (("--num-versions", num_versions, 1), ("--poll-seconds", poll_seconds, 1),
                            ("--replicas", replicas, 1), ("--max-replicas", max_replicas, replicas)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise KerasGenError(f"{what} must be an integer >= {lo}, got {value!r}.")
    exports, out = Path(exports), Path(out)
    served = {name: versions[:num_versions] for name, versions in repository_models(exports).items()}
    problems = {}
    for name, versions in served.items():
        for version in versions:
            found = batching_problems(read_signatures(exports / name / str(version)))
            if found:
                problems[f"{name} v{version}"] = found
    batched = not problems
    if batching is not None and not batched:
        first, why = next(iter(problems.items()))
        raise KerasGenError(f"TF Serving cannot batch {first}: {why[0]} (batching needs a batch dimension on every "
                            "input of every signature). Deploy without batching parameters.")
    configs = {"models.config": models_config(served), "monitoring.config": MONITORING_CONFIG}
    if batched:
        configs["batching.config"] = batching_config(batching)
    storage = _storage_request(exports)
    texts = dict(configs)

    class PlainDumper(yaml.SafeDumper):  # no &id001 anchors: the files are read and edited by people
        def ignore_aliases(self, data):
            return True

    texts["docker-compose.yml"] = yaml.dump(compose_file(exports, list(served), poll_seconds, batched),
                                            Dumper=PlainDumper, sort_keys=False)
    texts["kubernetes.yml"] = yaml.dump_all(
        kubernetes_objects(list(served), configs, poll_seconds, replicas, max_replicas, batched, storage),
        Dumper=PlainDumper, sort_keys=False)
    texts["README.md"] = _readme(exports, served, problems, batched, storage)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in texts.items():
        with atomic_path(out / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written[name] = out / name
    if not batched and (out / "batching.config").exists():  # an earlier deploy's: nothing reads it now
        (out / "batching.config").unlink()
    return written
