"""The embedded default's rules directory, and `billing rules check | push | schema`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc

from billing.rules import content_hash
from billing_client.v1 import rules_pb2 as rp
from billing_client.v1 import rules_pb2_grpc
from conftest import REPO_RULES, ThreadedServer, auth, make_token, rule_files, server_settings

BROKEN = Path(__file__).parent / "rules" / "fixtures" / "broken"


def billing(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def wait_for(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_embedded_server_loads_and_reloads_its_rules_directory(make_database, tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(REPO_RULES, rules_dir)
    database = make_database("sqlite")
    settings = server_settings(database.async_url, rules_dir=str(rules_dir), dev_tenant="t_auto")
    running = ThreadedServer(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = rules_pb2_grpc.RuleServiceStub(channel)
            metadata = auth(make_token("t_auto"))

            def active() -> str:
                request = rp.GetActiveRuleSetRequest()
                return str(stub.GetActiveRuleSet(request, metadata=metadata).content_hash)

            first = active()
            assert first == content_hash(rule_files(rules_dir))
            # A broken edit is refused; the last good rules keep serving.
            (rules_dir / "money.yaml").write_text("kind: money\nrounding: [half_up\n")
            time.sleep(2.5)
            assert active() == first
            # A good edit becomes active.
            (rules_dir / "money.yaml").write_text("kind: money\nrounding: half_even\n")
            wait_for(lambda: active() == content_hash(rule_files(rules_dir)))
    finally:
        running.stop()


def test_rules_check_accepts_the_repo_rules_and_lists_every_error_of_a_broken_set():
    ok = billing("rules", "check", str(REPO_RULES))
    assert ok.returncode == 0, ok.stderr
    assert f"rule set {content_hash(rule_files())}" in ok.stdout
    broken = billing("rules", "check", str(BROKEN))
    assert broken.returncode == 1
    errors = [line for line in broken.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 6
    assert "error: pricing.yaml:18:17: prices[2].tiers[1].up_to: tiers must ascend" in broken.stderr


def test_rules_schema_writes_one_json_schema_per_kind(tmp_path):
    result = billing("rules", "schema", str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "catalog.schema.json" in names
    assert "pricing.schema.json" in names
    pricing = json.loads((tmp_path / "pricing.schema.json").read_text())
    assert pricing["$schema"].startswith("https://json-schema.org/")


def test_rules_push_over_grpc(sqlite_server):
    server = sqlite_server
    token = make_token("t_cli_push")
    env = {**os.environ, "BILLING_TOKEN": token}
    pushed = billing("rules", "push", str(REPO_RULES), "--target", server.target, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert f"active rule set {content_hash(rule_files())}" in pushed.stdout
    refused = billing("rules", "push", str(BROKEN), "--target", server.target, env=env)
    assert refused.returncode == 1
    assert refused.stderr.count("\nerror: ") == 6
