"""Many ids as one bound value: a statement whose text does not change with their number.

`IN (:id_1, …, :id_200)` is a new statement for every count of ids — compiled again by
SQLAlchemy, parsed again by the driver and never prepared by the server. One array
(PostgreSQL) or one JSON text (SQLite, read back with `json_each`) keeps the text fixed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, any_, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(
    session: Session, column: Any, ids: Sequence[Any], name: str = "ids"
) -> ColumnElement[bool]:
    """`column IN ids`, with the ids as one bound value."""
    found: ColumnElement[bool]
    if is_postgresql(session):
        found = column == any_(bindparam(name, list(ids), type_=ARRAY(column.type)))
    else:
        each = func.json_each(bindparam(name, json.dumps(list(ids)))).table_valued("value")
        found = column.in_(select(each.c.value))
    return found


def lock_existing(session: Session, key: Any, ids: Sequence[Any]) -> Select[Any]:
    """The ids of `key`'s table among `ids` — on PostgreSQL each row locked (FOR UPDATE) in
    the order of `ids`: one index probe a wanted id (a LATERAL join over the unnested
    array), so two pushes of the same records lock them in the same order and wait for each
    other instead of deadlocking. SQLite has one writer and needs no row locks."""
    if not is_postgresql(session):
        return select(key).where(among(session, key, ids)).order_by(key)
    wanted = (
        func.unnest(bindparam("ids", list(ids), type_=ARRAY(key.type)))
        .table_valued("id")
        .render_derived(name="wanted")
    )
    locked = select(key.label("found")).where(key == wanted.c.id).with_for_update()
    row = locked.lateral("locked")
    return select(row.c.found).select_from(wanted).join(row, true())
