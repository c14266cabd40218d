"""`GET /metrics` on the server's own event loop: a minimal HTTP/1.x responder, so reading
the database backlog before a scrape is a plain await (no thread, no second loop). One
request per connection; anything else than GET /metrics is answered 404 or 405."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("billing.metrics")

HEAD_BYTES_MAX = 8192  # a scraper's request line and headers are a few hundred bytes
READ_TIMEOUT_S = 5.0  # a client that does not finish its request in this long is dropped


def split_host_port(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{listen!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsEndpoint:
    def __init__(self, render: Callable[[], Awaitable[tuple[bytes, str]]]) -> None:
        self._render = render
        self._server: asyncio.Server | None = None

    async def start(self, listen: str) -> int:
        host, port = split_host_port(listen)
        self._server = await asyncio.start_server(self._handle, host, port, limit=HEAD_BYTES_MAX)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            status, body, content_type = await self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, body, content_type = "400 Bad Request", b"bad request\n", "text/plain"
        except Exception:
            log.exception("rendering metrics failed")
            status, body, content_type = "500 Internal Server Error", b"error\n", "text/plain"
        try:
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> tuple[str, bytes, str]:
        if len(head) > HEAD_BYTES_MAX:
            return "431 Request Header Fields Too Large", b"too large\n", "text/plain"
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        if path != "/metrics":
            return "404 Not Found", b"only /metrics here\n", "text/plain"
        if method not in {"GET", "HEAD"}:
            return "405 Method Not Allowed", b"GET /metrics\n", "text/plain"
        body, content_type = await self._render()
        return "200 OK", b"" if method == "HEAD" else body, content_type
