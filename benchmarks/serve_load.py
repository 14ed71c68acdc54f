"""Load and abuse on the edge server over loopback, against the onnxruntime session called directly.

    python benchmarks/serve_load.py EXPORTS [--model dcgan] [--requests 2000] [--concurrency 16] [--n 1]
                                    [--fuzz-examples 500] [--sigterm-requests 400] [--capacity-requests 1000]

The newest version of EXPORTS/MODEL is copied to a scratch repository (EXPORTS is not touched) and
served by `keras-gen serve` in its own process. In order, on that one process:

1. load: `sample` requests of n images at the given concurrency, p50/p99 latency and throughput,
   beside the same EdgeModel.sample calls made directly in this process (the server's overhead
   as a ratio); halfway through, a new version is renamed into place: 0 errors, 0 dropped;
1b. capacity: 429s at the server's default queue for a few dozen concurrent clients (none
   expected), for a real overload (far more clients than workers + queue, bigger requests), and
   at the old default (--queue 8, a server of its own) for comparison;
2. broken versions: a half-written one and one whose model.onnx does not match its manifest are
   named in the status while the previous version keeps serving;
3. abuse: the malformed-request corpus of tests/serving (each answered with its 4xx);
4. fuzz: schemathesis on the OpenAPI schema, `--fuzz-examples` positive examples per operation
   and as many negative bodies per predict (path names free, or the served model's): 0 server errors;
5. memory: the server's RSS after warm-up, the load, the capacity rows (their overload sets a
   high-water mark of 68 big requests in flight), abuse and fuzzing (flat after the capacity rows);
6. SIGTERM during a further load: every request the server accepted is answered (0 dropped),
   later ones are refused at connect, and the process exits.
"""

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(seconds):
    return np.percentile(seconds, 50) * 1000, np.percentile(seconds, 99) * 1000


def start_server(root: Path, port: int, queue: int | None = None, log_name: str = "server.log") -> subprocess.Popen:
    """`keras-gen serve` with 4 workers and the server's default queue (or `queue`)."""
    command = [sys.executable, "-m", "keras_gen", "serve", str(root), "--host", "127.0.0.1", "--port", str(port),
               "--grpc-port", "-1", "--workers", "4", "--poll-seconds", "0.5",
               "--max-batch", "64", "--max-body-mb", "1"]  # the corpus' limits
    if queue is not None:
        command += ["--queue", str(queue)]
    log = open(root.parent / log_name, "w")
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log,
                               stderr=subprocess.STDOUT)
    return process


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def rss_mb(process) -> float:
    import psutil

    return psutil.Process(process.pid).memory_info().rss / 2**20


def drop_in(model_dir: Path) -> int:
    """A copy of the newest version renamed into place as the next one (as the exporter does)."""
    newest = max(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())
    staging = model_dir.parent / f".staging-{newest + 1}"
    shutil.copytree(model_dir / str(newest), staging)
    os.rename(staging, model_dir / str(newest + 1))
    return newest + 1


