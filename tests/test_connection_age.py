"""BILLING_MAX_CONNECTION_AGE_SECONDS: the server sends GOAWAY once a connection is that old,
the call in flight finishes within the grace, and the client's next call goes out on a new
connection with no error (ADR 0062). That is what lets client-side load balancing behind a
headless Service spread old clients over new processes.

The test sits a small TCP relay between a real client channel and a real server: it counts
the connections the client opens and reads the HTTP/2 frames the server sends on each, so
the GOAWAY is seen on the wire rather than inferred.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, Tenant, ThreadedServer, server_settings

GOAWAY = 0x7  # HTTP/2 frame type (RFC 9113 section 6.8)
FRAME_HEADER_BYTES = 9
AGE_S = 1
GRACE_S = 1


class FrameRelay:
    """Relays 127.0.0.1 TCP to the server; records the frame types the server sends on each
    connection (server to client has no preface: frames from the first byte)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.frames: list[list[int]] = []  # per accepted connection, in order
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.frames.append([])
                types = self.frames[-1]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, types), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, types: list[int] | None) -> None:
        pending = b""
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if types is None:
                    continue
                pending += data
                while len(pending) >= FRAME_HEADER_BYTES:
                    length = int.from_bytes(pending[:3], "big")
                    if len(pending) < FRAME_HEADER_BYTES + length:
                        break
                    with self.lock:
                        types.append(pending[3])
                    pending = pending[FRAME_HEADER_BYTES + length :]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def connections(self) -> int:
        with self.lock:
            return len(self.frames)

    def goaways(self, connection: int) -> int:
        with self.lock:
            return self.frames[connection].count(GOAWAY)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def aged_server(backend: str, make_database: Callable[[str], Database]) -> Iterator[ThreadedServer]:
    database = make_database(backend)
    # The grace left at its default (0): calls in flight at GOAWAY run to their end.
    settings = server_settings(database.async_url, max_connection_age_seconds=AGE_S)
    running = ThreadedServer(settings)
    yield running
    running.stop()


def _wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_an_old_connection_gets_goaway_its_call_finishes_and_the_client_reconnects(
    aged_server: ThreadedServer, tenant: Tenant
) -> None:
    relay = FrameRelay(aged_server.port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            first = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            assert relay.connections() == 1
            assert relay.goaways(0) == 0

            # A call held open (2.5 s before commit) across the age (1 s +-10%): GOAWAY
            # stops new calls on the connection, not this one, which runs to its end.
            customers = customers_pb2_grpc.CustomerServiceStub(channel)
            in_flight = customers.CreateCustomer.future(
                pb.CreateCustomerRequest(
                    customer=pb.Customer(display_name="Aged", currency_code="EUR"),
                    request_id="age-1",
                ),
                metadata=tenant.with_faults(delay_ms=2500),
                timeout=10,
            )
            assert _wait_for(lambda: relay.goaways(0) >= 1, timeout_s=AGE_S * 1.1 + 4)
            created = in_flight.result(timeout=10)
            assert created.display_name == "Aged"
            assert created.name.startswith("customers/cus_")

            # The next call: no error, a second connection, and the first one got GOAWAY.
            second = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert second.status == health_pb2.HealthCheckResponse.SERVING
            assert relay.connections() == 2
            assert relay.goaways(0) >= 1
    finally:
        relay.close()


def test_connections_are_kept_when_no_age_is_set(
    sqlite_server_factory: Callable[..., ThreadedServer],
) -> None:
    """The default (0) sends no GOAWAY: one connection across twice the age above."""
    running = sqlite_server_factory()
    relay = FrameRelay(running.port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            time.sleep(AGE_S * 2)
            health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert relay.connections() == 1
            assert relay.goaways(0) == 0
    finally:
        relay.close()


def test_a_call_longer_than_the_grace_is_cut(
    sqlite_server_factory: Callable[..., ThreadedServer], tenant: Tenant
) -> None:
    """With a grace set, the connection closes that long after GOAWAY, whatever still runs
    on it (the call's transaction rolls back: nothing is half-written, ADR 0006)."""
    running = sqlite_server_factory(
        max_connection_age_seconds=AGE_S, max_connection_age_grace_seconds=GRACE_S
    )
    relay = FrameRelay(running.port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
            customers = customers_pb2_grpc.CustomerServiceStub(channel)
            request = pb.CreateCustomerRequest(
                customer=pb.Customer(display_name="Cut", currency_code="EUR"),
                request_id="age-cut",
            )
            with pytest.raises(grpc.RpcError) as cut:
                # Held 4 s before commit: past the age (1 s) plus the grace (1 s).
                customers.CreateCustomer(
                    request, metadata=tenant.with_faults(delay_ms=4000), timeout=10
                )
            assert cut.value.code() == grpc.StatusCode.UNAVAILABLE
            assert relay.goaways(0) >= 1
            # Retried with the same request_id on a new connection: created once. The cut call
            # may still hold its key for a moment (its cancellation reaches the server after
            # the caller saw UNAVAILABLE): ABORTED "still in progress" says retry shortly, as
            # a client does.
            deadline = time.monotonic() + 10
            while True:
                try:
                    again = customers.CreateCustomer(request, metadata=tenant.metadata, timeout=10)
                    break
                except grpc.RpcError as busy:
                    if busy.code() != grpc.StatusCode.ABORTED or time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            assert again.display_name == "Cut"
            assert relay.connections() == 2
            listed = customers.ListCustomers(
                pb.ListCustomersRequest(page_size=10), metadata=tenant.metadata, timeout=10
            )
            assert [c.name for c in listed.customers] == [again.name]
    finally:
        relay.close()


@pytest.fixture
def sqlite_server_factory(
    make_database: Callable[[str], Database],
) -> Iterator[Callable[[], ThreadedServer]]:
    started: list[ThreadedServer] = []

    def start(**overrides: object) -> ThreadedServer:
        database = make_database("sqlite")
        started.append(ThreadedServer(server_settings(database.async_url, **overrides)))
        return started[-1]

    yield start
    for running in started:
        running.stop()
