"""A dunning rule file through RuleService over a real channel, on SQLite and PostgreSQL, and
through `billing rules check`: the server checks template names against its notice templates
(`templates_dir`), the check against DIR/templates; a file naming an unknown template or
action refuses the whole rule set at file:line:column and the last good rules keep serving."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest

from billing.delivery.notice_templates import notice_template_paths
from billing.rules import content_hash
from billing_client.v1 import rules_pb2 as rp
from conftest import REPO_RULES, rule_files
from grpc_helpers import error_info, field_violations

EXAMPLE = (REPO_RULES / "examples" / "dunning" / "dunning.yaml").read_text()

BAD = """\
kind: dunning
policies:
  - name: standard
    grace: 10d
    steps:
      - {after: 0d, action: notice, template: payment_overdue}
      - {after: 10d, action: suspend}
  - name: enterprise
    steps:
      - {after: 0d, action: notice, template: payment_failed}
      - {after: 30d, action: terminate}
cases:
  - {when: {segments: [enterprise]}, policy: enterprise}
  - {policy: standard}
"""
# The server's notices (`templates_dir`: rules/templates), as the message lists them.
NOTICES = ", ".join(sorted(notice_template_paths(REPO_RULES / "templates")))
TEMPLATE_ERROR = (
    "dunning.yaml:6:47: policies[0].steps[0].template: unknown notice template"
    f" 'payment_overdue'; known: {NOTICES} (files templates/notices/<name>.txt)"
)
ACTION_ERROR = (
    "dunning.yaml:11:30: policies[1].steps[1].action: expected one of notice, mark_past_due,"
    " mark_unpaid, suspend, cancel_now, cancel_at_period_end, mark_uncollectible, got"
    " 'terminate'"
)


def push(rules_api, tenant, files):  # type: ignore[no-untyped-def]
    request = rp.PushRuleSetRequest(files=files, request_id=uuid.uuid4().hex)
    return rules_api.PushRuleSet(request, metadata=tenant.metadata)


def active_hash(rules_api, tenant) -> str:  # type: ignore[no-untyped-def]
    request = rp.GetActiveRuleSetRequest()
    return str(rules_api.GetActiveRuleSet(request, metadata=tenant.metadata).content_hash)


def test_the_example_dunning_file_is_pushed_with_the_shipped_rules(rules_api, tenant):
    files = rule_files(**{"dunning.yaml": EXAMPLE})
    pushed = push(rules_api, tenant, files)
    assert pushed.active
    assert pushed.content_hash == content_hash(files)
    assert "dunning.yaml" in pushed.files
    assert list(pushed.warnings) == []
    assert active_hash(rules_api, tenant) == pushed.content_hash


def test_an_unknown_template_or_action_refuses_the_rule_set_and_the_last_good_serves(
    rules_api, tenant
):
    good = push(rules_api, tenant, rule_files(**{"dunning.yaml": EXAMPLE}))
    with pytest.raises(grpc.RpcError) as failure:
        push(rules_api, tenant, rule_files(**{"dunning.yaml": BAD}))
    error = failure.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "RULE_SET_INVALID"
    assert field_violations(error) == {
        'files["dunning.yaml"].policies[0].steps[0].template': TEMPLATE_ERROR,
        'files["dunning.yaml"].policies[1].steps[1].action': ACTION_ERROR,
    }
    assert active_hash(rules_api, tenant) == good.content_hash
    # Validating says the same and stores nothing.
    checked = rules_api.ValidateRuleSet(
        rp.ValidateRuleSetRequest(files=rule_files(**{"dunning.yaml": BAD})),
        metadata=tenant.metadata,
    )
    assert [f"{e.file}:{e.line}:{e.column}" for e in checked.errors] == [
        "dunning.yaml:6:47",
        "dunning.yaml:11:30",
    ]
    assert active_hash(rules_api, tenant) == good.content_hash


def test_billing_rules_check_refuses_the_same_file(tmp_path: Path) -> None:
    for name, source in rule_files(**{"dunning.yaml": BAD}).items():
        (tmp_path / name).write_bytes(source)
    shutil.copytree(REPO_RULES / "templates", tmp_path / "templates")
    refused = _check(tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: {TEMPLATE_ERROR}",
        f"error: {ACTION_ERROR}",
        f"{tmp_path}: refused, 2 error(s)",
    ]
    # The same directory with the example's file passes: the templates are found there.
    (tmp_path / "dunning.yaml").write_text(EXAMPLE)
    accepted = _check(tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    files = rule_files(tmp_path)
    assert accepted.stdout == f"{tmp_path}: ok, rule set {content_hash(files)}\n"


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing", "rules", "check", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