def load(call, requests: int, concurrency: int, halfway=None):
    """Run `call(seed)` -> (seconds, outcome) `requests` times; `halfway()` once half are done."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(call, seed) for seed in range(requests)]
        if halfway is not None:
            while sum(f.done() for f in futures) < requests // 2:
                time.sleep(0.005)
            halfway()
        results = [f.result() for f in futures]
    return results, time.perf_counter() - start


def sample_inputs(base: str, model: str, n: int) -> dict:
    """Every input of the model's `sample` signature (the server takes no fewer), defaults from its
    metadata, as JSON values; the caller sets the seed."""
    from serving.client import ServingClient

    client = ServingClient(base)
    try:
        return {k: v.tolist() for k, v in client.complete_inputs(model, "sample", {"n": n, "seed": 0}).items()}
    finally:
        client.close()


def rest_caller(client, url: str, n: int):
    import httpx

    base, model = url.split("/v1/models/")[0], url.split("/v1/models/")[1].split(":")[0]
    inputs = sample_inputs(base, model, n)

    def call(seed):
        start = time.perf_counter()
        try:
            response = client.post(url, json={"signature_name": "sample", "inputs": {**inputs, "seed": seed}})
        except httpx.ConnectError:
            return time.perf_counter() - start, "refused"
        except httpx.HTTPError as err:  # accepted, then no answer
            return time.perf_counter() - start, f"reset: {type(err).__name__}"
        outcome = response.headers.get("x-model-version") if response.status_code == 200 else response.status_code
        return time.perf_counter() - start, outcome

    return call


def check_broken_versions(base: str, model_dir: Path, model: str) -> str:
    import httpx

    body = {"signature_name": "sample", "inputs": sample_inputs(base, model, 2)}
    before = httpx.post(f"{base}/v1/models/{model}:predict", json=body)
    newest = max(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())
    half, tampered = model_dir / str(newest + 1), model_dir / str(newest + 2)
    half.mkdir()
    (half / "saved_model.pb").write_bytes(b"half-written")
    shutil.copytree(model_dir / str(newest), tampered)
    with open(tampered / "model.onnx", "ab") as f:
        f.write(b"\0")
    time.sleep(1.5)  # three polls
    states = {s["version"]: s for s in httpx.get(f"{base}/v1/models/{model}").json()["model_version_status"]}
    after = httpx.post(f"{base}/v1/models/{model}:predict", json=body)
    ok = (states[str(newest)]["state"] == "AVAILABLE" and states[str(half.name)]["state"] == "END"
          and states[str(tampered.name)]["state"] == "END" and after.json() == before.json()
          and after.headers["x-model-version"] == str(newest))
    shutil.rmtree(half), shutil.rmtree(tampered)
    def why(version):  # the message's own words, the scratch folder's path left out
        message = states[version]["status"]["error_message"].replace(str(model_dir.parent), "EXPORTS")
        return message.split("cannot be loaded: ")[-1][:90]

    return (f"half-written v{half.name} and tampered v{tampered.name} reported ({why(half.name)!r}; "
            f"{why(tampered.name)!r}); v{newest} kept serving: {ok}")


def answered(outcome) -> bool:
    """A 200 (its outcome is the version that answered), not a status, refusal or drop."""
    return isinstance(outcome, str) and outcome.isdigit()


def abuse(base: str, model: str) -> tuple[int, int, bool]:
    """The tests' corpus of malformed requests: (requests, answered as expected, healthy after)."""
    import httpx

    from tests.serving.test_edge_server import malformed_corpus

    corpus = [(m, p.replace("/dcgan", "/" + model), b, h, s) for m, p, b, h, s in malformed_corpus()]
    right = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for method, path, body, headers, status in corpus:
            response = client.request(method, path, content=body, headers=headers)
            right += response.status_code == status and set(response.json()) == {"error"}
        # and a chunked body (no Content-Length) over the limit: cut off with 413
        response = client.post(f"/v1/models/{model}:predict", content=(b"x" * 65536 for _ in range(40)))
        right += response.status_code == 413 and set(response.json()) == {"error"}
        corpus.append("chunked")
        healthy = client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    return len(corpus), right, healthy


