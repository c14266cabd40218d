"""Scrape running servers' /metrics while a bench runs, as Prometheus would (ADR 0061).

    python -m billing.bench.metrics_watch --ports 19464,19465 --every 5 --seconds 120

Every `--every` seconds, each port is scraped and the processes are added up; a line per
interval gives the RED figures of the busiest methods over that interval (calls/s, non-OK
calls/s by code, p95 from the histogram's bucket deltas, the way histogram_quantile reads
them), and the due-work backlog. At the end, the totals between the first and last scrape.
Ports that do not answer (yet) are skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TOP_METHODS = 4
SCRAPE_TIMEOUT_S = 5.0


def scrape_each(ports: list[int]) -> list[Series]:
    """Every series of each process that answered."""
    scraped: list[Series] = []
    for port in ports:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S
            ) as reply:
                text = reply.read().decode()
        except (urllib.error.URLError, OSError):
            continue
        scraped.append(
            {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
        )
    return scraped


def added_up(scraped: list[Series]) -> Series:
    """The sum over processes (each process counts its own calls)."""
    total: Series = defaultdict(float)
    for series in scraped:
        for key, value in series.items():
            total[key] += value
    return dict(total)


def quantile(q: float, buckets: Mapping[float, float]) -> float:
    """histogram_quantile over cumulative bucket counts (upper bound -> count)."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return math.nan
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # as Prometheus: the last finite bound
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def red(before: Series, after: Series, seconds: float) -> dict[str, dict[str, object]]:
    """Per method: calls/s, non-OK calls/s by code, and p95 seconds, between two scrapes."""
    calls: dict[str, float] = defaultdict(float)
    errors: dict[str, dict[str, float]] = defaultdict(dict)
    buckets: dict[str, dict[float, float]] = defaultdict(dict)
    for (name, labels), value in after.items():
        moved = value - before.get((name, labels), 0.0)
        label = dict(labels)
        if name == "billing_rpc_handled_total" and moved:
            calls[label["method"]] += moved
            if label["code"] != "OK":
                errors[label["method"]][label["code"]] = moved / seconds
        elif name == "billing_rpc_duration_seconds_bucket":
            buckets[label["method"]][float(label["le"])] = moved
    return {
        method: {
            "calls": round(count),
            "calls_per_s": round(count / seconds, 1),
            "errors_per_s": errors.get(method, {}),
            "p95_ms": round(quantile(0.95, buckets[method]) * 1000, 2),
        }
        for method, count in sorted(calls.items(), key=lambda kv: -kv[1])
    }


def backlog(scraped: list[Series]) -> dict[str, float]:
    """Due items by kind. Every process reports the same database: the largest reading."""
    due: dict[str, float] = {}
    for series in scraped:
        for (name, labels), value in series.items():
            if name == "billing_due_work_due_items":
                kind = dict(labels)["kind"]
                due[kind] = max(due.get(kind, 0.0), value)
    return due


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing.bench.metrics_watch")
    parser.add_argument("--ports", required=True, help="metrics ports, comma-separated")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between scrapes")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to watch")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    started = last = time.monotonic()
    first: tuple[float, Series] | None = None  # the first scrape any process answered
    previous: Series = {}
    while time.monotonic() - started < args.seconds:
        time.sleep(args.every)
        now, each = time.monotonic(), scrape_each(ports)
        if not each:
            continue  # not serving yet, or stopped: the next answer is measured from the last
        current = added_up(each)
        if first is None:
            first = (now, current)
        methods = red(previous, current, now - last)
        busiest = dict(list(methods.items())[:TOP_METHODS])
        line = {"t": round(now - started, 1), "methods": busiest, "due": backlog(each)}
        print(json.dumps(line), flush=True)
        previous, last = current, now
    if first is not None:
        totals = red(first[1], previous, last - first[0])
        print(json.dumps({"totals": totals, "seconds": round(last - first[0], 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
