"""EventService.WatchEvents (ADR 0059) over a real gRPC channel, on SQLite and PostgreSQL:
streams cut and resumed from their last cursor while concurrent callers keep writing miss
nothing and repeat nothing; a late-committing transaction is never skipped; filters,
checkpoints, the retention floor, the per-tenant stream cap and bad cursors."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from billing.app.context import CallContext
from billing.app.event_stream import (
    EventStream,
    Position,
    StreamLimits,
    StreamPage,
    StreamSlots,
    WatchRequest,
    format_cursor,
    parse_cursor,
)
from billing.domain.errors import CursorExpired, InvalidArgument, TooManyStreams
from billing.store.event_stream import SqlEventStream
from billing.store.schema import outbox_events
from billing_client.v1 import customers_pb2 as cpb
from billing_client.v1 import customers_pb2_grpc, event_stream_pb2_grpc
from billing_client.v1 import event_stream_pb2 as pb
from conftest import Database, Tenant, ThreadedServer, server_settings
from grpc_helpers import error_info, field_violations

POLL_MS = 20
BATCH = 10  # small: pages end mid-burst, so paging is exercised too
STREAMS_PER_TENANT = 3


class Stream:
    """One server with a fast poll, and its database."""

    def __init__(self, database: Database, port: int) -> None:
        self.database = database
        self.target = f"127.0.0.1:{port}"
        self.sync = sa.create_engine(database.sync_url)


@pytest.fixture(scope="module")
def stream(backend: str, make_database: Callable[[str], Database]) -> Iterator[Stream]:
    database = make_database(backend)
    running = ThreadedServer(
        server_settings(
            database.async_url,
            event_stream_poll_ms=POLL_MS,
            event_stream_batch_events=BATCH,
            event_streams_per_tenant=STREAMS_PER_TENANT,
        )
    )
    made = Stream(database, running.port)
    yield made
    made.sync.dispose()
    running.stop()


def watcher(channel: grpc.Channel) -> event_stream_pb2_grpc.EventServiceStub:
    return event_stream_pb2_grpc.EventServiceStub(channel)


def insert_event(conn: sa.Connection, tenant_id: str, event_type: str, resource: str) -> str:
    event_id = f"evt_{uuid.uuid4().hex[:26]}"
    conn.execute(
        outbox_events.insert().values(
            tenant_id=tenant_id,
            id=event_id,
            event_type=event_type,
            resource_name=resource,
            payload={"n": 1},
            occurred_at=datetime.now(UTC),
        )
    )
    return event_id


def stored_ids(stream: Stream, tenant_id: str) -> list[str]:
    """The tenant's events in stream order, read from the table."""
    with stream.sync.connect() as conn:
        rows = conn.execute(
            sa.select(outbox_events.c.id)
            .where(outbox_events.c.tenant_id == tenant_id)
            .order_by(outbox_events.c.stream_xid, outbox_events.c.stream_seq)
        )
        return [row[0] for row in rows]


def catch_up(
    stub: event_stream_pb2_grpc.EventServiceStub, tenant: Tenant, cursor: str = "", **kw: object
) -> tuple[list[pb.WatchEventsResponse], str]:
    answers = list(
        stub.WatchEvents(
            pb.WatchEventsRequest(cursor=cursor, stop_when_caught_up=True, **kw),  # type: ignore[arg-type]
            metadata=tenant.metadata,
            timeout=20,
        )
    )
    return answers, answers[-1].cursor if answers else cursor


def events_of(answers: list[pb.WatchEventsResponse]) -> list[str]:
    return [a.event.id for a in answers if a.HasField("event")]


def cursor_key(cursor: str) -> tuple[int, int]:
    _, xid, seq = cursor.split(".")
    return int(xid), int(seq)


RPC_WRITERS, PER_WRITER, DIRECT_WRITERS, PER_DIRECT = 4, 30, 2, 80


