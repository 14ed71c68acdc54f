"""Load on the edge server over loopback against the onnxruntime session called directly.

    python benchmarks/serve_load.py EXPORTS [--model dcgan] [--requests 2000] [--concurrency 16] [--n 1]

Prints p50/p99 latency and throughput of `sample` requests through REST (uvicorn + FastAPI, in
this process, on a free port) and of the same EdgeModel.sample calls made directly, the
server's overhead as a ratio, and the count of errors. With --drop-version, a copy of the served
version is renamed in as a new version halfway through the load (0 errors expected).
"""

import argparse
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def percentiles(seconds):
    return np.percentile(seconds, 50) * 1000, np.percentile(seconds, 99) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exports")
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--n", type=int, default=1, help="images per request")
    parser.add_argument("--drop-version", action="store_true")
    args = parser.parse_args()

    import httpx
    import uvicorn

    from keras_gen.edge import EdgeModel
    from serving.models import ModelRepository
    from serving.server import ServerOptions, create_app

    edge = EdgeModel.from_path(Path(args.exports) / args.model)
    options = ServerOptions(workers=4, queue=args.concurrency + 4, poll_seconds=0.5)
    asgi, app = create_app(ModelRepository(args.exports), options)
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=0, access_log=False, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1/models/{args.model}:predict"

    def direct(seed):
        start = time.perf_counter()
        edge.sample(args.n, seed=seed)
        return time.perf_counter() - start, 200

    client = httpx.Client(limits=httpx.Limits(max_connections=args.concurrency), timeout=60)

    def rest(seed):
        start = time.perf_counter()
        body = {"signature_name": "sample", "inputs": {"n": args.n, "seed": seed}}
        status = client.post(url, json=body).status_code
        return time.perf_counter() - start, status

    rows = []
    for name, call in (("onnxruntime direct", direct), ("REST edge server", rest)):
        dropped = False
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = [pool.submit(call, seed) for seed in range(args.requests)]
            if args.drop_version and call is rest:
                while sum(f.done() for f in futures) < args.requests // 2:
                    time.sleep(0.01)
                model_dir = Path(args.exports) / args.model
                newest = max(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())
                shutil.copytree(model_dir / str(newest), model_dir / ".staging")
                os.rename(model_dir / ".staging", model_dir / str(newest + 1))
                dropped = True
            results = [f.result() for f in futures]
        wall = time.perf_counter() - start
        seconds = [r[0] for r in results]
        errors = sum(r[1] != 200 for r in results)
        p50, p99 = percentiles(seconds)
        rows.append((name, p50, p99, args.requests / wall, errors, dropped))
    server.should_exit = True
    print(f"{args.requests} sample requests of n={args.n} at concurrency {args.concurrency}, model {args.model}")
    print(f"{'path':22s} {'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'errors':>7s}")
    for name, p50, p99, rate, errors, dropped in rows:
        print(f"{name:22s} {p50:8.2f} {p99:8.2f} {rate:8.1f} {errors:7d}" + ("  (new version dropped in)" if dropped else ""))
    print(f"server overhead: throughput ratio direct/REST = {rows[0][3] / rows[1][3]:.2f}x, "
          f"p50 ratio REST/direct = {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
