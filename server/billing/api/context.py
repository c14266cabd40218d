"""Builds the use cases' CallContext from what the interceptors established."""

from __future__ import annotations

import grpc

from billing.api.interceptors import current_correlation_id, current_principal
from billing.app.context import NO_FAULTS, CallContext, Faults
from billing.domain.errors import InvalidArgument

FAULT_DELAY_KEY = "x-billing-fault-delay-ms"
FAULT_FAIL_KEY = "x-billing-fault-fail"
FAULT_DUE_WORK_FAIL_KEY = "x-billing-fault-due-work-fail"  # ADR 0058
MAX_FAULT_DELAY_MS = 60_000


class ContextFactory:
    def __init__(self, *, faults_enabled: bool) -> None:
        self._faults_enabled = faults_enabled

    def __call__(self, method: str, context: grpc.aio.ServicerContext) -> CallContext:
        principal = current_principal.get()
        return CallContext(
            tenant_id=principal.tenant_id,
            actor=principal.subject,
            method=method,
            correlation_id=current_correlation_id.get(),
            faults=self._faults(context) if self._faults_enabled else NO_FAULTS,
        )

    @staticmethod
    def _faults(context: grpc.aio.ServicerContext) -> Faults:
        metadata = dict(context.invocation_metadata() or ())
        if not {FAULT_DELAY_KEY, FAULT_FAIL_KEY, FAULT_DUE_WORK_FAIL_KEY} & metadata.keys():
            return NO_FAULTS
        raw_delay = str(metadata.get(FAULT_DELAY_KEY, "0"))
        if not raw_delay.isdigit() or int(raw_delay) > MAX_FAULT_DELAY_MS:
            raise InvalidArgument.single(
                FAULT_DELAY_KEY, f"must be whole milliseconds, at most {MAX_FAULT_DELAY_MS}"
            )
        return Faults(
            delay_before_commit_ms=int(raw_delay),
            fail_before_commit=metadata.get(FAULT_FAIL_KEY) == "true",
            fail_due_work_before_commit=metadata.get(FAULT_DUE_WORK_FAIL_KEY) == "true",
        )
