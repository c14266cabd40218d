"""Page tokens for List calls: opaque to callers, the last id of the page inside. Lists are
ordered by id (ULIDs sort by creation), so "after this id" is a stable cursor."""

from __future__ import annotations

import base64
import binascii
import json

from billing.domain.errors import InvalidArgument
from billing.domain.limits import PAGE_SIZE_DEFAULT as DEFAULT_PAGE_SIZE
from billing.domain.limits import PAGE_SIZE_MAX as MAX_PAGE_SIZE


def page_limit(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument.single("page_size", "must not be negative")
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode()


def decode_page_token(token: str) -> str | None:
    """The id to continue after, or None for the first page."""
    if not token:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument.single("page_token", "is not a token this server issued") from None
    if not isinstance(after, str):
        raise InvalidArgument.single("page_token", "is not a token this server issued")
    return after