def fuzz(base: str, model: str, examples: int) -> list[tuple[str, dict]]:
    """schemathesis on /openapi.json: per operation, positive examples (and negative bodies for the
    predicts) with the path's names free or set to the served model; the statuses seen. Seeded."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    rows = []
    for result in schema.get_all_operations():
        operation = result.ok()
        statuses = collections.Counter()
        # Path names are any string: only a body has negative examples (GETs would try in vain for seconds).
        for mode in GenerationMode if operation.method.upper() == "POST" else [GenerationMode.POSITIVE]:
            strategies = [operation.as_strategy(generation_mode=mode)]
            if "{name}" in operation.path:
                strategies.append(operation.as_strategy(generation_mode=mode, path_parameters={"name": model}))

            @given(st.one_of(strategies))
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                statuses[case.call(base_url=base, timeout=60).status_code] += 1

            run()
        rows.append((operation.label, dict(sorted(statuses.items()))))
    return rows


def capacity(url: str, rows, requests: int) -> list[tuple]:
    """(label, concurrency, n, requests, 429s, other errors, p50 ms, p99 ms) of a load per row
    (label, concurrency, n), on the server at `url`."""
    import httpx

    measured = []
    for label, concurrency, n in rows:
        with httpx.Client(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:
            results, _ = load(rest_caller(client, url, n), requests, concurrency)
        statuses = collections.Counter(outcome for _, outcome in results)
        refused = statuses.get(429, 0)
        others = sum(c for o, c in statuses.items() if not answered(o) and o != 429)
        measured.append((label, concurrency, n, requests, refused, others,
                         *percentiles([s for s, _ in results])))
    return measured


def sigterm_during_load(process, url: str, requests: int, concurrency: int, n: int, log_path: Path):
    """SIGTERM halfway through a load: the client's outcomes, the exit status, and the server's own
    count at exit of the requests it began and ended (answered or not)."""
    import httpx

    metrics = httpx.get(url.split("/v1/")[0] + "/metrics").text
    before = int(next(line.split()[1] for line in metrics.splitlines()
                      if line.startswith("keras_gen_requests_finished_total"))) + 1  # + this /metrics request
    with httpx.Client(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:
        call = rest_caller(client, url, n)
        results, _ = load(call, requests, concurrency, halfway=lambda: process.send_signal(signal.SIGTERM))
    code = process.wait(60)
    lines = [json.loads(line) for line in (log_path.read_text().splitlines()) if line.startswith('{"event": "drained"')]
    outcomes = collections.Counter("200" if answered(o) else (f"status {o}" if isinstance(o, int) else o)
                                   for _, o in results)
    drained = dict(lines[-1], before=before) if lines else None
    return outcomes, code, drained


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exports")
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--n", type=int, default=1, help="images per request")
    parser.add_argument("--fuzz-examples", type=int, default=500, help="per operation and mode (0: no fuzzing)")
    parser.add_argument("--sigterm-requests", type=int, default=400)
    parser.add_argument("--capacity-requests", type=int, default=1000, help="per capacity row (0: none)")
    parser.add_argument("--overload-concurrency", type=int, default=200,
                        help="clients at once in the overload row (the default server admits 4 + 64)")
    parser.add_argument("--overload-n", type=int, default=64, help="images per request in the overload row")
    args = parser.parse_args()

    import httpx

    from keras_gen.core.edge import EdgeModel

    edge = EdgeModel.from_path(Path(args.exports) / args.model)
    scratch = Path(tempfile.mkdtemp(prefix="serve-load-"))
    root, model_dir = scratch / "exports", scratch / "exports" / args.model
    shutil.copytree(edge.version_dir, model_dir / "1")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/v1/models/{args.model}:predict"
    process = start_server(root, port)  # the default queue: what `keras-gen serve` users get
    try:
        wait_ready(base, process)

        def direct(seed):
            start = time.perf_counter()
            edge.sample(args.n, seed=seed)
            return time.perf_counter() - start, "1"

        client = httpx.Client(limits=httpx.Limits(max_connections=args.concurrency), timeout=60)
        rest = rest_caller(client, url, args.n)
        load(rest, 200, args.concurrency)  # warm-up: threads, connections, arenas
        memory = [("after warm-up", rss_mb(process))]
        rows = []
        for name, call in (("onnxruntime direct", direct), ("REST edge server", rest)):
            results, wall = load(call, args.requests, args.concurrency,
                                 halfway=(lambda: drop_in(model_dir)) if call is rest else None)
            outcomes = collections.Counter(outcome for _, outcome in results)
            errors = sum(c for o, c in outcomes.items() if not answered(o))
            versions = sorted(o for o in outcomes if answered(o))
            rows.append((name, *percentiles([s for s, _ in results]), args.requests / wall, errors, versions))
        client.close()
        memory.append(("after load", rss_mb(process)))
        capacity_rows = []
        if args.capacity_requests:
            capacity_rows = capacity(url, [("default queue", 16, args.n), ("default queue", 48, args.n),
                                           ("default queue, overload", args.overload_concurrency, args.overload_n)],
                                     args.capacity_requests)
            old_port = free_port()  # the old default, --queue 8, beside it for comparison
            old = start_server(root, old_port, queue=8, log_name="server-queue8.log")
            try:
                wait_ready(f"http://127.0.0.1:{old_port}", old)
                capacity_rows = capacity(f"http://127.0.0.1:{old_port}/v1/models/{args.model}:predict",
                                         [("--queue 8 (old default)", 16, args.n)], args.capacity_requests) + capacity_rows
            finally:
                old.send_signal(signal.SIGTERM)
                old.wait(60)
            memory.append(("after capacity", rss_mb(process)))
        broken = check_broken_versions(base, model_dir, args.model)
        requests, right, healthy = abuse(base, args.model)
        memory.append(("after abuse", rss_mb(process)))
        fuzzed = fuzz(base, args.model, args.fuzz_examples) if args.fuzz_examples else []
        memory.append(("after fuzzing", rss_mb(process)))
        stopped, code, drained = sigterm_during_load(process, url, args.sigterm_requests, args.concurrency, args.n,
                                                     scratch / "server.log")
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{args.requests} sample requests of n={args.n} at concurrency {args.concurrency}, model {args.model}; "
          f"server: `keras-gen serve` in its own process (4 workers, the default queue)")
    print(f"{'path':22s} {'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'errors':>7s}  versions answering")
    for name, p50, p99, rate, errors, versions in rows:
        print(f"{name:22s} {p50:8.2f} {p99:8.2f} {rate:8.1f} {errors:7d}  {', '.join(versions)}"
              + ("  (new version dropped in halfway)" if len(versions) > 1 else ""))
    print(f"server overhead: throughput ratio direct/REST = {rows[0][3] / rows[1][3]:.2f}x, "
          f"p50 ratio REST/direct = {rows[1][1] / rows[0][1]:.2f}x")
    if capacity_rows:
        print(f"capacity (4 workers; {args.capacity_requests} sample requests per row):")
        print(f"  {'server queue':26s} {'clients':>7s} {'n':>4s} {'429s':>6s} {'other errors':>12s} "
              f"{'p50 ms':>8s} {'p99 ms':>8s}")
        for label, concurrency, n, _, refused, others, p50, p99 in capacity_rows:
            print(f"  {label:26s} {concurrency:7d} {n:4d} {refused:6d} {others:12d} {p50:8.2f} {p99:8.2f}")
    print(f"broken versions: {broken}")
    print(f"abuse corpus: {right}/{requests} answered with their 4xx and {{\"error\"}}; healthy after: {healthy}")
    if fuzzed:
        server_errors = sum(c for _, statuses in fuzzed for s, c in statuses.items() if s >= 500)
        print(f"schemathesis ({args.fuzz_examples} positive examples per operation, + {args.fuzz_examples} negative "
              f"bodies per predict; an operation without parameters has 1 distinct one): {server_errors} server errors")
        for label, statuses in fuzzed:
            print(f"  {label:55s} {sum(statuses.values()):5d} requests  {json.dumps(statuses)}")
    print("server RSS: " + ", ".join(f"{what} {mb:.1f} MB" for what, mb in memory)
          + f"; growth {100 * (memory[-1][1] / memory[0][1] - 1):+.1f}%")
    print(f"SIGTERM halfway through {args.sigterm_requests} requests: client saw {dict(stopped)}; exit status {code}")
    if drained:
        print(f"  the server at exit: {drained['started']} requests begun, {drained['finished']} ended, "
              f"{drained['unanswered']} of them without a complete answer; in flight and dropped: "
              f"{drained['started'] - drained['finished'] + drained['unanswered']}; answered during this load: "
              f"{drained['finished'] - drained['before']} (the client received "
              f"{sum(c for o, c in stopped.items() if o == '200' or o.startswith('status'))}); the client's resets "
              "never reached the app: a connection the kernel had queued, or an idle keep-alive one it closed")
    else:
        print("  the server did not log its drain (it did not shut down cleanly)")


if __name__ == "__main__":
    main()
