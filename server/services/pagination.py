"""Keyset pagination: an opaque cursor naming the last id seen, so deep pages cost the same."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from server.errors import DomainError

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: int | str) -> str:
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id after which the page starts; 400 with field `cursor` when it is not ours."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = data["after"]
        if not isinstance(after, int) or isinstance(after, bool):
            raise ValueError(after)
        return after
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise DomainError(
            "invalid_cursor",
            "cursor: not a cursor this API returned",
            "字段 cursor：不是本接口返回的分页游标",
            field="cursor",
            status=400,
        ) from exc
