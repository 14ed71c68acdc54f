"""`keras-gen launch RUN_CONFIG --workers N --out K8S/`: a run on a Kubernetes cluster, as a
Kubeflow training-operator `TFJob` (kubeflow.org/v1).

The operator starts N worker pods and sets each one's TF_CONFIG (the cluster's addresses and the
pod's place in it); every pod runs the same `keras-gen train ... --strategy multiworker
--auto-resume` on a run folder on one shared volume. Worker 0 is the chief (no Chief replica
type): it alone writes the run folder; the others write to temporary folders. A pod that fails
is restarted (`restartPolicy: OnFailure`); the workers it left behind stop with a one-line error
when they see it gone and are restarted too, and `--auto-resume` makes the restarted job go on
from the run's last checkpoint, with its RNG and EMA state, as if it had not stopped.

    K8S/tfjob.yaml    the TFJob
    K8S/volume.yaml   the PersistentVolumeClaim of the shared run folder (ReadWriteMany)

The same training on one machine, on its GPUs, and on several hosts:

    keras-gen train dcgan --data /runs/shards/faces --out /runs/faces --batch-size 256
    keras-gen train dcgan --data /runs/shards/faces --out /runs/faces --batch-size 256 --strategy mirrored
    keras-gen launch runs/faces/config.json --workers 4 --out k8s/ && kubectl apply -f k8s/

Plain Python (PyYAML), no TensorFlow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from keras_gen.errors import KerasGenError

API_VERSION, KIND = "kubeflow.org/v1", "TFJob"
CONTAINER = "tensorflow"  # the training operator's default container name: the one it gives TF_CONFIG
DEFAULT_MOUNT, DEFAULT_CLAIM, DEFAULT_VOLUME_SIZE = "/runs", "keras-gen-runs", "100Gi"
# RunConfig fields and the `keras-gen train` flags that say them (options go as --set key=value).
_FLAGS = (("data", "--data"), ("data_b", "--data-b"), ("data_dir", "--data-dir"), ("image_size", "--image-size"),
          ("batch_size", "--batch-size"), ("seed", "--seed"), ("epochs", "--epochs"),
          ("steps_per_epoch", "--steps-per-epoch"), ("jit_compile", "--jit-compile"), ("precision", "--precision"),
          ("batch_norm", "--batch-norm"))


def read_run_config(path):
    """The RunConfig in `path`: a run's config.json, or a JSON file of its fields ({"model": ...})."""
    from keras_gen import registry
    from keras_gen.runs import RunConfig

    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise KerasGenError(f"Cannot read the run config {path} ({err}); pass a run's config.json or a JSON file "
                            "of its fields, e.g. {\"model\": \"dcgan\", \"data\": \"digits\", \"epochs\": 20}.") from None
    config = RunConfig.from_dict(values, where=str(path)).check()
    registry.get(config.model)  # an unknown model: one clear line now, not in every pod
    return config


def _flag_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def train_command(config, run_dir: str) -> list[str]:
    """The `keras-gen train` command every worker runs (the same on each; TF_CONFIG says who it is)."""
    command = ["keras-gen", "train", config.model, "--out", run_dir, "--strategy", "multiworker", "--auto-resume"]
    for name, flag in _FLAGS:
        value = getattr(config, name)
        if value is not None:
            command += [flag, _flag_value(value)]
    for key, value in sorted(config.options.items()):
        command += ["--set", f"{key}={_flag_value(value)}"]
    return command


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:50].strip("-")
    if not name:
        raise KerasGenError(f"{text!r} gives no usable Kubernetes name; pass --name (lower-case letters, digits, -).")
    return name


def tfjob(config, *, workers: int, image: str, name: str, gpus_per_worker: int = 1, claim: str = DEFAULT_CLAIM,
          mount: str = DEFAULT_MOUNT, namespace: str | None = None, cpu: str | None = None,
          memory: str | None = None) -> dict:
    """The TFJob object (as a dict) that trains `config` on `workers` pods."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise KerasGenError(f"--workers must be at least 1, got {workers!r}.")
    if isinstance(gpus_per_worker, bool) or not isinstance(gpus_per_worker, int) or gpus_per_worker < 0:
        raise KerasGenError(f"--gpus-per-worker must be 0 (CPU) or more, got {gpus_per_worker!r}.")
    replicas = workers * max(1, gpus_per_worker)
    if config.batch_size is not None and config.batch_size % replicas:
        raise KerasGenError(f"The run's batch_size {config.batch_size} (the global batch) does not split over "
                            f"{workers} workers x {max(1, gpus_per_worker)} device(s) = {replicas} replicas; set a "
                            f"multiple of {replicas} in the run config.")
    name = _dns_name(name)
    run_dir = f"{mount.rstrip('/')}/{name}"
    limits, requests = {}, {}
    if gpus_per_worker:
        limits["nvidia.com/gpu"] = gpus_per_worker
    for key, value in (("cpu", cpu), ("memory", memory)):
        if value:
            requests[key] = value
    resources = {**({"limits": limits} if limits else {}), **({"requests": requests} if requests else {})}
    container = {"name": CONTAINER, "image": image, "command": train_command(config, run_dir),
                 "env": [{"name": "KERAS_BACKEND", "value": "tensorflow"}],
                 "volumeMounts": [{"name": "runs", "mountPath": mount}]}
    if resources:
        container["resources"] = resources
    metadata = {"name": name, **({"namespace": namespace} if namespace else {}),
                "labels": {"app.kubernetes.io/name": "keras-gen", "keras-gen/model": _dns_name(config.model)}}
    return {
        "apiVersion": API_VERSION, "kind": KIND, "metadata": metadata,
        "spec": {
            # Restarts of the whole job's pods (a lost worker stops the others) before it is failed.
            "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 10 * workers},
            "tfReplicaSpecs": {"Worker": {
                "replicas": workers,
                "restartPolicy": "OnFailure",
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "keras-gen"}},
                    "spec": {"containers": [container],
                             "volumes": [{"name": "runs", "persistentVolumeClaim": {"claimName": claim}}]},
                },
            }},
        },
    }


def volume_claim(claim: str, size: str, namespace: str | None = None) -> dict:
    """The shared run folder: one volume every worker mounts read-write (ReadWriteMany: NFS, CephFS,
    a cloud file store)."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, **({"namespace": namespace} if namespace else {})},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": size}}}}


def write_launch(run_config, out, *, workers: int, image: str, name: str | None = None, gpus_per_worker: int = 1,
                 claim: str = DEFAULT_CLAIM, volume_size: str = DEFAULT_VOLUME_SIZE, mount: str = DEFAULT_MOUNT,
                 namespace: str | None = None, cpu: str | None = None, memory: str | None = None) -> dict[str, Path]:
    """Write K8S/tfjob.yaml and K8S/volume.yaml for the run config in `run_config`; {name: path}."""
    import yaml

    from keras_gen.core.fileio import atomic_path

    config = read_run_config(run_config)
    name = name or (Path(run_config).parent.name if Path(run_config).name == "config.json" else Path(run_config).stem)
    job = tfjob(config, workers=workers, image=image, name=name, gpus_per_worker=gpus_per_worker, claim=claim,
                mount=mount, namespace=namespace, cpu=cpu, memory=memory)
    texts = {"tfjob.yaml": yaml.safe_dump(job, sort_keys=False),
             "volume.yaml": yaml.safe_dump(volume_claim(claim, volume_size, namespace), sort_keys=False)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for file_name, text in texts.items():
        with atomic_path(out / file_name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written[file_name] = out / file_name
    return written
