"""A year of bill runs for 100 subscriptions on PostgreSQL, shared by two server processes
with no leader, one of them SIGKILLed in the middle and restarted: every cycle invoiced
exactly once, numbers without gap or duplicate within each year."""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections import Counter
from contextlib import ExitStack

import grpc
import pytest
import sqlalchemy as sa

from billing_client.v1 import clocks_pb2
from billing_fixtures import Billing, rules, ts
from conftest import Database, Tenant, auth, make_token
from test_process_lifecycle import server_process

pytestmark = pytest.mark.slow
SUBSCRIPTIONS = 100


def test_two_workers_one_killed_every_cycle_invoiced_once(make_database, tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_DUE_WORK_LEASE_SECONDS", "3")  # a killed worker's items return fast
    database: Database = make_database("postgresql")
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    tenant = Tenant(tenant_id, auth(make_token(tenant_id)))
    with ExitStack() as stack:
        _a, port_a = stack.enter_context(server_process(database, tmp_path))
        proc_b, _port_b = stack.enter_context(server_process(database, tmp_path))
        channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{port_a}"))
        billing = Billing(channel, tenant.metadata)
        billing.push(rules())
        clock = billing.clock("2026-01-01T00:00:00Z")
        for _ in range(SUBSCRIPTIONS):
            billing.subscribe(billing.customer(clock), "basic_monthly")
        stream = billing.clocks.AdvanceClock(
            clocks_pb2.AdvanceClockRequest(
                name=clock.name, to=ts("2027-01-01T00:00:00Z"), request_id="year-run"
            ),
            metadata=tenant.metadata,
            timeout=300,
        )
        killed = False
        last = None
        for progress in stream:
            last = progress
            if not killed and 0 < progress.done < 12 * SUBSCRIPTIONS and not progress.finished:
                os.kill(proc_b.pid, signal.SIGKILL)  # mid-run, leases and a transaction open
                proc_b.wait(timeout=10)
                killed = True
                stack.enter_context(server_process(database, tmp_path))  # and back
        assert killed
        assert last is not None and last.finished
        # every renewal, and every invoice's month recognized at its end
        assert (last.done, last.remaining) == (2 * 12 * SUBSCRIPTIONS, 0)
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT number, subscription_id, period_start FROM invoices WHERE tenant_id = :t"
                ),
                {"t": tenant_id},
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 13 * SUBSCRIPTIONS
    cycles = Counter((r.subscription_id, r.period_start) for r in rows)
    assert set(cycles.values()) == {1}  # no cycle invoiced twice
    by_year: dict[str, list[int]] = {}
    for r in rows:
        year, seq = re.fullmatch(r"INV-(\d{4})-(\d{6})", r.number).groups()  # type: ignore[union-attr]
        by_year.setdefault(year, []).append(int(seq))
    assert sorted(by_year) == ["2026", "2027"]
    assert sorted(by_year["2026"]) == list(range(1, 12 * SUBSCRIPTIONS + 1))
    assert sorted(by_year["2027"]) == list(range(1, SUBSCRIPTIONS + 1))
