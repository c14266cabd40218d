"""The edge's checks of every request, before any handler sees it: bytes that do not decode,
string fields holding a payment card number, and messages past the contract's limits
(`billing.api.validation`) are INVALID_ARGUMENT.

Card numbers (ADR 0039): the request's raw bytes are searched once for 13 digits in a row
(spaces and dashes ignored) as they are decoded; only a request with one (a `MayHoldCard`) has
its string fields walked, so the others pay one byte search, no walk. The card check runs
before the limit checks: a limit's message may quote a map key, and that key may be the card.

The last step of the edge's interceptor (`billing.api.interceptors`), after auth and the rate
limit, so a caller without a valid token learns nothing about the request checks, and the
error step turns the refusal into its status and details.
Unary, server-streaming and client-streaming methods alike; a streamed request is checked as
each message arrives, the path of a bad field naming the message (`[4].events[2].id`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from billing.api.validation import check_card_numbers, check_request
from billing.domain.card_numbers import may_hold_card_number
from billing.domain.errors import FieldViolation, InvalidArgument

Deserializer = Callable[[bytes], Any]


class Undecodable:
    """What a request's bytes became when they were not a valid message of its type."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


class MayHoldCard:
    """A decoded request whose bytes hold a run of 13 or more digits: its string fields are
    searched for card numbers before the handler gets `message`."""

    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


def tolerant(deserialize: Deserializer) -> Deserializer:
    """`deserialize` that never raises: gRPC would answer UNKNOWN with the exception's text;
    the check then answers INVALID_ARGUMENT in plain words instead. A request whose bytes may
    hold a card number comes wrapped in `MayHoldCard`."""
    owner = getattr(deserialize, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    type_name = getattr(descriptor, "full_name", "request")

    def parse(data: bytes) -> Any:
        try:
            message = deserialize(data)
        except Exception:  # DecodeError, or anything a parser may raise on hostile bytes
            return Undecodable(type_name)
        return MayHoldCard(message) if may_hold_card_number(data) else message

    return parse


def check(request: Any) -> Any:
    """The request to hand to the method, once checked; InvalidArgument if it fails."""
    kind = type(request)
    if kind is MayHoldCard:
        request = request.message
        check_card_numbers(request)
    elif kind is Undecodable:
        refused = InvalidArgument.single("", "the bytes do not decode as this method's request")
        refused.message = f"the request is not a valid {request.type_name} message"
        raise refused
    check_request(request)
    return request


async def checked_each(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The streamed requests, each checked as it arrives; a bad one ends the call."""
    index = 0
    async for received in requests:
        try:
            request = check(received)
        except InvalidArgument as refused:
            at = f"[{index}]"
            renamed = type(refused)(
                [
                    FieldViolation(f"{at}.{v.field}" if v.field else at, v.description)
                    for v in refused.violations
                ]
            )
            if type(received) is Undecodable:
                renamed.message = f"{refused.message} (message {index} of the stream)"
            raise renamed from None
        yield request
        index += 1
