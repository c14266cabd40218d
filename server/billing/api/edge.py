"""The edge's checks of every request, before any handler sees it: bytes that do not decode
and messages past the contract's limits (`billing.api.validation`) are INVALID_ARGUMENT.

The last step of the edge's interceptor (`billing.api.interceptors`), after auth and the rate
limit, so a caller without a valid token learns nothing about the request checks, and the
error step turns the refusal into its status and details.
Unary, server-streaming and client-streaming methods alike; a streamed request is checked as
each message arrives, the path of a bad field naming the message (`[4].events[2].id`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from billing.api.validation import check_request
from billing.domain.errors import FieldViolation, InvalidArgument

Deserializer = Callable[[bytes], Any]


class Undecodable:
    """What a request's bytes became when they were not a valid message of its type."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def tolerant(deserialize: Deserializer) -> Deserializer:
    """`deserialize` that never raises: gRPC would answer UNKNOWN with the exception's text;
    the check then answers INVALID_ARGUMENT in plain words instead."""
    owner = getattr(deserialize, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    type_name = getattr(descriptor, "full_name", "request")

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # DecodeError, or anything a parser may raise on hostile bytes
            return Undecodable(type_name)

    return parse


def check(request: Any) -> None:
    if type(request) is Undecodable:
        refused = InvalidArgument.single("", "the bytes do not decode as this method's request")
        refused.message = f"the request is not a valid {request.type_name} message"
        raise refused
    check_request(request)


async def checked_each(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The streamed requests, each checked as it arrives; a bad one ends the call."""
    index = 0
    async for request in requests:
        try:
            check(request)
        except InvalidArgument as refused:
            at = f"[{index}]"
            renamed = InvalidArgument(
                [
                    FieldViolation(f"{at}.{v.field}" if v.field else at, v.description)
                    for v in refused.violations
                ]
            )
            if type(request) is Undecodable:
                renamed.message = f"{refused.message} (message {index} of the stream)"
            raise renamed from None
        yield request
        index += 1
