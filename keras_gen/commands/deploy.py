"""`keras-gen deploy EXPORTS --out DIR`: write a TF Serving deployment for an export repository
(models.config, batching, docker compose and Kubernetes files). No TensorFlow.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("deploy", help="write a TF Serving deployment for an export repository: models.config, "
                                             "batching, compose and Kubernetes files")
    p.add_argument("exports", help="the export repository (EXPORTS/NAME/VERSION)")
    p.add_argument("--out", required=True, help="folder for the deployment files")
    p.add_argument("--num-versions", type=int, default=1, help="versions of each model TF Serving keeps serving")
    p.add_argument("--poll-seconds", type=int, default=30, help="how often TF Serving looks for new versions")
    p.add_argument("--replicas", type=int, default=2, help="Kubernetes replicas (the autoscaler's minimum)")
    p.add_argument("--max-replicas", type=int, default=8, help="the autoscaler's maximum")
    p.set_defaults(func=run)


def run(args) -> int:
    from serving.tfserving import write_deployment

    written = write_deployment(args.exports, args.out, num_versions=args.num_versions, poll_seconds=args.poll_seconds,
                               replicas=args.replicas, max_replicas=args.max_replicas)
    print(f"wrote a TF Serving deployment for {args.exports} to {args.out}: {', '.join(sorted(written))}")
    print(f"  start it: cd {args.out} && docker compose up -d   (or kubectl apply -f kubernetes.yml; see README.md)")
    return 0