class Writers:
    """Concurrent callers: CreateCustomer over gRPC (each writes `customer.created`), and
    direct transactions held open a random while after their insert: on PostgreSQL their
    rows take an identity early and commit late, behind later rows: the case that skips."""

    def __init__(self, stream: Stream, tenant: Tenant) -> None:
        self.stream, self.tenant = stream, tenant
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._rpc, args=(n,)) for n in range(RPC_WRITERS)]
        self.threads += [
            threading.Thread(target=self._direct, args=(n,)) for n in range(DIRECT_WRITERS)
        ]
        for thread in self.threads:
            thread.start()

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _rpc(self, n: int) -> None:
        try:
            with grpc.insecure_channel(self.stream.target) as channel:
                customers = customers_pb2_grpc.CustomerServiceStub(channel)
                for i in range(PER_WRITER):
                    customers.CreateCustomer(
                        cpb.CreateCustomerRequest(
                            customer=cpb.Customer(display_name=f"w{n}-{i}", currency_code="EUR"),
                            request_id=f"w{n}-{i}-{uuid.uuid4().hex[:8]}",
                        ),
                        metadata=self.tenant.with_faults(delay_ms=random.randint(0, 5)),
                        timeout=20,
                    )
        except BaseException as exc:  # surfaced by the test's assertion
            self.errors.append(exc)

    def _direct(self, n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(PER_DIRECT):
                with self.stream.sync.begin() as conn:
                    insert_event(conn, self.tenant.id, "test.direct", f"things/{n}-{i}")
                    time.sleep(rng.uniform(0, 0.02))
        except BaseException as exc:
            self.errors.append(exc)


class Watcher:
    """Reads a few events at a time, cutting the stream after each few (cancelling the call,
    or closing the whole channel every third time) and resuming from the last cursor."""

    def __init__(self, stream: Stream, tenant: Tenant) -> None:
        self.stream, self.tenant = stream, tenant
        self.delivered: list[str] = []
        self.cursors: list[str] = []
        self.cuts = 0
        self.channel = grpc.insecure_channel(stream.target)
        self._rng = random.Random(11)

    @property
    def cursor(self) -> str:
        return self.cursors[-1] if self.cursors else ""

    def read_then_cut(self) -> None:
        # A short deadline: the call ends OK before it when no more events come.
        call = watcher(self.channel).WatchEvents(
            pb.WatchEventsRequest(cursor=self.cursor), metadata=self.tenant.metadata, timeout=3
        )
        take = self._rng.randint(1, 25)
        try:
            for answer in call:
                self.cursors.append(answer.cursor)
                if answer.HasField("event"):
                    self.delivered.append(answer.event.id)
                    take -= 1
                if take == 0:
                    break
        except grpc.RpcError as error:
            # A loaded machine may miss the deadline's margin: a cut too. A stream just cut
            # may hold its slot until the server sees the cancel: retry, as a client would.
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                assert error_info(error).reason == "TOO_MANY_EVENT_STREAMS"
                time.sleep(0.05)
            else:
                assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
        finally:
            self.cuts += 1
            if self.cuts % 3 == 0:
                self.channel.close()
                self.channel = grpc.insecure_channel(self.stream.target)
            else:
                call.cancel()

    def read_to(self, count: int) -> None:
        """Catch up until `count` events came (the settled mark may trail the last commit)."""
        deadline = time.monotonic() + 30
        while len(self.delivered) < count and time.monotonic() < deadline:
            try:
                answers, _ = catch_up(watcher(self.channel), self.tenant, self.cursor)
            except grpc.RpcError as error:  # the last cut streams' slots, not yet freed
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
                time.sleep(0.05)
                continue
            self.delivered += events_of(answers)
            self.cursors += [a.cursor for a in answers]


def test_a_stream_cut_and_resumed_misses_nothing_and_repeats_nothing(
    stream: Stream, tenant: Tenant
) -> None:
    writers = Writers(stream, tenant)
    reader = Watcher(stream, tenant)
    try:
        # PostgreSQL's settled mark is cluster-wide: another database's long write transaction
        # (a shared test server) can hold delivery back, so cut a few more times if need be.
        while writers.alive() or reader.cuts < 5:
            reader.read_then_cut()
        writers.join()
        assert writers.errors == []
        expected = stored_ids(stream, tenant.id)
        assert len(expected) == RPC_WRITERS * PER_WRITER + DIRECT_WRITERS * PER_DIRECT
        reader.read_to(len(expected))
    finally:
        reader.channel.close()
    assert len(reader.delivered) == len(set(reader.delivered))  # nothing twice
    assert reader.delivered == expected  # nothing missing, in stream order
    keys = [cursor_key(c) for c in reader.cursors]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_an_event_committed_late_is_delivered_before_later_ones_not_skipped(
    stream: Stream, tenant: Tenant
) -> None:
    if stream.database.backend != "postgresql":
        pytest.skip("SQLite has one writer: a transaction cannot commit behind a later one")
    with grpc.insecure_channel(stream.target) as channel:
        stub = watcher(channel)
        early = stream.sync.connect()
        try:
            tx = early.begin()
            late_id = insert_event(early, tenant.id, "test.late", "things/late")  # first xid
            with stream.sync.begin() as conn:
                quick_id = insert_event(conn, tenant.id, "test.quick", "things/quick")
            # The quick one is committed, but an older transaction may still write before it.
            answers, cursor = catch_up(stub, tenant)
            assert [a.event.id for a in answers if a.HasField("event")] == []
            tx.commit()
        finally:
            early.close()
        deadline = time.monotonic() + 30  # the settled mark can trail (ADR 0059)
        got: list[str] = []
        while len(got) < 2 and time.monotonic() < deadline:
            answers, cursor = catch_up(stub, tenant, cursor)
            got += [a.event.id for a in answers if a.HasField("event")]
        assert got == [late_id, quick_id]


def test_filters_and_checkpoints(stream: Stream, tenant: Tenant) -> None:
    with stream.sync.begin() as conn:
        ids = [
            insert_event(conn, tenant.id, kind, resource)
            for kind, resource in [
                ("invoice.finalized", "invoices/a"),
                ("invoice.paid", "invoices/a"),
                ("invoice.finalized", "invoices/b"),
                ("customer.created", "customers/c"),
            ]
        ]
    with grpc.insecure_channel(stream.target) as channel:
        stub = watcher(channel)
        deadline = time.monotonic() + 30  # the settled mark can trail (ADR 0059)
        while True:
            answers, everything = catch_up(stub, tenant)
            if len(events_of(answers)) >= 4 or time.monotonic() > deadline:
                break
        assert [a.event.id for a in answers if a.HasField("event")] == ids
        answers, cursor = catch_up(stub, tenant, event_types=["invoice.finalized"])
        events = [a.event for a in answers if a.HasField("event")]
        assert [e.id for e in events] == [ids[0], ids[2]]
        assert [(e.type, e.resource, e.data_json) for e in events] == [
            ("invoice.finalized", "invoices/a", '{"n":1}'),
            ("invoice.finalized", "invoices/b", '{"n":1}'),
        ]
        # The last event matched was not the last one read: a checkpoint ends the read.
        assert not answers[-1].HasField("event")
        assert cursor_key(answers[-1].cursor) >= cursor_key(everything)
        answers, _ = catch_up(stub, tenant, resource="invoices/a")
        assert [a.event.id for a in answers if a.HasField("event")] == ids[:2]
        answers, _ = catch_up(
            stub, tenant, event_types=["invoice.paid", "customer.created"], resource="customers/c"
        )
        assert [a.event.id for a in answers if a.HasField("event")] == [ids[3]]
        # From the checkpoint: nothing again; then only what is new.
        answers, _ = catch_up(stub, tenant, cursor, event_types=["invoice.finalized"])
        assert [a for a in answers if a.HasField("event")] == []
        with stream.sync.begin() as conn:
            new_id = insert_event(conn, tenant.id, "invoice.finalized", "invoices/d")
        got: list[str] = []
        while not got and time.monotonic() < deadline + 10:
            answers, cursor = catch_up(stub, tenant, cursor, event_types=["invoice.finalized"])
            got = [a.event.id for a in answers if a.HasField("event")]
        assert got == [new_id]
        # start_at_end: only what comes after the call started.
        answers, _ = catch_up(stub, tenant, start_at_end=True)
        assert [a for a in answers if a.HasField("event")] == []


def prune_expired(stream: Stream, now: datetime) -> int:
    """What the server's purge loop runs, with a retention of one day."""

    async def run() -> int:
        engine = create_async_engine(stream.database.async_url)
        try:
            limits = StreamLimits(0.02, BATCH, STREAMS_PER_TENANT, timedelta(days=1))
            return await EventStream(SqlEventStream(engine), limits).prune_expired(now)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_cursor_older_than_the_retention_is_out_of_range(stream: Stream, tenant: Tenant) -> None:
    with stream.sync.begin() as conn:
        old = [insert_event(conn, tenant.id, "test.old", f"things/{i}") for i in range(4)]
        # The relay has published all but the third: pruning stops before it.
        conn.execute(
            outbox_events.update()
            .where(outbox_events.c.id.in_([old[0], old[1], old[3]]))
            .values(published_at=datetime.now(UTC))
        )
    with grpc.insecure_channel(stream.target) as channel:
        stub = watcher(channel)
        deadline = time.monotonic() + 30  # the settled mark can trail (ADR 0059)
        answers: list[pb.WatchEventsResponse] = []
        while len(events_of(answers)) < 4 and time.monotonic() < deadline:
            answers, _ = catch_up(stub, tenant)
        assert events_of(answers) == old
        cursors = {a.event.id: a.cursor for a in answers if a.HasField("event")}
        assert prune_expired(stream, datetime.now(UTC)) == 0  # nothing a day old yet
        assert prune_expired(stream, datetime.now(UTC) + timedelta(days=2)) == 2
        assert stored_ids(stream, tenant.id) == old[2:]
        with pytest.raises(grpc.RpcError) as caught:
            catch_up(stub, tenant, cursors[old[0]])
        assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert error_info(caught.value).reason == "CURSOR_EXPIRED"
        # The last pruned event's cursor is the floor: nothing after it was lost.
        assert events_of(catch_up(stub, tenant, cursors[old[1]])[0]) == old[2:]
        assert events_of(catch_up(stub, tenant)[0]) == old[2:]  # no cursor: the oldest kept


def test_streams_per_tenant_are_capped_and_a_closed_one_frees_its_slot(
    stream: Stream, tenant: Tenant, other_tenant: Tenant
) -> None:
    with grpc.insecure_channel(stream.target) as channel:
        stub = watcher(channel)
        with stream.sync.begin() as conn:
            insert_event(conn, tenant.id, "test.one", "things/1")
        deadline = time.monotonic() + 30  # the settled mark can trail (ADR 0059)
        while not events_of(catch_up(stub, tenant)[0]):
            assert time.monotonic() < deadline
        open_calls = [
            stub.WatchEvents(pb.WatchEventsRequest(), metadata=tenant.metadata, timeout=20)
            for _ in range(STREAMS_PER_TENANT)
        ]
        try:
            for call in open_calls:  # each has answered: it holds its slot on the server
                assert next(call).HasField("event")
            with pytest.raises(grpc.RpcError) as caught:
                catch_up(stub, tenant)
            refused = caught.value
            assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            info = error_info(refused)
            assert info.reason == "TOO_MANY_EVENT_STREAMS"
            assert info.metadata["max_streams"] == str(STREAMS_PER_TENANT)
            assert events_of(catch_up(stub, other_tenant)[0]) == []  # others not held up
            open_calls[0].cancel()
            deadline = time.monotonic() + 30
            while True:
                try:
                    catch_up(stub, tenant)
                    break
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    assert time.monotonic() < deadline, "a cancelled stream kept its slot"
                    time.sleep(0.05)
        finally:
            for call in open_calls:
                call.cancel()


@pytest.mark.parametrize(
    ("request_fields", "field", "description"),
    [
        ({"cursor": "nonsense"}, "cursor", "is not a cursor this server issued"),
        ({"cursor": "es1.1.99999999999999999999"}, "cursor", "is not a cursor this server issued"),
        ({"cursor": f"es1.{2**62}.1"}, "cursor", "is ahead of this server's events"),
        ({"event_types": [""]}, "event_types[0]", "must not be empty"),
        (
            {"cursor": "es1.0.0", "start_at_end": True},
            "start_at_end",
            "must not be set with a cursor (the cursor says where to start)",
        ),
    ],
)
def test_a_bad_request_is_invalid_argument_naming_the_field(
    stream: Stream, tenant: Tenant, request_fields: dict[str, object], field: str, description: str
) -> None:
    with grpc.insecure_channel(stream.target) as channel, pytest.raises(grpc.RpcError) as caught:
        catch_up(watcher(channel), tenant, **request_fields)  # type: ignore[arg-type]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught.value) == {field: description}


def test_a_stream_with_a_deadline_ends_ok_before_it(stream: Stream, tenant: Tenant) -> None:
    with grpc.insecure_channel(stream.target) as channel:
        started = time.monotonic()
        answers = list(
            watcher(channel).WatchEvents(
                pb.WatchEventsRequest(), metadata=tenant.metadata, timeout=2
            )
        )
        took = time.monotonic() - started
    assert 1.0 <= took < 2  # ends 0.4 s (a fifth of its time) or a slow read before it
    assert all(not a.HasField("event") for a in answers)


class PrunedAfterFirstPage(SqlEventStream):
    """The real store; the tenant's events are pruned right after the stream's first page,
    as the purge loop could while a slow consumer is behind."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pages = 0

    async def page(self, tenant_id: str, after: Position, limit: int) -> StreamPage:
        page = await super().page(tenant_id, after, limit)
        self.pages += 1
        if self.pages == 1:
            await self.prune(tenant_id, datetime(2999, 1, 1, tzinfo=UTC), 1000)
        return page


def test_a_stream_overtaken_by_pruning_ends_out_of_range_instead_of_skipping(
    stream: Stream, tenant: Tenant
) -> None:
    count = BATCH * 2 + 5
    with stream.sync.begin() as conn:
        ids = [insert_event(conn, tenant.id, "test.old", f"things/{i}") for i in range(count)]
        conn.execute(
            outbox_events.update()
            .where(outbox_events.c.tenant_id == tenant.id)
            .values(published_at=datetime.now(UTC))
        )
    with grpc.insecure_channel(stream.target) as channel:  # wait until they are settled
        deadline = time.monotonic() + 30  # the settled mark can trail (ADR 0059)
        while len(events_of(catch_up(watcher(channel), tenant)[0])) < count:
            assert time.monotonic() < deadline

    async def run() -> tuple[list[str], BaseException | None]:
        engine = create_async_engine(stream.database.async_url)
        got: list[str] = []
        try:
            limits = StreamLimits(0.02, BATCH, STREAMS_PER_TENANT)
            watch = EventStream(PrunedAfterFirstPage(engine), limits).watch(
                CallContext(tenant.id, "test", "WatchEvents", "c"),
                WatchRequest("", (), "", start_at_end=False, stop_when_caught_up=True),
                None,
            )
            async for delivery in watch:
                assert delivery.event is not None
                got.append(delivery.event.id)
        except CursorExpired as error:
            return got, error
        finally:
            await engine.dispose()
        return got, None

    got, error = asyncio.run(run())
    assert got == ids[:BATCH]  # the first page, read before the prune
    assert isinstance(error, CursorExpired)


def test_cursors_round_trip_and_order_as_positions() -> None:
    positions = [Position(0, 1), Position(0, 2), Position(7, 0), Position(2**63 - 1, 2**63 - 1)]
    assert [parse_cursor(format_cursor(p)) for p in positions] == positions
    assert format_cursor(Position(12, 3)) == "es1.12.3"
    assert sorted(positions, reverse=True) == positions[::-1]
    for bad in ("", "es1.1", "es1.-1.2", "es2.1.2", "es1.1.2 ", f"es1.{2**63}.0"):
        with pytest.raises(InvalidArgument):
            parse_cursor(bad)


def test_stream_slots_count_per_tenant_and_free_on_exit() -> None:
    slots = StreamSlots(per_tenant=2)
    with slots.hold("a"), slots.hold("a"), slots.hold("b"):
        with pytest.raises(TooManyStreams), slots.hold("a"):
            pass
        assert (slots.open("a"), slots.open("b")) == (2, 1)
    assert (slots.open("a"), slots.open("b")) == (0, 0)
    with pytest.raises(RuntimeError), slots.hold("a"):
        raise RuntimeError  # a stream ending in an error frees its slot too
    assert slots.open("a") == 0


def test_a_stopping_server_ends_its_streams_ok_with_their_cursor(
    stream: Stream, tenant: Tenant
) -> None:
    with stream.sync.begin() as conn:
        first = insert_event(conn, tenant.id, "test.one", "things/1")
    stopping = ThreadedServer(
        server_settings(stream.database.async_url, event_stream_poll_ms=POLL_MS)
    )
    stopper: threading.Thread | None = None
    try:
        with grpc.insecure_channel(f"127.0.0.1:{stopping.port}") as channel:
            call = watcher(channel).WatchEvents(
                pb.WatchEventsRequest(), metadata=tenant.metadata, timeout=30
            )
            # Waits for the settled mark if need be; a checkpoint (no event) may come first on
            # a loaded machine, when the poll finds the row not yet settled.
            answer = next(call)
            while not answer.HasField("event"):
                answer = next(call)
            assert answer.event.id == first
            stopper = threading.Thread(target=stopping.stop)
            started = time.monotonic()
            stopper.start()
            rest = list(call)  # ends, not cut: the grace would be 0.5 s, this is shorter
            took = time.monotonic() - started
            stopper.join()
    finally:
        if stopper is None:
            stopping.stop()
    assert call.code() == grpc.StatusCode.OK
    assert events_of(rest) == []
    assert took < 0.5
