"""Typed errors: a failed call raises the `BillingError` subclass of its status code.

Every error of the server carries a `google.rpc.Status` in the `grpc-status-details-bin`
trailer; the stable `ErrorInfo.reason` (e.g. `ETAG_MISMATCH`) and any `BadRequest` field
violations are read out of it, so callers branch on `error.reason`, never on message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class BillingError(Exception):
    """A call the server (or the channel) refused; `code` is its gRPC status code."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        domain: str = "",
        metadata: dict[str, str] | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
        retry_delay: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.reason = reason  # ErrorInfo.reason: stable, for code to branch on
        self.domain = domain
        self.metadata = metadata or {}
        self.field_violations = field_violations
        self.retry_delay = retry_delay  # RetryInfo: when the server says to come back

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class InvalidArgument(BillingError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(BillingError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(BillingError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(BillingError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(BillingError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(BillingError):
    code = grpc.StatusCode.OUT_OF_RANGE


class PermissionDenied(BillingError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(BillingError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(BillingError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(BillingError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(BillingError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(BillingError):
    code = grpc.StatusCode.CANCELLED


class Unimplemented(BillingError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(BillingError):
    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[BillingError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        Unimplemented,
        Internal,
    )
}


def from_rpc_error(error: grpc.RpcError) -> BillingError:
    """The typed error for a failed call, with what its status details say."""
    code: grpc.StatusCode = (
        error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    )
    message: str = (error.details() if isinstance(error, grpc.Call) else str(error)) or ""
    reason = domain = ""
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_delay: timedelta | None = None
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    for key, value in trailers or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            # Unpack() is false when the detail is of another type.
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Unpack(bad):
                violations.extend(
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                )
            elif detail.Unpack(retry):
                retry_delay = retry.retry_delay.ToTimedelta()
    cls = _BY_CODE.get(code, BillingError)
    return cls(
        message,
        code=code,
        reason=reason,
        domain=domain,
        metadata=metadata,
        field_violations=tuple(violations),
        retry_delay=retry_delay,
    )
