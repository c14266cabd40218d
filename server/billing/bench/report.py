"""Turning per-process results into rows, and rows into a table and JSON."""

from __future__ import annotations

import json
import math
import os
import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc

from billing.bench.load import ProcessResult


@dataclass
class Row:
    scenario: str
    db: str  # "-" for the echo baseline
    server_processes: int
    load_processes: int
    concurrency: int  # in-flight calls per load process
    tracing: bool
    seconds: float  # the measured window
    calls: int  # successful calls in the window
    calls_per_s: float  # successful calls per second, summed over load processes
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    errors: int
    error_codes: dict[str, int] = field(default_factory=dict)
    error_messages: dict[str, str] = field(default_factory=dict)
    vs_echo: float | None = None  # calls_per_s / the echo baseline's, same run
    connections_per_server_process: list[int] | None = None
    connect_attempts: int = 1  # load processes started this often for an even spread
    hit_max_calls: bool = False
    failure: str = ""  # set when the scenario could not run at all
    timed: bool = False  # one timed run (calls/s is its own rate), not load: no "vs echo"
    note: str = ""  # printed under the table
    rate_unit: str = "calls"  # what calls/s counts ("events": accepted events/s); no "vs echo"
    skipped: str = ""  # set when the scenario does not apply to this database: why
    accepted_events: int | None = None  # StreamUsage: events the recorded calls had accepted
    offered_per_s: float | None = None  # open loop: the rate calls were sent at (all procs)
    cap_waits: int = 0  # open loop: calls that waited for a slot under the in-flight cap
    # StreamUsage: events/s over the bare COPY + dedupe ceiling's, same run
    vs_ceiling: float | None = None


