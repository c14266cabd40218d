"""Tenant isolation, table-driven from the served descriptors: every field of every RPC that
names a tenant's resource, filled with another tenant's real name, answers NOT_FOUND; and
no reply of any RPC shows another tenant's ids. A new RPC (or a new name field) that the
table does not cover fails test_every_name_field_is_covered."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.message import Message

from conftest import Server
from fuzz_schema import Rpc, ServedApi, name_fields
from fuzz_world import Resources, World, strings_in

# Fields that name something, but not another tenant's data, with why.
NOT_TENANT_NAMES = {
    ("CreateCustomer", "customer.name"): "output only: the server names a new customer",
    ("CreateClock", "clock.name"): "output only: the server names a new clock",
    ("CreateCoupon", "coupon.name"): "a code the caller chooses; each tenant has its own codes",
    ("GetPlan", "name"): "a catalog code of the caller's own active rules",
    ("GetPrice", "name"): "a catalog code of the caller's own active rules",
    ("PreviewPrice", "price"): "a catalog code of the caller's own active rules",
    ("QuoteTax", "lines.plan"): "a catalog code of the caller's own active rules",
    ("QuoteTax", "lines.price"): "a catalog code of the caller's own active rules",
    ("UpdateCustomer", "customer.clock"): "immutable: ignored unless the mask names it",
    ("UpdateInvoice", "invoice.customer"): "output only: ignored unless the mask names it",
    ("UpdateInvoice", "invoice.subscription"): "output only: ignored unless the mask names it",
    ("UpdateInvoice", "invoice.coupon"): "output only: ignored unless the mask names it",
    ("ApplyContract", "contract.name"): "output only: the deal id names the contract",
}
# Usage events name their subscription or customer inside a batch: another tenant's is
# refused per event (the call itself succeeds), which the test checks instead of NOT_FOUND.
PER_EVENT = {"IngestUsage", "StreamUsage"}


def other_name(rpc: Rpc, path: str, a: Resources) -> str:
    """Tenant A's real name for the field at `path` of `rpc`."""
    last = path.rsplit(".", 1)[-1]
    by_field = {
        "customer": a.customer,
        "subscription": a.subscription,
        "base_subscription": a.subscription,
        "invoice": a.open_invoice,
        "coupon": a.coupon,
        "clock": a.clock,
        "event_id": a.event_id,
        "payment_method": a.extra["payment_method"],
        "payment": a.extra["payment"],
    }
    if last != "name":
        return by_field[last]
    owner = path.split(".", maxsplit=1)[0] if "." in path else rpc.service.rsplit(".", 1)[-1]
    by_owner = {
        "CustomerService": a.customer,
        "customer": a.customer,
        "SubscriptionService": a.subscription,
        "InvoiceService": a.draft_invoice
        if rpc.name in {"DeleteInvoice", "FinalizeInvoice"}
        else a.open_invoice,
        "invoice": a.draft_invoice,
        "CouponService": a.coupon,
        "ClockService": a.clock,
        "RuleService": a.rule_set,
    }
    if owner == "ContractService":
        return str(a.extra["contract"])
    if owner == "DueWorkService":
        return str(a.extra["due_work"])
    if owner == "DunningService":
        return {"GetDunningCase": a.extra["dunning_case"]}[rpc.name]
    if owner == "PaymentService":
        return {
            "DetachPaymentMethod": a.extra["payment_method"],
            "GetPaymentAttempt": a.extra["payment_attempt"],
            "GetPayment": a.extra["payment"],
            "GetRefund": a.extra["refund"],
            "GetDispute": a.extra["dispute"],
        }[rpc.name]
    return by_owner[owner]


def set_path(message: Message, path: str, value: str) -> None:
    *parents, last = path.split(".")
    targets = [message]
    for name in parents:
        nxt = []
        for t in targets:
            field = getattr(t, name)
            nxt += list(field) if t.DESCRIPTOR.fields_by_name[name].is_repeated else [field]
        targets = nxt
    for t in targets:
        setattr(t, last, value)


def cases(api: ServedApi) -> Iterator[tuple[Rpc, str]]:
    for rpc in api.rpcs:
        for path in name_fields(rpc.input):
            if (rpc.name, path) not in NOT_TENANT_NAMES:
                yield rpc, path


@pytest.fixture(scope="module")
def world(channel: grpc.Channel, server: Server) -> Iterator[World]:
    w = World(channel, ServedApi(channel), server.database.sync_url)
    yield w
    w.close()


def test_every_name_field_is_covered(world: World) -> None:
    """Each name field is tried with another tenant's name, or exempted with a reason."""
    uncovered = []
    for rpc, path in cases(world.api):
        try:
            other_name(rpc, path, world.other)
        except KeyError:
            uncovered.append(f"{rpc.name}.{path}")
    assert not uncovered, f"add these to other_name or NOT_TENANT_NAMES: {uncovered}"
    stale = [k for k in NOT_TENANT_NAMES if k[1] not in set(name_fields(world.api.rpc(k[0]).input))]
    assert not stale, f"exemptions for fields that no longer exist: {stale}"


def test_another_tenants_names_are_not_found(world: World) -> None:
    """B (world.own) calls every RPC with A's (world.other) real names, one field at a time."""
    a, b = world.other, world.own
    wrong: list[str] = []
    for rpc, path in cases(world.api):
        request = world.request(rpc)
        set_path(request, path, other_name(rpc, path, a))
        outcome = world.caller.call(rpc, [request.SerializeToString()])
        if rpc.name in PER_EVENT:
            reply = world.api.message_class(rpc.method.output_type).FromString(outcome.replies[0])
            if outcome.code != grpc.StatusCode.OK or reply.accepted:  # type: ignore[attr-defined]
                wrong.append(f"{rpc.name}.{path}: {outcome.code.name}, accepted an event")
            continue
        if outcome.code != grpc.StatusCode.NOT_FOUND:
            wrong.append(f"{rpc.name}.{path}: {outcome.code.name} {outcome.details[:120]!r}")
    assert b.tenant.id != a.tenant.id
    assert not wrong, "\n".join(wrong)


def test_no_reply_shows_another_tenants_ids(world: World) -> None:
    """Every RPC, called by B with valid requests of its own, answers nothing of A's."""
    a_ids = world.other.ids()
    leaks: list[str] = []
    answered = 0
    for rpc in world.api.rpcs:
        outcome = world.caller.call(rpc, [world.request(rpc).SerializeToString()])
        output = world.api.message_class(rpc.method.output_type)
        for raw in outcome.replies:
            answered += 1
            for text in strings_in(output.FromString(raw)):
                leaks += [f"{rpc.name}: {text[:120]!r} shows {i}" for i in a_ids if i in text]
        if rpc.name == "PushRuleSet" and outcome.ok:
            world.restore_rules()
    # A tenant-wide bill run: due work of every tenant runs in the same process.
    assert answered >= len(world.api.rpcs) - 5, "most RPCs must answer for the scan to count"
    assert not leaks, "\n".join(leaks)
