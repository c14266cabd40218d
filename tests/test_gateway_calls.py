"""The one guard around every gateway call (`billing.app.gateway_calls.call_gateway`): the
gateway's answer when it gives one in time; an UNKNOWN outcome for a timeout or any exception
(the gateway may have acted); the caller's "nothing was done" exceptions raised for it; and
the failure logged with its ids, never with the call's token or the gateway's credentials,
even when the plugin's exception quotes them. Credentials come from the real store (both
databases), encrypted under a key ring, as the server reads them."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from billing.app.gateway_calls import NOTHING_DONE, call_gateway, redact
from billing.app.gateway_directory import GatewayDirectory, UnknownGateway
from billing.domain.payment_rules import GatewayRule, PaymentRules
from billing.observability.logs import EcsFormatter, SecretMask
from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayOutcome,
    GatewayStatus,
    GatewayUnavailable,
)
from billing.plugins.registry import Engines
from billing.store.crypto import KeyRing
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from conftest import Database

TENANT = "ten_guard"
TOKEN = "tok_live_7Hq2ZpX9"  # what the request holds
API_KEY = "sk_live_51Mz0qLr8Yy"  # what the gateway was connected with
TIMEOUT_S = 0.2
RULES = PaymentRules(gateways=(GatewayRule("acme", "scripted"),))
REQUEST = ChargeRequest("billing-ten_guard-pay_1", 5000, "USD", TOKEN, "cus_1", "invoice 1", {})
ANSWERED = GatewayOutcome(GatewayStatus.SUCCEEDED, "ch_1", amount_minor=5000)


@dataclass
class Scripted:
    """A gateway plugin doing what the test says: answer, hang, or raise."""

    behaviour: Callable[[], Awaitable[GatewayOutcome]]
    connect_error: Exception | None = None
    connections: list[GatewayConnection] = field(default_factory=list)

    def check_settings(self, settings: Any) -> list[str]:
        return []

    def credential_names(self) -> tuple[str, ...]:
        return ("api_key",)

    def connect(self, connection: GatewayConnection) -> Any:
        if self.connect_error is not None:
            raise self.connect_error
        self.connections.append(connection)
        return self

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome:
        return await self.behaviour()


async def answers() -> GatewayOutcome:
    return ANSWERED


async def hangs() -> GatewayOutcome:
    await asyncio.sleep(30)
    return ANSWERED


def raising(exc: Exception) -> Callable[[], Awaitable[GatewayOutcome]]:
    async def behaviour() -> GatewayOutcome:
        raise exc

    return behaviour


@pytest.fixture
def database(backend: str, make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database(backend)


@pytest.fixture
def logged() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The guard's log records so far, as the server writes them (mask filter, ECS JSON)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(EcsFormatter())
    handler.addFilter(SecretMask())
    logger = logging.getLogger("billing.payments")
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


def guarded(
    database: Database,
    engine: Scripted,
    *,
    certain: tuple[type[Exception], ...] = (),
    gateway: str = "acme",
    credentials: dict[str, str] | None = None,
) -> GatewayOutcome:
    """One guarded purchase through a directory over the real store, where the tenant's
    credentials for `acme` are stored encrypted."""

    async def main() -> GatewayOutcome:
        sql = create_engine(database.async_url)
        try:
            store = SqlStore(sql, KeyRing({"k1": b"k" * 32}, "k1"))
            async with store.write(None) as tx:
                await tx.gateway_credentials.put(
                    TENANT, "acme", {"api_key": API_KEY}, datetime(2026, 12, 6, tzinfo=UTC)
                )
            engines = Engines({"payment_gateway": {"scripted": engine}}, ())
            directory = GatewayDirectory(store, engines, timeout_s=TIMEOUT_S)
            return await call_gateway(
                directory,
                TENANT,
                RULES,
                gateway,
                lambda connected: connected.purchase(REQUEST),
                what="purchase",
                about={"attempt": "pay_1"},
                secrets=(TOKEN,),
                credentials=credentials,
                certain=certain,
            )
        finally:
            await sql.dispose()

    return asyncio.run(main())


def test_an_answer_in_time_is_the_outcome_and_nothing_is_logged(database, logged) -> None:
    engine = Scripted(answers)

    outcome = guarded(database, engine)

    assert outcome == ANSWERED
    assert [c.credentials for c in engine.connections] == [{"api_key": API_KEY}]  # from the store
    assert logged() == []


def test_credentials_the_caller_read_already_are_used_as_given(database, logged) -> None:
    engine = Scripted(answers)

    assert guarded(database, engine, credentials={"api_key": "sk_given_0000"}) == ANSWERED
    assert [c.credentials for c in engine.connections] == [{"api_key": "sk_given_0000"}]


def test_no_answer_within_the_timeout_is_unknown(database, logged) -> None:
    started = time.monotonic()

    outcome = guarded(database, Scripted(hangs))

    assert outcome == GatewayOutcome(
        GatewayStatus.UNKNOWN, message=f"acme did not answer within {TIMEOUT_S} s"
    )
    assert time.monotonic() - started < 10  # cut at the timeout, not the 30 s sleep
    [record] = logged()
    assert (record["message"], record["log.level"]) == ("gateway call timed out", "warning")
    assert (record["attempt"], record["gateway"], record["call"]) == ("pay_1", "acme", "purchase")


def test_a_plugin_exception_is_unknown_and_logged_without_the_token_or_key(
    database, logged
) -> None:
    failure = RuntimeError(f"card {TOKEN} refused for key {API_KEY}")

    outcome = guarded(database, Scripted(raising(failure)))

    assert outcome == GatewayOutcome(
        GatewayStatus.UNKNOWN, message="acme purchase failed (RuntimeError)"
    )
    [record] = logged()
    assert record["message"] == "gateway call failed"
    assert record["error"] == "RuntimeError: card [redacted] refused for key [redacted]"
    assert "raise exc" in record["traceback"]  # where it failed, for whoever fixes the plugin
    assert record["traceback"].endswith(
        "RuntimeError: card [redacted] refused for key [redacted]\n"
    )
    assert record["attempt"] == "pay_1"
    text = json.dumps(record)
    assert TOKEN not in text and API_KEY not in text


def test_a_failure_to_connect_is_unknown_and_never_logs_the_key(database, logged) -> None:
    engine = Scripted(answers, connect_error=ValueError(f"malformed api_key {API_KEY!r}"))

    outcome = guarded(database, engine)

    assert outcome == GatewayOutcome(
        GatewayStatus.UNKNOWN, message="acme purchase failed (ValueError)"
    )
    [record] = logged()
    assert record["error"] == "ValueError: malformed api_key '[redacted]'"
    assert API_KEY not in json.dumps(record)


@pytest.mark.parametrize("exc", [GatewayUnavailable("acme is down"), TimeoutError()])
def test_what_the_caller_calls_certain_is_raised_to_it_only_if_named(
    database, logged, exc: Exception
) -> None:
    engine = Scripted(raising(exc))
    if isinstance(exc, GatewayUnavailable):
        with pytest.raises(GatewayUnavailable, match="acme is down"):
            guarded(database, engine, certain=NOTHING_DONE)
        assert logged() == []
    # A lookup names nothing certain: the same failure is an unknown answer.
    outcome = guarded(database, engine)
    assert outcome.status is GatewayStatus.UNKNOWN


def test_a_gateway_the_rules_do_not_name(database, logged) -> None:
    with pytest.raises(UnknownGateway, match="the payment rules have no gateway 'gone'"):
        guarded(database, Scripted(answers), gateway="gone", certain=NOTHING_DONE)

    outcome = guarded(database, Scripted(answers), gateway="gone")

    assert outcome == GatewayOutcome(
        GatewayStatus.UNKNOWN, message="gone purchase failed (UnknownGateway)"
    )


def test_redact_cuts_the_longest_secret_first_and_ignores_tiny_ones() -> None:
    assert redact("key sk_live_abc and sk_live", ["sk_live", "sk_live_abc", "", "ab"]) == (
        "key [redacted] and [redacted]"
    )
