"""`billing rules check | push | schema`: what finance and CI run on a rules directory."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

from billing.delivery.notice_templates import load_notice_templates, with_notice_templates
from billing.domain.notices import NoticeTemplateInvalid
from billing.plugins.registry import load_engines
from billing.rules import RuleSetInvalid, json_schemas, load_rule_set
from billing.rules.ruleset import is_rule_file_name


def check(directory: Path) -> int:
    try:
        # The notice templates dunning rules name sit beside the rules, in templates/.
        engines = with_notice_templates(load_engines(), directory / "templates")
        rules = load_rule_set(directory, engines.by_kind)
    except RuleSetInvalid as invalid:
        for error in invalid.errors:
            print(f"error: {error}", file=sys.stderr)
        for warning in invalid.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"{directory}: refused, {len(invalid.errors)} error(s)", file=sys.stderr)
        return 1
    for warning in rules.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:  # what the server checks at start, so a template typo fails here first
        load_notice_templates(directory / "templates")
    except NoticeTemplateInvalid as invalid:
        print(f"error: {invalid}", file=sys.stderr)
        print(f"{directory}: refused, a notice template is invalid", file=sys.stderr)
        return 1
    print(f"{directory}: ok, rule set {rules.content_hash}")
    return 0


def push(directory: Path, target: str, token: str | None) -> int:
    import grpc
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    from billing_client import bearer_metadata
    from billing_client.v1 import rules_pb2, rules_pb2_grpc

    token = token or os.environ.get("BILLING_TOKEN")
    if not token:
        print("billing: give --token or set BILLING_TOKEN (scope rules.admin)", file=sys.stderr)
        return 2
    files = {
        p.name: p.read_bytes()
        for p in sorted(directory.iterdir())
        if p.is_file() and is_rule_file_name(p.name)
    }
    with grpc.insecure_channel(target) as channel:
        stub = rules_pb2_grpc.RuleServiceStub(channel)
        try:
            pushed = stub.PushRuleSet(
                rules_pb2.PushRuleSetRequest(files=files, request_id=str(uuid.uuid4())),
                metadata=bearer_metadata(token),
                timeout=60,
            )
        except grpc.RpcError as error:
            print(f"billing: push refused: {error.details()}", file=sys.stderr)
            status = rpc_status.from_call(error)
            for detail in status.details if status else ():
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    for violation in bad.field_violations:
                        print(f"error: {violation.description}", file=sys.stderr)
            return 1
    for warning in pushed.warnings:
        print(f"warning: {warning.file}:{warning.line}:{warning.column}: {warning.message}")
    print(f"active rule set {pushed.content_hash}")
    return 0


def schema(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind, document in json_schemas().items():
        path = out_dir / f"{kind}.schema.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path}")
    return 0
