"""The one table from domain errors to gRPC status codes, and the rich status details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from billing.domain import errors

ERROR_DOMAIN = "billing.v1"

STATUS_CODES: dict[type[errors.BillingError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.EtagMismatch: grpc.StatusCode.ABORTED,
    errors.RequestInProgress: grpc.StatusCode.ABORTED,
    errors.TransactionConflict: grpc.StatusCode.ABORTED,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.IdempotencyKeyReused: grpc.StatusCode.FAILED_PRECONDITION,
    errors.NoActiveRuleSet: grpc.StatusCode.FAILED_PRECONDITION,
    errors.InvalidState: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}


def status_code_for(error: errors.BillingError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return grpc.StatusCode.INTERNAL


def rich_status(error: errors.BillingError, code: grpc.StatusCode) -> status_pb2.Status:
    """google.rpc.Status with ErrorInfo (stable reason) and, for bad input, BadRequest."""
    details = []
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    details.append(_pack(info))
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        details.append(_pack(bad_request))
    return status_pb2.Status(code=_rpc_code(code), message=error.message, details=details)


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
