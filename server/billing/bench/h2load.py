"""Unary load from `h2load` (nghttp2's HTTP/2 load generator, in C) instead of Python processes.

On this two-core machine the Python load processes of a read scenario take about as much CPU
as the server (four of them at ~0.5 core each under GetCustomer), so the figure they give is
the machine's CPU split between client and server, not the server's capacity. `h2load` sends
the same prepared request over a few HTTP/2 connections for a fraction of that CPU. It sends
one body for every call, so it fits reads (GetCustomer of one customer) and the echo, not
writes, whose request ids must differ.

h2load sees HTTP statuses, not gRPC's (a failed call is HTTP 200 with `grpc-status` in its
trailers), so the billing server's own count of the calls it answered, by status code, is read
from its metrics endpoints (ADR 0061) before and after the run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

H2LOAD = "h2load"
INSTALL_HINT = "h2load is not installed (Debian: apt-get install nghttp2-client)"
THREADS = 1  # one h2load thread drives the connections: the server keeps the other core
_FINISHED = re.compile(r"^finished in ([\d.]+)(m?s), ([\d.]+) req/s", re.MULTILINE)
_REQUESTS = re.compile(
    r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed,"
    r" (\d+) errored, (\d+) timeout",
    re.MULTILINE,
)
_HANDLED = re.compile(r"^billing_rpc_handled_total\{([^}]*)\} (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class H2LoadError(Exception):
    """h2load is missing, failed, or printed what we cannot read."""


@dataclass(frozen=True)
class H2LoadResult:
    seconds: float  # the measured window (warm-up excluded)
    failed: int  # failed, errored or timed out as h2load counts them, or not HTTP 2xx
    latencies_us: list[int]  # of the window's 2xx requests, from h2load's log


def grpc_frame(message: bytes) -> bytes:
    """A gRPC message on the wire: uncompressed flag, big-endian length, the bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def available() -> bool:
    return shutil.which(H2LOAD) is not None


def command(
    url: str,
    body_file: Path,
    log_file: Path,
    metadata: Sequence[tuple[str, str]],
    *,
    connections: int,
    streams: int,
    warmup_s: float,
    seconds: float,
) -> list[str]:
    headers = [("content-type", "application/grpc"), ("te", "trailers"), *metadata]
    argv = [
        H2LOAD,
        f"--clients={connections}",
        f"--max-concurrent-streams={streams}",
        f"--threads={THREADS}",
        f"--warm-up-time={warmup_s:g}",
        f"--duration={seconds:g}",
        f"--data={body_file}",
        f"--log-file={log_file}",
    ]
    for name, value in headers:
        argv.append(f"--header={name}: {value}")
    return [*argv, url]


def parse_summary(text: str) -> tuple[float, int, int, int]:
    """(window seconds, done, succeeded, failed + errored + timed out) from h2load's output."""
    finished, requests = _FINISHED.search(text), _REQUESTS.search(text)
    if finished is None or requests is None:
        raise H2LoadError(f"unreadable h2load output:\n{text[-2000:]}")
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    _total, done, succeeded, failed, errored, timeout = (int(g) for g in requests.groups())
    return seconds, done, succeeded, failed + errored + timeout


def parse_log(lines: Sequence[str]) -> tuple[list[int], int]:
    """(latencies in µs of the 2xx requests, requests with another status) from h2load's
    --log-file: start time (µs since the epoch), HTTP status, µs to the response's end."""
    latencies: list[int] = []
    other = 0
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        if fields[1].startswith("2"):
            latencies.append(int(fields[2]))
        else:
            other += 1
    return latencies, other


def run(
    target: str,
    path: str,
    message: bytes,
    metadata: Sequence[tuple[str, str]],
    *,
    connections: int,
    streams: int,
    warmup_s: float,
    seconds: float,
    during: Callable[[], None] | None = None,
) -> H2LoadResult:
    """Send `message` to `path` on `target` (host:port, cleartext HTTP/2) for `seconds` after
    `warmup_s`, `connections` x `streams` in flight; `during()` runs once the connections are
    up (to see how they spread over the server's processes)."""
    if not available():
        raise H2LoadError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="billing-h2load-") as work:
        body_file, log_file = Path(work, "body"), Path(work, "log")
        body_file.write_bytes(grpc_frame(message))
        argv = command(
            f"http://{target}{path}",
            body_file,
            log_file,
            metadata,
            connections=connections,
            streams=streams,
            warmup_s=warmup_s,
            seconds=seconds,
        )
        with subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            if during is not None:
                time.sleep(min(1.0, warmup_s + seconds / 2))
                during()
            try:
                out, err = process.communicate(timeout=warmup_s + seconds + 60)
            except subprocess.TimeoutExpired as late:
                process.kill()
                raise H2LoadError("h2load did not finish within a minute of its end") from late
        if process.returncode != 0:
            raise H2LoadError(f"h2load exited with {process.returncode}: {err[-2000:]}")
        window, _done, _succeeded, failed = parse_summary(out)
        latencies, other = parse_log(log_file.read_text().splitlines())
    return H2LoadResult(window, failed + other, latencies)


def handled_codes(metrics_ports: Sequence[int], method: str, host: str) -> Counter[str]:
    """The calls of `method` (e.g. "billing.v1.CustomerService/GetCustomer") the server's
    processes answered so far, by gRPC status code, summed over their metrics endpoints."""
    codes: Counter[str] = Counter()
    for port in metrics_ports:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        codes += handled_in(text, method)
    return codes


def handled_in(metrics_text: str, method: str) -> Counter[str]:
    codes: Counter[str] = Counter()
    for line in metrics_text.splitlines():
        found = _HANDLED.match(line)
        if found is None:
            continue
        labels = dict(_LABEL.findall(found.group(1)))
        if labels.get("method") == method and "code" in labels:
            codes[labels["code"]] += int(float(found.group(2)))
    return codes
