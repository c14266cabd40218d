"""A local VIES: answers checkVat from the recordings in tests/recordings/vies/, over real HTTP
on a loopback port (a thread per connection), and keeps what it was asked."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDINGS = Path(__file__).parent / "recordings" / "vies"
DELAY_HEADER = "x-recording-delay-seconds"
_COUNTRY = re.compile(rb"<urn:countryCode>([^<]*)</urn:countryCode>")
_NUMBER = re.compile(rb"<urn:vatNumber>([^<]*)</urn:vatNumber>")


@dataclass(frozen=True)
class Recording:
    case: str
    request: bytes
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delay_s: float


def load_recordings() -> dict[str, Recording]:
    """Recordings by the number they answer for (`IE6388047V`)."""
    found = {}
    for request_file in sorted(RECORDINGS.glob("*.request.xml")):
        case = request_file.name.removesuffix(".request.xml")
        request = request_file.read_bytes()
        raw = (RECORDINGS / f"{case}.response.http").read_bytes()
        head, body = raw.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        _, status, reason = status_line.split(" ", 2)
        headers = tuple(
            (name.strip(), value.strip())
            for name, value in (line.split(":", 1) for line in header_lines)
        )
        delay = sum(float(v) for n, v in headers if n.lower() == DELAY_HEADER)
        sent = tuple((n, v) for n, v in headers if n.lower() != DELAY_HEADER)
        country = _COUNTRY.search(request)
        number = _NUMBER.search(request)
        assert country and number, request_file
        key = (country.group(1) + number.group(1)).decode()
        found[key] = Recording(case, request, int(status), reason, sent, body, delay)
    return found


@dataclass
class RecordedVies:
    recordings: dict[str, Recording]
    asked: list[str] = field(default_factory=list)  # the numbers asked, in order
    mismatches: list[bytes] = field(default_factory=list)  # requests unlike any recording
    port: int = 0
    # Answers wait while the gate is shut, so a test can look at a check still pending.
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxation_customs/vies/services/checkVatService"

    def count(self, number: str) -> int:
        return self.asked.count(number)


class _Handler(BaseHTTPRequestHandler):
    vies: RecordedVies

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        country, number = _COUNTRY.search(body), _NUMBER.search(body)
        key = (country.group(1) + number.group(1)).decode() if country and number else ""
        self.vies.asked.append(key)
        recording = self.vies.recordings.get(key)
        if recording is None or recording.request != body:
            self.vies.mismatches.append(body)
            self.send_response(400)
            self.end_headers()
            return
        self.vies.gate.wait(timeout=30)
        if recording.delay_s:
            time.sleep(recording.delay_s)
        self.send_response(recording.status, recording.reason)
        for name, value in recording.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(recording.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(recording.body)  # the client may have given up (the timeout case)

    def log_message(self, format: str, *args: object) -> None:
        pass


class ViesServer:
    """Started on enter, stopped on exit."""

    def __init__(self) -> None:
        self.vies = RecordedVies(load_recordings())
        handler = type("Handler", (_Handler,), {"vies": self.vies})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.vies.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> RecordedVies:
        self._thread.start()
        return self.vies

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
