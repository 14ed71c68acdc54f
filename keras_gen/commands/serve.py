"""`keras-gen serve EXPORTS`: serve an export repository on onnxruntime with TF Serving's REST and
gRPC APIs (the edge server in serving/). No TensorFlow.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve an export repository on onnxruntime with TF Serving's REST and "
                                            "gRPC APIs")
    p.add_argument("exports", help="the export repository (EXPORTS/NAME/VERSION)")
    p.add_argument("--port", type=int, default=8501, help="REST port")
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (-1: no gRPC)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--workers", type=int, default=4, help="predictions run at once")
    p.add_argument("--queue", type=int, default=64, help="requests that may wait for a worker; past it: 429")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per prediction; past it: 504")
    p.add_argument("--poll-seconds", type=float, default=2.0, help="how often new versions are looked for")
    p.add_argument("--max-batch", type=int, default=256, help="samples or rows per request")
    p.add_argument("--max-image-side", type=int, default=1024, help="pixels, for image inputs")
    p.add_argument("--max-steps", type=int, default=1000, help="a sampler's steps option")
    p.add_argument("--max-body-mb", type=int, default=8, help="request body limit (413 past it)")
    p.add_argument("--onnx-variant", default="float32", choices=("float32", "fp16", "int8"),
                   help="serve each version's smaller ONNX file (export --onnx-variants); default float32")
    p.add_argument("--session-threads", type=int, default=0,
                   help="onnxruntime intra-op threads per model session (0: one per physical core, fastest on a "
                        "machine of its own; 1 when the cores are shared or --workers requests keep them all busy)")
    p.add_argument("--lenient", action="store_true",
                   help="accept requests TF Serving refuses: options left out take their defaults, gRPC tensors of "
                        "another dtype are converted, {\"b64\": PNG} images are decoded (default: strict, as TF Serving)")
    p.set_defaults(func=run)


def run(args) -> int:
    from serving.requests import Limits
    from serving.server import ServerOptions, serve

    options = ServerOptions(workers=args.workers, queue=args.queue, timeout_seconds=args.timeout,
                            poll_seconds=args.poll_seconds, lenient=args.lenient,
                            limits=Limits(max_batch=args.max_batch, max_image_side=args.max_image_side,
                                          max_steps=args.max_steps, max_body_bytes=args.max_body_mb << 20))
    serve(args.exports, port=args.port, grpc_port=None if args.grpc_port < 0 else args.grpc_port, host=args.host,
          options=options, onnx_variant=args.onnx_variant, session_threads=args.session_threads)
    return 0
