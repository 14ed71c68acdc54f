"""The edge server running for a test: uvicorn in a thread of this process on a free port, and,
when asked, the gRPC server beside it on another."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from serving.models import ModelRepository
from serving.server import ServerOptions, create_app


def bound_ports(log: str) -> tuple[int | None, int | None]:
    """(REST port, gRPC port) that a `keras-gen serve --port 0 --grpc-port 0` process says it bound in
    its log (uvicorn's "running on" line, the server's grpc event), None for one not said yet."""
    rest = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log)
    grpc = re.search(r'\{"event": "grpc", "port": (\d+)\}', log)
    return (int(rest.group(1)) if rest else None), (int(grpc.group(1)) if grpc else None)


@dataclass
class LiveServer:
    port: int  # REST, on 127.0.0.1
    grpc_address: str | None  # 127.0.0.1:PORT, None without gRPC
    app: object  # the FastAPI app (its state: the predictor, metrics, ...)
    stop: Callable[[], None]

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.grpc_address}"


def start_server(exports, options: ServerOptions | None = None, grpc: bool = True) -> LiveServer:
    """Serve the repository at `exports`; call `.stop()` when done."""
    import uvicorn

    asgi, app = create_app(ModelRepository(exports), options, grpc_port=0 if grpc else None)
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=0, access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        # uvicorn logs a failed start (the app's startup raised, the port is taken) and returns
        assert thread.is_alive(), "the edge server stopped before it started (see the log above)"
        time.sleep(0.02)

    def stop():
        server.should_exit = True
        thread.join(30)

    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(port, f"127.0.0.1:{app.state.grpc_port}" if grpc else None, app, stop)
