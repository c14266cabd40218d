"""RuleService: translation only."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import body_hash, timestamp
from billing.app.context import Write
from billing.app.rules import RuleSetView, RuleUseCases
from billing.rules.errors import RuleDiagnostic
from billing_client.v1 import rules_pb2, rules_pb2_grpc


def diagnostic(d: RuleDiagnostic) -> rules_pb2.RuleDiagnostic:
    return rules_pb2.RuleDiagnostic(
        file=d.file, line=d.line, column=d.column, path=d.path_text, message=d.message
    )


def rule_set_to_proto(view: RuleSetView) -> rules_pb2.RuleSet:
    message = rules_pb2.RuleSet(
        name=view.name,
        content_hash=view.content_hash,
        files=dict(view.files),
        active=view.active,
        create_time=timestamp(view.created_at),
        warnings=[diagnostic(w) for w in view.warnings],
    )
    if view.activated_at is not None:
        message.activate_time.CopyFrom(timestamp(view.activated_at))
    return message


class RuleServicer(rules_pb2_grpc.RuleServiceServicer):  # type: ignore[misc]
    def __init__(self, rules: RuleUseCases, call_context: ContextFactory) -> None:
        self._rules = rules
        self._ctx = call_context

    async def ValidateRuleSet(
        self, request: rules_pb2.ValidateRuleSetRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb2.ValidateRuleSetResponse:
        ctx = self._ctx("ValidateRuleSet", context)
        result = await self._rules.validate(ctx, dict(request.files))
        return rules_pb2.ValidateRuleSetResponse(
            content_hash=result.content_hash,
            errors=[diagnostic(e) for e in result.errors],
            warnings=[diagnostic(w) for w in result.warnings],
        )

    async def PushRuleSet(
        self, request: rules_pb2.PushRuleSetRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb2.RuleSet:
        ctx = self._ctx("PushRuleSet", context)
        files: Mapping[str, bytes] = dict(request.files)
        write = Write(request.request_id, body_hash(request), files)
        return rule_set_to_proto(await self._rules.push(ctx, write))

    async def GetRuleSet(
        self, request: rules_pb2.GetRuleSetRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb2.RuleSet:
        ctx = self._ctx("GetRuleSet", context)
        return rule_set_to_proto(await self._rules.get(ctx, request.name))

    async def GetActiveRuleSet(
        self, request: rules_pb2.GetActiveRuleSetRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb2.RuleSet:
        ctx = self._ctx("GetActiveRuleSet", context)
        return rule_set_to_proto(await self._rules.get_active(ctx))
