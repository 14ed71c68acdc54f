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
    p.add_argument("--text", action="append", default=None, metavar="CAPTION",
                   help="a caption for a text-to-image model, sent as a string (both servers tokenise it); "
                        "repeat for several, cycled over the samples")
    p.set_defaults(func=run, takes_request_flags=True)


def request_flags(extra: list[str]) -> dict:
    """The request inputs given as flags, `--name value` or `--name=value` (--label 7, --steps=20,
    --labels '[0,1,2]'), each value read as JSON; a flag with no value, a value with no flag, a
    flag given twice or a value that is not JSON is a KerasGenError naming it."""
    conditions, tokens = {}, iter(extra)
    for token in tokens:
        if not token.startswith("--") or len(token) == 2 or token.startswith("--="):
            raise KerasGenError(f"request inputs are --NAME VALUE or --NAME=VALUE flags; {token!r} is neither.")
        flag, inline = token.split("=", 1) if "=" in token else (token, None)
        if flag == "--set":
            raise KerasGenError("query takes request inputs as --NAME VALUE (e.g. --steps 20); --set is train's flag "
                                "for model options.")
        value = inline if inline is not None else next(tokens, None)
        if value is None or (inline is None and value.startswith("--")):
            raise KerasGenError(f"{flag} needs a value: {flag} VALUE or {flag}=VALUE.")
        name = flag[2:].replace("-", "_")
        if name in conditions:
            raise KerasGenError(f"{flag} is given twice.")
        try:
            conditions[name] = json.loads(value)
        except ValueError:
            raise KerasGenError(f"{flag}: {value!r} is not a number or a JSON list.") from None
    return conditions


def caption_input(client, model: str, version, conditions: dict) -> str:
    """The name of the `sample` signature's caption input: its one string input (DT_STRING, on
    TF Serving and on the edge server alike); a KerasGenError when it has none or it is given twice."""
    captions = [name for name, (dtype, _, _) in client.signature_inputs(model, "sample", version).items()
                if dtype is object]
    if len(captions) != 1:
        raise KerasGenError(f"--text is for a text-to-image model; {model} takes "
                            + ("no caption" if not captions else f"several ({', '.join(captions)}): pass them by name")
                            + ".")
    if captions[0] in conditions:
        raise KerasGenError(f"--text and --{captions[0]} are the same input; pass one.")
    return captions[0]


def run(args, extra: list[str]) -> int:
    from serving.client import ServingClient

    conditions = request_flags(extra)  # before any connection
    client = ServingClient(args.url, timeout=args.timeout, retries=args.retries)
    try:
        if args.status or args.metadata:
            answer = client.status(args.model, args.version) if args.status else client.metadata(args.model, args.version)
            print(json.dumps(answer, indent=2))
            return 0
        if args.text is not None:
            conditions[caption_input(client, args.model, args.version, conditions)] = args.text
        images = client.sample(args.model, n=args.n, seed=args.seed, version=args.version, **conditions)
    finally:
        client.close()
    from keras_gen.images import save_grid

    save_grid(images, args.out)
    print(f"{images.shape[0]} images {images.shape[1:]} from {args.url} ({args.model}) -> {args.out}")
    return 0
