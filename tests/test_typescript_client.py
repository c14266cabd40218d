"""The TypeScript client (clients/typescript) against a real server over a real channel.

Issue 18: generated with buf from the same proto (`make proto`), it creates a customer and a
subscription, reads the subscription's invoice and sees typed errors. The client is compiled
with its own tsc (installed by `make install` from its package-lock.json) and run by node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from billing_client import Client
from billing_client.v1 import rules_pb2
from conftest import Server, Tenant, rule_files

PACKAGE = Path(__file__).parents[1] / "clients" / "typescript"


@pytest.fixture(scope="module")
def compiled() -> Path:
    node = shutil.which("node")
    assert node, "node is needed for the TypeScript client (Node.js 20+)"
    assert (PACKAGE / "node_modules").is_dir(), "run `make install` (npm ci in clients/typescript)"
    subprocess.run(
        [str(PACKAGE / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"],
        cwd=PACKAGE,
        check=True,
        timeout=120,
    )
    return PACKAGE / "dist" / "test" / "smoke.js"


def test_typescript_client_creates_a_customer_and_a_subscription(
    compiled: Path, server: Server, tenant: Tenant
) -> None:
    token = tenant.metadata[0][1].removeprefix("Bearer ")
    with Client(server.target, token=token) as billing:
        billing.rules.PushRuleSet(rules_pb2.PushRuleSetRequest(files=rule_files()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")} | {
        "BILLING_TARGET": server.target,
        "BILLING_TOKEN": token,
        "SMOKE_RUN_ID": uuid.uuid4().hex,
    }
    run = subprocess.run(
        ["node", str(compiled)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["customer"].startswith("customers/cus_")
    assert result["subscriptionCustomer"] == result["customer"]
    assert result["invoices"] == [{"currency": "USD", "amountMinor": "3000"}]
    assert result["notFound"]["code"] == "NotFound"
    assert result["notFound"]["reason"]
    assert result["invalid"] == {"code": "InvalidArgument", "fields": ["customer.time_zone"]}