def percentile(sorted_values: Sequence[int], pct: float) -> int | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(math.ceil(pct / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def _ms(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e6


def summarize(
    results: Sequence[ProcessResult],
    *,
    scenario: str,
    db: str,
    server_processes: int,
    concurrency: int,
    tracing: bool,
    seconds: float,
    offered_per_s: float | None = None,
) -> Row:
    latencies = sorted(v for r in results for v in r.latencies_ns)
    errors: Counter[str] = Counter()
    messages: dict[str, str] = {}
    for r in results:
        errors.update(r.errors)
        for code, message in r.messages.items():
            messages.setdefault(code, message)
    # Processes run side by side over the same window: their rates add up. Open loop: the
    # calls that succeeded inside the window (however late they were due) over its length.
    rate = sum(
        len(r.latencies_ns) / (r.elapsed_ns / 1e9) if r.completed is None else r.completed / seconds
        for r in results
    )
    return Row(
        scenario=scenario,
        db=db,
        server_processes=server_processes,
        load_processes=len(results),
        concurrency=concurrency,
        tracing=tracing,
        seconds=seconds,
        calls=len(latencies),
        calls_per_s=rate,
        p50_ms=_ms(percentile(latencies, 50)),
        p95_ms=_ms(percentile(latencies, 95)),
        p99_ms=_ms(percentile(latencies, 99)),
        errors=sum(errors.values()),
        error_codes=dict(errors),
        error_messages=messages,
        hit_max_calls=any(r.hit_max_calls for r in results),
        offered_per_s=offered_per_s,
        cap_waits=sum(r.cap_waits for r in results),
        accepted_events=(
            sum(r.accepted_events or 0 for r in results)
            if any(r.accepted_events is not None for r in results)
            else None
        ),
    )


def failed_row(
    scenario: str, db: str, server_processes: int, *, load: tuple[int, int], tracing: bool, why: str
) -> Row:
    return Row(
        scenario=scenario,
        db=db,
        server_processes=server_processes,
        load_processes=load[0],
        concurrency=load[1],
        tracing=tracing,
        seconds=0.0,
        calls=0,
        calls_per_s=0.0,
        p50_ms=None,
        p95_ms=None,
        p99_ms=None,
        errors=0,
        failure=why,
    )


def latency_row(
    scenario: str,
    db: str,
    server_processes: int,
    *,
    load: tuple[int, int],
    seconds: float,
    latencies_us: Sequence[int],
    errors: int,
) -> Row:
    """A row from one load generator's latencies of its window (h2load's)."""
    ordered = sorted(us * 1000 for us in latencies_us)  # ns, as summarize's
    row = failed_row(scenario, db, server_processes, load=load, tracing=False, why="")
    row.seconds = seconds
    row.calls = len(ordered)
    row.calls_per_s = len(ordered) / seconds if seconds > 0 else 0.0
    row.p50_ms, row.p95_ms, row.p99_ms = (_ms(percentile(ordered, p)) for p in (50, 95, 99))
    row.errors = errors
    return row


def timed_row(scenario: str, db: str, *, rate: float, seconds: float, calls: int) -> Row:
    """A row for one timed run of this process (no load processes, no latencies)."""
    row = failed_row(scenario, db, 1, load=(1, 1), tracing=False, why="")
    row.timed = True
    row.seconds = seconds
    row.calls = calls
    row.calls_per_s = rate
    return row


def skipped_row(
    scenario: str, db: str, server_processes: int, *, load: tuple[int, int], tracing: bool, why: str
) -> Row:
    row = failed_row(scenario, db, server_processes, load=load, tracing=tracing, why="")
    row.skipped = why
    return row


def apply_baseline(rows: Sequence[Row], echo_scenario: str) -> None:
    baseline = next((r.calls_per_s for r in rows if r.scenario == echo_scenario), 0.0)
    for row in rows:
        compared = (
            baseline > 0
            and not row.failure
            and not row.skipped
            and not row.timed
            and row.rate_unit == "calls"
        )
        row.vs_echo = row.calls_per_s / baseline if compared else None


def apply_ceiling(rows: Sequence[Row], scenario: str, ceiling_scenario: str) -> None:
    """Each `scenario` row's events/s over the ceiling row's of its database."""
    for row in rows:
        if row.scenario != scenario or row.failure or row.skipped:
            continue
        ceiling = next(
            (
                r.calls_per_s
                for r in rows
                if r.scenario == ceiling_scenario and r.db == row.db and not r.failure
            ),
            0.0,
        )
        row.vs_ceiling = row.calls_per_s / ceiling if ceiling > 0 else None


def machine() -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "cores": os.cpu_count(),
        "cores_available": len(affinity) if affinity is not None else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "grpcio": str(grpc.__version__),
    }


HEADERS = (
    "scenario",
    "db",
    "server procs",
    "load procs x conc",
    "tracing",
    "offered/s",
    "calls/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "vs base",
)


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cells(row: Row) -> list[str]:
    common = [
        row.scenario,
        row.db,
        str(row.server_processes),
        f"{row.load_processes} x {'≤' if row.offered_per_s is not None else ''}{row.concurrency}",
        "on" if row.tracing else "off",
    ]
    if row.failure:
        return [*common, "-", "FAILED", "-", "-", "-", "-", "-"]
    if row.skipped:
        return [*common, "-", "skipped", "-", "-", "-", "-", "-"]
    base = row.vs_echo if row.vs_echo is not None else row.vs_ceiling
    return [
        *common,
        "-" if row.offered_per_s is None else f"{row.offered_per_s:,.0f}",
        f"{row.calls_per_s:,.0f}",
        _fmt_ms(row.p50_ms),
        _fmt_ms(row.p95_ms),
        _fmt_ms(row.p99_ms),
        str(row.errors),
        "-" if base is None else f"{base:.2f}",
    ]


def format_table(rows: Sequence[Row]) -> str:
    table = [list(HEADERS), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    numeric = set(range(5, len(HEADERS)))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(table[0]), "  ".join("-" * w for w in widths)]
    out += [line(cells) for cells in table[1:]]
    return "\n".join(out)


def format_notes(rows: Sequence[Row]) -> str:
    notes: list[str] = []
    for row in rows:
        label = f"{row.scenario}/{row.db}"
        if row.failure:
            notes.append(f"{label}: FAILED: {row.failure}")
        if row.skipped:
            notes.append(f"{label}: skipped: {row.skipped}")
        if row.note:
            notes.append(f"{label}: {row.note}")
        for code, count in sorted(row.error_codes.items()):
            message = row.error_messages.get(code, "")
            notes.append(f"{label}: {count} x {code}: {message}")
        if row.connections_per_server_process is not None and row.server_processes > 1:
            split = " + ".join(str(n) for n in row.connections_per_server_process)
            tries = f" (after {row.connect_attempts} tries)" if row.connect_attempts > 1 else ""
            notes.append(f"{label}: load connections per server process: {split}{tries}")
        if row.offered_per_s is not None:
            notes.append(
                f"{label}: open loop: {row.offered_per_s:,.1f} calls/s offered,"
                f" {row.calls_per_s:,.1f} achieved; latency from each call's scheduled send"
                f" time; at most {row.concurrency} in flight per load process"
                + (
                    f" (reached: {row.cap_waits} calls waited for a slot)"
                    if row.cap_waits
                    else " (never reached)"
                )
            )
        if row.vs_ceiling is not None:
            notes.append(
                f"{label}: {row.vs_ceiling:.0%} of the bare COPY + dedupe ceiling of this run"
            )
        if row.hit_max_calls:
            notes.append(f"{label}: stopped at --max-calls before the window ended")
    return "\n".join(notes)


def write_json(
    path: Path, rows: Sequence[Row], settings: dict[str, Any], info: dict[str, Any]
) -> None:
    document = {"machine": info, "settings": settings, "results": [asdict(r) for r in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n")
