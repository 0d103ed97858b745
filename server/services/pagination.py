"""Keyset pagination: an opaque cursor naming the last id seen, so deep pages cost the same."""

from __future__ import annotations

import base64
import json
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, literal, tuple_

from server.errors import DomainError
from server.extensions import db

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


def encode_keyset(sort: str, value: Any, row_id: str) -> str:
    """A cursor for keyset pages ordered by (value, id), e.g. (created_at, id)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps({"s": sort, "v": value, "id": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_keyset(cursor: str, sort: str) -> tuple[Any, str]:
    """(value, id) after which the page starts; 400 `invalid_cursor` if it is not ours or
    was made for another sort order."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort or not isinstance(data["id"], str):
            raise ValueError(data)
        value = data["v"]
        if value is not None:
            value = datetime.fromisoformat(value)
        return value, data["id"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise _invalid_cursor() from exc


def _invalid_cursor() -> DomainError:
    return DomainError(
        "invalid_cursor",
        "cursor: not a cursor this API returned",
        "字段 cursor：不是本接口返回的分页游标",
        field="cursor",
        status=400,
    )


def keyset_page(
    stmt: Select[Any],
    id_col: Any,
    column: Any,
    *,
    sort: str,
    desc: bool,
    cursor: str | None,
    limit: int,
    rows: bool = False,
) -> Page[Any]:
    """One page of `stmt` ordered by (column, id), starting after the cursor's row. The
    row-value comparison lets a (…, column, id) index give a range scan: a deep page costs
    what the first does. `rows`: the page holds the select's rows (which must name the
    sort column and `id`) instead of its first column's objects."""
    if cursor:
        value, last_id = decode_keyset(cursor, sort)
        key = tuple_(column, id_col)
        after = tuple_(literal(value, column.type), literal(last_id))
        stmt = stmt.where(key < after if desc else key > after)
    order = (column.desc(), id_col.desc()) if desc else (column.asc(), id_col.asc())
    ordered = stmt.order_by(*order).limit(bindparam("page_limit", limit + 1, literal_execute=True))
    items: list[Any] = (
        plain_rows(db.session.execute(ordered)) if rows else list(db.session.scalars(ordered))
    )
    more = len(items) > limit
    items = items[:limit]
    next_cursor = (
        encode_keyset(sort, getattr(items[-1], column.key), items[-1].id)
        if more and items
        else None
    )
    return Page(items=items, next_cursor=next_cursor)


def plain_rows(result: Any) -> list[Any]:
    """A result's rows as named tuples: their attributes read faster than SQLAlchemy `Row`s'
    when a page's presenter reads every column of every row."""
    keys = list(result.keys())
    row_type = _row_types.get(tuple(keys))
    if row_type is None:
        row_type = _row_types.setdefault(tuple(keys), namedtuple("PageRow", keys, rename=True))  # type: ignore[misc]
    return [row_type._make(r) for r in result]


_row_types: dict[tuple[str, ...], Any] = {}
