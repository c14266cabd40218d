"""A local Adyen Checkout API: answers from the recordings in tests/recordings/adyen/ over real
HTTP on a loopback port (a thread per connection), keeps every request it was sent, and
behaves like Adyen's idempotency store: the first processed answer for an Idempotency-Key is
kept and answered again, unprocessed, to any later request with that key (README there)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings" / "adyen"
API_KEY = "AQE_test_api_key_for_recordings"
MERCHANT_ACCOUNT = "BillingCoreTestECOM"
# Adyen HMAC keys are hex; this one signs the recorded webhooks.
HMAC_KEY = "6B1D3F9A2C4E8B7D0A5F1E3C9B2D4A6F8E0C1B3D5F7A9E2C4B6D8F0A1C3E5B70"
_CONTROL = {"x-recording-delay-seconds", "x-recording-drop", "x-recording-transient"}


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delay_s: float = 0.0
    drop: bool = False  # read the request, process it, close without answering
    transient: bool = False  # Adyen keeps no idempotent result for it (a 5xx)


@dataclass(frozen=True)
class Recording:
    case: str
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any
    answers: tuple[Answer, ...]  # the n-th processing of the request gets the n-th (or last)

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]


def _answer(raw: bytes) -> Answer:
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode().split("\r\n")
    _, status, reason = status_line.split(" ", 2)
    headers = [
        (name.strip(), value.strip())
        for name, value in (line.split(":", 1) for line in header_lines)
    ]
    control = {n.lower(): v for n, v in headers if n.lower() in _CONTROL}
    return Answer(
        int(status),
        reason,
        tuple((n, v) for n, v in headers if n.lower() not in _CONTROL),
        body,
        float(control.get("x-recording-delay-seconds", "0")),
        control.get("x-recording-drop", "") == "true",
        control.get("x-recording-transient", "") == "true",
    )


def load_recordings() -> dict[str, Recording]:
    """Recordings by case name."""
    found = {}
    for request_file in sorted(RECORDINGS.glob("*.request.json")):
        case = request_file.name.removesuffix(".request.json")
        spec = json.loads(request_file.read_text())
        answers = [_answer((RECORDINGS / f"{case}.response.http").read_bytes())]
        n = 2
        while (RECORDINGS / f"{case}.response.{n}.http").exists():
            answers.append(_answer((RECORDINGS / f"{case}.response.{n}.http").read_bytes()))
            n += 1
        found[case] = Recording(
            case,
            spec["method"],
            spec["path"],
            {k.lower(): v for k, v in spec["headers"].items()},
            spec["body"],
            tuple(answers),
        )
    return found


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class RecordedAdyen:
    recordings: dict[str, Recording]
    received: list[Received] = field(default_factory=list)
    mismatches: list[Received] = field(default_factory=list)
    processed: dict[str, int] = field(default_factory=dict)  # by key: times really performed
    replayed: dict[str, int] = field(default_factory=dict)  # by key: answered from the store
    stored: dict[str, Answer] = field(default_factory=dict)  # the idempotency store
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v72"

    def find(self, method: str, path: str, key: str) -> Recording | None:
        return next(
            (
                r
                for r in self.recordings.values()
                if (r.method, r.path, r.key) == (method, path, key)
            ),
            None,
        )

    def answer_for(self, received: Received) -> Answer | None:
        key = received.headers.get("idempotency-key", "")
        recording = self.find(received.method, received.path, key)
        if recording is None or recording.body != received.body:
            self.mismatches.append(received)
            return None
        with self.lock:
            if key in self.stored:
                self.replayed[key] = self.replayed.get(key, 0) + 1
                return self.stored[key]
            n = self.processed.get(key, 0)
            self.processed[key] = n + 1
            answer = recording.answers[min(n, len(recording.answers) - 1)]
            if not answer.transient:
                # Kept as Adyen keeps it: the answer, without the recording's delay or drop.
                self.stored[key] = dataclasses.replace(answer, delay_s=0.0, drop=False)
            return answer


class _Handler(BaseHTTPRequestHandler):
    adyen: RecordedAdyen

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        received = Received(
            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        self.adyen.received.append(received)
        answer = self.adyen.answer_for(received)
        if answer is None:
            self._send(Answer(400, "Bad Request", (), b'{"status":400,"errorCode":"mismatch"}'))
            return
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status, answer.reason)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(answer.body)  # the client may have given up (timeout case)

    def log_message(self, format: str, *args: object) -> None:
        pass


class AdyenServer:
    """Started on enter, stopped on exit."""

    def __init__(self) -> None:
        self.adyen = RecordedAdyen(load_recordings())
        handler = type("Handler", (_Handler,), {"adyen": self.adyen})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.adyen.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> RecordedAdyen:
        self._thread.start()
        return self.adyen

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
