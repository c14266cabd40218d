"""The baseline: a bare grpc.aio server that returns each request's bytes unchanged.

No interceptors, no (de)serialization, no database: what is left is the cost of gRPC
itself in one Python process, which is the ceiling the billing server is compared with. It
runs on the event loop the billing server runs on by default (uvloop, ADR 0077), so the
comparison is of the same machinery.

    python -m billing.bench.echo --ready-file F [--listen 127.0.0.1:0] [--loop uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

import grpc

from billing import event_loop

SERVICE = "billing.bench.Echo"
METHOD = "Echo"
PATH = f"/{SERVICE}/{METHOD}"


async def _echo(request: bytes, _context: Any) -> bytes:
    return request


def build_server() -> grpc.aio.Server:
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handler,))
    return server


def write_ready_file(path: str, port: int) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(str(port))
    tmp.replace(path)  # atomic: the harness never reads a partial file


async def serve(listen: str, ready_file: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = build_server()
    port: int = server.add_insecure_port(listen)
    if port == 0:
        raise RuntimeError(f"could not bind {listen}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    write_ready_file(ready_file, port)
    await stop.wait()
    await server.stop(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing.bench.echo")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--loop", choices=event_loop.LOOPS, default=event_loop.DEFAULT_LOOP)
    args = parser.parse_args(argv)
    event_loop.run(serve(args.listen, args.ready_file), args.loop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
