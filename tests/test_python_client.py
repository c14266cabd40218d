"""The Python client (`billing_client.Client`) against a real server over a real channel.

Issue 18's client test: create a customer and a subscription, read its invoice, see a typed
error; retries resend the same request id; pages are followed to the end; the README's first
call runs as pasted against `billing serve` started as `make run` starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from billing_client import Client, errors
from billing_client.v1 import (
    customers_pb2,
    invoices_pb2,
    rules_pb2,
    subscriptions_pb2,
)
from conftest import REPO_RULES, Server, Tenant, make_token, rule_files

REPO = Path(__file__).parents[1]


def _token(tenant: Tenant) -> str:
    return tenant.metadata[0][1].removeprefix("Bearer ")


@pytest.fixture
def billing(server: Server, tenant: Tenant) -> Iterator[Client]:
    with Client(server.target, token=_token(tenant)) as client:
        client.rules.PushRuleSet(rules_pb2.PushRuleSetRequest(files=rule_files()))
        yield client


def _acme(billing: Client, **fields: object) -> customers_pb2.Customer:
    return billing.customers.CreateCustomer(  # type: ignore[no-any-return]
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(display_name="Acme Inc.", currency_code="USD", **fields)
        )
    )


def test_customer_subscription_invoice_and_a_typed_error(billing: Client) -> None:
    customer = _acme(billing)  # no request_id given: the client makes one
    subscription = billing.subscriptions.CreateSubscription(
        subscriptions_pb2.CreateSubscriptionRequest(
            customer=customer.name, plan="plans/basic_monthly", trial_days=0
        )
    )
    assert subscription.customer == customer.name

    invoices = list(
        billing.pages(
            billing.invoices.ListInvoices,
            invoices_pb2.ListInvoicesRequest(subscription=subscription.name),
        )
    )
    assert len(invoices) == 1
    assert invoices[0].total.currency_code == "USD"
    assert invoices[0].total.amount_minor == 3000

    with pytest.raises(errors.NotFound) as missing:
        billing.customers.GetCustomer(
            customers_pb2.GetCustomerRequest(name="customers/cus_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        )
    assert missing.value.code is grpc.StatusCode.NOT_FOUND
    assert missing.value.reason  # ErrorInfo.reason, stable for code to branch on

    with pytest.raises(errors.InvalidArgument) as bad:
        _acme(billing, time_zone="Mars/Olympus_Mons")
    assert [v.field for v in bad.value.field_violations] == ["customer.time_zone"]


def test_pages_follow_next_page_token_to_the_end(billing: Client) -> None:
    made = {_acme(billing).name for _ in range(5)}
    seen = [
        c.name
        for c in billing.pages(
            billing.customers.ListCustomers, customers_pb2.ListCustomersRequest(page_size=2)
        )
    ]
    assert sorted(seen) == sorted(made)


def test_a_token_the_server_refuses_is_unauthenticated(server: Server) -> None:
    with (
        Client(server.target, token="not-a-token") as client,
        pytest.raises(errors.Unauthenticated),
    ):
        client.customers.ListCustomers(customers_pb2.ListCustomersRequest())


class _Flaky(grpc.GenericRpcHandler):
    """A real gRPC server in front of the billing server: the first `failures` calls of
    CreateCustomer are answered UNAVAILABLE after being forwarded (a reply lost on the way
    back), the rest pass through. Records every request id it saw."""

    def __init__(self, upstream: grpc.Channel, failures: int) -> None:
        self.failures = failures
        self.request_ids: list[str] = []
        self.lock = threading.Lock()
        self.forward = upstream.unary_unary(
            "/billing.v1.CustomerService/CreateCustomer",
            request_serializer=customers_pb2.CreateCustomerRequest.SerializeToString,
            response_deserializer=customers_pb2.Customer.FromString,
        )

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != "/billing.v1.CustomerService/CreateCustomer":
            return None

        def handle(
            request: customers_pb2.CreateCustomerRequest, context: grpc.ServicerContext
        ) -> customers_pb2.Customer:
            metadata = tuple(
                (k, v) for k, v in context.invocation_metadata() if k == "authorization"
            )
            reply = self.forward(request, metadata=metadata, timeout=10)
            with self.lock:
                self.request_ids.append(request.request_id)
                lose = len(self.request_ids) <= self.failures
            if lose:
                context.abort(grpc.StatusCode.UNAVAILABLE, "reply lost (test proxy)")
            return reply  # type: ignore[no-any-return]

        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=customers_pb2.CreateCustomerRequest.FromString,
            response_serializer=customers_pb2.Customer.SerializeToString,
        )


def test_retries_resend_the_same_request_id_and_write_once(server: Server, tenant: Tenant) -> None:
    with grpc.insecure_channel(server.target) as upstream:
        flaky = _Flaky(upstream, failures=2)
        proxy = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[flaky])
        port = proxy.add_insecure_port("127.0.0.1:0")
        proxy.start()
        try:
            with Client(f"127.0.0.1:{port}", token=_token(tenant)) as through_proxy:
                created = _acme(through_proxy)
        finally:
            proxy.stop(0)
    assert len(flaky.request_ids) == 3
    assert len(set(flaky.request_ids)) == 1 and flaky.request_ids[0]
    with Client(server.target, token=_token(tenant)) as direct:
        listed = list(
            direct.pages(direct.customers.ListCustomers, customers_pb2.ListCustomersRequest())
        )
    assert [c.name for c in listed] == [created.name]  # three sends, one customer


def test_out_of_attempts_raises_the_last_error(server: Server, tenant: Tenant) -> None:
    with grpc.insecure_channel(server.target) as upstream:
        flaky = _Flaky(upstream, failures=10)
        proxy = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[flaky])
        port = proxy.add_insecure_port("127.0.0.1:0")
        proxy.start()
        try:
            client = Client(f"127.0.0.1:{port}", token=_token(tenant), attempts=2)
            with client, pytest.raises(errors.Unavailable):
                _acme(client)
        finally:
            proxy.stop(0)
    assert len(flaky.request_ids) == 2


def test_token_from_the_environment_and_from_the_token_file(
    sqlite_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BILLING_TOKEN", raising=False)
    token_file = tmp_path / "dev-token"
    token_file.write_text(make_token("t_client_file") + "\n")
    monkeypatch.setenv("BILLING_TOKEN_FILE", str(token_file))
    with Client(sqlite_server.target) as client:
        client.customers.ListCustomers(customers_pb2.ListCustomersRequest())
    monkeypatch.setenv("BILLING_TOKEN", "from-the-environment")  # wins over the file
    with Client(sqlite_server.target) as client, pytest.raises(errors.Unauthenticated):
        client.customers.ListCustomers(customers_pb2.ListCustomersRequest())


def _readme_first_call() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## A first call with the Python client", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_first_call_runs_as_pasted_after_billing_serve(tmp_path: Path) -> None:
    """What `make run` runs (`billing serve` on the embedded default, from the clone's root),
    then the README's snippet, unchanged, in a new interpreter in the same directory."""
    (tmp_path / "rules").symlink_to(REPO_RULES)
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")} | {
        "BILLING_LISTEN": "127.0.0.1:0"
    }
    bin_dir = Path(sys.executable).parent
    serve = subprocess.Popen(
        [str(bin_dir / "billing"), "serve", "--ready-file", str(ready)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if ready.exists() or serve.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "billing serve did not start"
        port = ready.read_text().strip()
        assert (tmp_path / "var" / "dev-token").stat().st_mode & 0o077 == 0
        run = subprocess.run(
            [sys.executable, "-c", _readme_first_call()],
            check=False,
            cwd=tmp_path,
            env=env | {"BILLING_TARGET": f"127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        name, etag = run.stdout.split()
        assert name.startswith("customers/cus_") and etag
    finally:
        serve.terminate()
        serve.wait(timeout=30)
