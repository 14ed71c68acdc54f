"""`keras-gen query URL --model NAME`: sample from TF Serving or `keras-gen serve` over REST or
gRPC and save the grid; request inputs are `--NAME VALUE` flags read as JSON. No TensorFlow.
"""

from __future__ import annotations

import json

from keras_gen.errors import KerasGenError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("query", help="sample from TF Serving or `keras-gen serve` over REST (http://) or gRPC "
                                            "(grpc://)",
                              description="Request inputs are flags: --label 7, --labels '[0,1,2]' as --label, "
                                          "--steps 20.")
    p.add_argument("url", help="http://HOST:8501 (REST) or grpc://HOST:8500")
    p.add_argument("--model", required=True)
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="grid.png")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--retries", type=int, default=3, help="retries on 429/503, with exponential back-off")
    p.add_argument("--status", action="store_true", help="print the model's version status and stop")
    p.add_argument("--metadata", action="store_true", help="print the model's signatures and stop")
    p.set_defaults(func=run, takes_request_flags=True)


def run(args, extra: list[str]) -> int:
    from serving.client import ServingClient

    client = ServingClient(args.url, timeout=args.timeout, retries=args.retries)
    try:
        if args.status or args.metadata:
            answer = client.status(args.model, args.version) if args.status else client.metadata(args.model, args.version)
            print(json.dumps(answer, indent=2))
            return 0
        conditions = {}
        for item in extra:  # --label 7, --steps 20, --set name=value: each a request input
            if item.startswith("--") and "=" in item:
                key, value = item[2:].split("=", 1)
            else:
                continue
            conditions[key.replace("-", "_")] = json.loads(value)
        names = [e[2:].replace("-", "_") for e in extra if e.startswith("--") and "=" not in e]
        values = [e for e in extra if not e.startswith("--")]
        if len(names) != len(values):
            raise KerasGenError(f"request flags come as --name value pairs, got {' '.join(extra)}.")
        for key, value in zip(names, values):
            try:
                conditions[key] = json.loads(value)
            except ValueError:
                raise KerasGenError(f"--{key}: {value!r} is not a number or a JSON list.") from None
        images = client.sample(args.model, n=args.n, seed=args.seed, version=args.version, **conditions)
    finally:
        client.close()
    from keras_gen.images import save_grid

    save_grid(images, args.out)
    print(f"{images.shape[0]} images {images.shape[1:]} from {args.url} ({args.model}) -> {args.out}")
    return 0
