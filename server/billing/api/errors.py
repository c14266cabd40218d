"""The one table from domain errors to gRPC status codes, and the rich status details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from billing.domain import errors, limits

ERROR_DOMAIN = "billing.v1"

STATUS_CODES: dict[type[errors.BillingError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.EtagMismatch: grpc.StatusCode.ABORTED,
    errors.RequestInProgress: grpc.StatusCode.ABORTED,
    errors.TransactionConflict: grpc.StatusCode.ABORTED,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.DatabaseUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.StreamTooLong: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.IdempotencyKeyReused: grpc.StatusCode.FAILED_PRECONDITION,
    errors.NoActiveRuleSet: grpc.StatusCode.FAILED_PRECONDITION,
    errors.InvalidState: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.RateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.CursorExpired: grpc.StatusCode.OUT_OF_RANGE,  # ADR 0059
    errors.TooManyStreams: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def status_code_for(error: errors.BillingError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return grpc.StatusCode.INTERNAL


def rich_status(error: errors.BillingError, code: grpc.StatusCode) -> status_pb2.Status:
    """google.rpc.Status with ErrorInfo (stable reason) and, for bad input, BadRequest.

    Bounded whatever the request held (docs/limits.md): echoed text is cut, at most
    VIOLATIONS_MAX violations are listed with a count of the rest, and violations are dropped
    from the end until the whole status fits STATUS_DETAILS_BYTES_MAX."""
    text = limits.VIOLATION_FIELD_CHARS_MAX
    why = limits.VIOLATION_DESCRIPTION_CHARS_MAX
    info = error_details_pb2.ErrorInfo(
        reason=error.reason,
        domain=ERROR_DOMAIN,
        metadata={limits.echo(k, text): limits.echo(v, text) for k, v in error.metadata.items()},
    )
    status = status_pb2.Status(
        code=_rpc_code(code),
        message=limits.clip_utf8(error.message, limits.STATUS_MESSAGE_BYTES_MAX),
        details=[_pack(info)],
    )
    if isinstance(error, errors.InvalidArgument):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                field=limits.echo(v.field, text), description=limits.echo(v.description, why)
            )
            for v in error.violations[: limits.VIOLATIONS_MAX]
        ]
        hidden = len(error.violations) - len(violations)
        while True:
            bad_request = error_details_pb2.BadRequest(field_violations=violations)
            if hidden:
                bad_request.field_violations.add(field="", description=f"and {hidden} more")
            status.details.append(_pack(bad_request))
            if status.ByteSize() <= limits.STATUS_DETAILS_BYTES_MAX or len(violations) <= 1:
                break
            del status.details[-1]
            violations.pop()
            hidden += 1
    if isinstance(error, errors.RateLimited):
        status.details.extend(_rate_limit_details(error))
    return status


def _rate_limit_details(error: errors.RateLimited) -> list[any_pb2.Any]:
    """RetryInfo (when a token is back) and QuotaFailure (whose quota), as AIP-193 asks."""
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(1, round(error.retry_after_s * 1e9)))
    quota = error_details_pb2.QuotaFailure(
        violations=[
            error_details_pb2.QuotaFailure.Violation(
                subject=f"tenant:{error.tenant_id}",
                description="calls per second per tenant per server process",
            )
        ]
    )
    return [_pack(error_details_pb2.RetryInfo(retry_delay=delay)), _pack(quota)]


def internal_status(correlation_id: str) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(
        reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"correlation_id": correlation_id}
    )
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error; quote correlation id {correlation_id} when reporting it",
        details=[_pack(info)],
    )


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _rpc_code(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    return value
