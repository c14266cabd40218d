"""A local HTTP API answering from recorded request/response pairs (any vendor speaking
JSON or form-encoded HTTP), over real HTTP on a loopback port, a thread per connection.
It keeps every request it was sent, so tests assert the wire shape the vendor's SDK wrote.

One recording per file, `tests/recordings/<vendor>/<case>.json`:

    {"request": {"method": "POST", "path": "/v1/refunds",
                 "query": {...},        # exact set of query fields (absent: none)
                 "form": {...},         # exact set of form fields (absent: none)
                 "json": {...},         # or the exact JSON body
                 "headers": {...}},     # these must be present with these values
     "response": {"status": 200, "headers": {...}, "body": {...},
                  "hang_s": 0,          # wait this long before answering (a late reply)
                  "drop": false}}       # close the connection without answering

A field recorded as "*" matches any value, so long as it is sent (a timestamp, say). A
request no recording matches gets a 400 and is kept in `mismatches`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ANY = "*"


@dataclass(frozen=True)
class Recording:
    case: str
    request: dict[str, Any]
    response: dict[str, Any]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    headers: dict[str, str]  # names lower-cased
    case: str  # the recording that answered; "" when none matched

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def load(directory: Path) -> list[Recording]:
    return [
        Recording(path.stem, (data := json.loads(path.read_text()))["request"], data["response"])
        for path in sorted(directory.glob("*.json"))
    ]


def _same(recorded: dict[str, Any] | None, sent: dict[str, str]) -> bool:
    recorded = recorded or {}
    return set(recorded) == set(sent) and all(
        value == ANY or str(value) == sent[name] for name, value in recorded.items()
    )


def matches(recording: Recording, got: Received) -> bool:
    want = recording.request
    headers = {k.lower(): v for k, v in (want.get("headers") or {}).items()}
    return (
        want["method"] == got.method
        and want["path"] == got.path
        and _same(want.get("query"), got.query)
        and _same(want.get("form"), got.form)
        and ("json" not in want or want["json"] == got.json)
        and all(value in (ANY, got.headers.get(name)) for name, value in headers.items())
    )


@dataclass
class RecordedApi:
    recordings: list[Recording]
    received: list[Received] = field(default_factory=list)
    mismatches: list[Received] = field(default_factory=list)
    port: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answered(self, case: str) -> list[Received]:
        """The requests a recording answered, in order."""
        return [r for r in self.received if r.case == case]

    def only(self, case: str) -> Received:
        [got] = self.answered(case)
        return got


class _Handler(BaseHTTPRequestHandler):
    api: RecordedApi
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        url = urlsplit(self.path)
        kind = self.headers.get("Content-Type", "")
        text = raw.decode()
        got = Received(
            self.command,
            url.path,
            dict(parse_qsl(url.query, keep_blank_values=True)),
            dict(parse_qsl(text, keep_blank_values=True)) if "form" in kind else {},
            json.loads(text) if "json" in kind and text else None,
            {k.lower(): v for k, v in self.headers.items()},
            "",
        )
        recording = next((r for r in self.api.recordings if matches(r, got)), None)
        if recording is None:
            self.api.mismatches.append(got)
            self.api.received.append(got)
            self._send(
                400, {}, {"error": {"type": "invalid_request_error", "message": "unrecorded"}}
            )
            return
        self.api.received.append(Received(**{**got.__dict__, "case": recording.case}))
        response = recording.response
        if response.get("drop"):
            # Read, maybe acted on, and the connection dies before the reply.
            self.close_connection = True
            return
        if response.get("hang_s"):
            # The request arrived and is "processed"; the reply is late or never comes.
            self.api.stopping.wait(float(response["hang_s"]))
        self._send(response["status"], response.get("headers") or {}, response.get("body"))

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        payload = json.dumps(body).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)  # the client may have given up (the timeout case)

    def log_message(self, format: str, *args: object) -> None:
        pass


class RecordedServer:
    """Started on enter, stopped on exit (hanging answers are released)."""

    def __init__(self, directory: Path) -> None:
        self.api = RecordedApi(load(directory))
        handler = type("Handler", (_Handler,), {"api": self.api})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.api.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> RecordedApi:
        self._thread.start()
        return self.api

    def __exit__(self, *exc: object) -> None:
        self.api.stopping.set()
        self._http.shutdown()
        self._http.server_close()
