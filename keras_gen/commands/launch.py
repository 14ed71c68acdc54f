"""`keras-gen launch RUN_CONFIG --workers N --out K8S/`: a Kubeflow TFJob that trains the run on N
worker pods with --strategy multiworker (keras_gen/launch.py). No TensorFlow.
"""

from __future__ import annotations

from keras_gen import __version__


def add_parser(subparsers) -> None:
    from keras_gen.launch import DEFAULT_CLAIM, DEFAULT_MOUNT, DEFAULT_VOLUME_SIZE

    p = subparsers.add_parser("launch", help="write a Kubeflow TFJob that trains a run on several hosts "
                                             "(TF_CONFIG per worker, the run folder on a shared volume)")
    p.add_argument("run_config", help="a run's config.json, or a JSON file of its fields ({\"model\": \"dcgan\", ...})")
    p.add_argument("--workers", type=int, required=True, help="worker pods (worker 0 is the chief)")
    p.add_argument("--out", required=True, help="folder for tfjob.yaml and volume.yaml")
    p.add_argument("--image", default=f"keras-gen:{__version__}", help="a container image with keras-gen installed")
    p.add_argument("--name", default=None, help="the job's name and its run folder on the volume "
                                                "(default: the run's folder name, or the config file's)")
    p.add_argument("--gpus-per-worker", type=int, default=1, help="GPUs per pod (0: CPU); each pod mirrors over its own")
    p.add_argument("--volume-claim", default=DEFAULT_CLAIM, help="the PersistentVolumeClaim of the shared run folder")
    p.add_argument("--volume-size", default=DEFAULT_VOLUME_SIZE, help="its size, in volume.yaml")
    p.add_argument("--mount", default=DEFAULT_MOUNT, help="where pods mount it; the run is MOUNT/NAME")
    p.add_argument("--namespace", default=None)
    p.add_argument("--cpu", default=None, help="CPU request per pod (e.g. 8)")
    p.add_argument("--memory", default=None, help="memory request per pod (e.g. 32Gi)")
    p.set_defaults(func=run)


def run(args) -> int:
    from keras_gen.launch import write_launch

    written = write_launch(args.run_config, args.out, workers=args.workers, image=args.image, name=args.name,
                           gpus_per_worker=args.gpus_per_worker, claim=args.volume_claim,
                           volume_size=args.volume_size, mount=args.mount, namespace=args.namespace, cpu=args.cpu,
                           memory=args.memory)
    print(f"wrote a TFJob of {args.workers} worker(s) for {args.run_config} to {args.out}: "
          f"{', '.join(sorted(written))}")
    print(f"  start it:  kubectl apply -f {written['volume.yaml']} -f {written['tfjob.yaml']}")
    print("  (the run config's data paths must exist in the pods: put packed shards on the shared volume)")
    return 0
