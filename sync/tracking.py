"""Change tracking: every commit that touches a synced record stamps it with a cursor.

The cursor is taken from the one-row clock just before the commit (`UPDATE … RETURNING`),
and the clock row stays locked until the commit ends. So a writer that takes cursor n
commits before any writer can take n + 1, and a pull that reads the committed clock value
T sees every change stamped ≤ T: nothing commits later with a lower cursor (guarantee 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Select,
    String,
    Text,
    bindparam,
    cast,
    column,
    event,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import get_history

from sync.registry import Registry
from sync.tables import SyncTables

PENDING = "sync_pending"  # session.info key: {(table, id): Touch}
SCOPE_EVENTS = "sync_scope_events"  # session.info key: [(user_key, scope_key, granted)]
ORIGIN = "sync_origin"  # session.info key: the device whose push this session applies
PUSHED = "sync_pushed"  # session.info key: {(table, id)} the device sent in this push
SAVED = "sync_saved"  # session.info key: {savepoint: (journal, scope events, bulk) lengths}
JOURNAL = "sync_journal"  # session.info key: [(key, Touch before, or None)] while savepoints
BULK = "sync_bulk"  # session.info key: [(table, select of (id, scope key))] set-wise touches


@dataclass
class Touch:
    table: str
    record_id: str
    scope_key: int | None
    prev_scope_key: int | None
    deleted: bool
    created: bool
    by_server: bool = False  # the server changed it (not just as the pushing device sent it)
    server_record: bool = False  # the server made it (e.g. a rejection): nobody's echo
    recreate: bool = False  # send it as `created` again (a phone destroyed its copy)


def touch(
    session: Session,
    table: str,
    record_id: str,
    scope_key: int | None,
    *,
    deleted: bool = False,
    created: bool = False,
    by_server: bool = False,
    server_record: bool = False,
) -> None:
    """Mark a record changed in this transaction (for writes that bypass the ORM)."""
    pending: dict[tuple[str, str], Touch] = session.info.setdefault(PENDING, {})
    key = (table, record_id)
    before = pending.get(key)
    if session.in_nested_transaction():
        # What a savepoint rolled back must undo: the entry as it was (a copy: callers
        # adjust the new entry in place). O(1) a touch, not a copy of all at each savepoint.
        journal: list[tuple[tuple[str, str], Touch | None]] = session.info.setdefault(JOURNAL, [])
        journal.append((key, replace(before) if before is not None else None))
    pending[key] = Touch(
        table,
        record_id,
        scope_key,
        before.prev_scope_key if before else None,
        deleted,
        created or bool(before and before.created),
        by_server or bool(before and before.by_server),
        server_record or bool(before and before.server_record),
        bool(before and before.recreate),
    )


def touch_selected(session: Session, table: str, query: Select[Any]) -> None:
    """Mark every record `query` selects changed by the server in this transaction, set-wise.

    `query` selects two columns: the record's id and its scope key. It runs once,
    at the outermost commit, inside one `INSERT … SELECT … ON CONFLICT` into the change log
    (one statement per call, whatever the number of records): the records it finds then are
    stamped with the commit's cursor, as changed by the server (every device in scope pulls
    them again, the one that pushed them too). For writes that change what a record looks
    like to devices without touching its row (a photo it lists was removed)."""
    session.info.setdefault(BULK, []).append((table, query))


def scope_changed(session: Session, user_key: int, scope_key: int, granted: bool) -> None:
    """Record that a user gained or lost a scope key (a collector's grid)."""
    session.info.setdefault(SCOPE_EVENTS, []).append((user_key, scope_key, granted))


def tick(conn: Connection, tables: SyncTables) -> int:
    """Take the next cursor; the clock row stays locked until this transaction ends."""
    bump = (
        update(tables.clock)
        .where(tables.clock.c.id == 1)
        .values(value=tables.clock.c.value + 1)
        .returning(tables.clock.c.value)
    )
    value = conn.execute(bump).scalar()
    if value is None:  # an emptied database: start the clock again
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(tables.clock).values(id=1, value=1).on_conflict_do_nothing())
        value = conn.execute(bump).scalar_one()
    return int(value)


def committed_cursor(conn: Connection, tables: SyncTables) -> int:
    value = conn.execute(select(tables.clock.c.value).where(tables.clock.c.id == 1)).scalar()
    return int(value or 0)


def install(session_class: Any, registry: Registry, tables: SyncTables) -> None:
    """Listen on the host's session class (or sessionmaker) for changes to registered models.

    Records are stamped once, when the outermost transaction commits; a savepoint rolled
    back forgets what was touched inside it."""

    @event.listens_for(session_class, "after_flush")
    def _collect(session: Session, _ctx: Any) -> None:
        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            spec = registry.for_model(type(obj))
            if spec is None:
                continue
            is_new = obj in session.new
            is_deleted = obj in session.deleted
            if not (is_new or is_deleted or session.is_modified(obj)):
                continue
            scope = spec.scope_of(obj)
            prev = None
            if not is_new and spec.scope_column is not None:
                prev = _previous_scope(obj, spec.scope_column, scope)
            touch(session, spec.name, spec.id_of(obj), scope, deleted=is_deleted, created=is_new)
            if prev is not None:
                session.info[PENDING][(spec.name, spec.id_of(obj))].prev_scope_key = prev

    @event.listens_for(session_class, "before_commit")
    def _stamp(session: Session) -> None:
        session.flush()  # after_flush collects what this flush writes
        if session.in_nested_transaction():
            # A savepoint released (e.g. one pushed record): take the clock once, at the
            # outermost commit, so it is locked for the last moment only (and always last).
            return
        session.info.pop(SAVED, None)
        session.info.pop(JOURNAL, None)
        pending: dict[tuple[str, str], Touch] = session.info.pop(PENDING, {})
        events: list[tuple[int, int, bool]] = session.info.pop(SCOPE_EVENTS, [])
        origin = session.info.pop(ORIGIN, None)
        pushed: set[tuple[str, str]] = session.info.pop(PUSHED, set())
        bulk: list[tuple[str, Select[Any]]] = session.info.pop(BULK, [])
        if not pending and not events and not bulk:
            return
        conn = session.connection()
        touches = list(pending.values())
        cursor = None
        if pending and conn.dialect.name == "postgresql":
            # the clock taken in the statement that stamps the rows: one round trip
            cursor = _tick_and_upsert(conn, tables, touches, origin, pushed)
        if cursor is None:
            cursor = tick(conn, tables)
            if pending:
                _upsert_rows(conn, tables, touches, cursor, origin, pushed)
        elif any(t.recreate for t in touches):
            _recreate(conn, tables, touches)
        for table, query in bulk:
            _upsert_selected(conn, tables, table, query, cursor)
        if events:
            conn.execute(
                tables.scope_events.insert(),
                [
                    {"user_key": u, "scope_key": k, "granted": g, "cursor": cursor}
                    for u, k, g in events
                ],
            )

    @event.listens_for(session_class, "after_transaction_create")
    def _save(session: Session, transaction: Any) -> None:
        if transaction.nested:
            saved = session.info.setdefault(SAVED, {})
            saved[transaction] = (
                len(session.info.get(JOURNAL, ())),
                len(session.info.get(SCOPE_EVENTS, ())),
                len(session.info.get(BULK, ())),
            )

    @event.listens_for(session_class, "after_soft_rollback")
    def _forget(session: Session, previous: Any) -> None:
        if previous.nested:  # a savepoint undone: forget what was touched inside it only
            saved = session.info.get(SAVED, {}).pop(previous, None)
            if saved is not None:
                journal_at, events_at, bulk_at = saved
                pending = session.info.setdefault(PENDING, {})
                journal = session.info.get(JOURNAL, [])
                for key, before in reversed(journal[journal_at:]):
                    if before is None:
                        pending.pop(key, None)
                    else:
                        pending[key] = before
                del journal[journal_at:]
                del session.info.setdefault(SCOPE_EVENTS, [])[events_at:]
                del session.info.setdefault(BULK, [])[bulk_at:]
        elif previous.parent is None:  # the outermost transaction rolled back
            for key in (PENDING, SCOPE_EVENTS, SAVED, JOURNAL, ORIGIN, PUSHED, BULK):
                session.info.pop(key, None)


def _previous_scope(obj: Any, column: str, now: int | None) -> int | None:
    """The scope key before this flush, when the table's scope column changed (a record
    moved)."""
    if object_session(obj) is None:
        return None
    hist = get_history(obj, column)
    if hist.deleted:
        old = hist.deleted[0]
        return int(old) if old is not None and old != now else None
    return None


def _row_values(
    touches: list[Touch], origin: str | None, pushed: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The change-log columns of the touched records but their cursors. Only records the
    device itself sent carry its origin: what its push caused elsewhere (a case moved on by
    its action, a new event) is news to it as much as to anyone."""

    def own(t: Touch) -> str | None:
        return origin if (t.table, t.record_id) in pushed else None

    return [
        {
            "table_name": t.table,
            "record_id": t.record_id,
            "scope_key": t.scope_key,
            "prev_scope_key": t.prev_scope_key,
            "origin_device": None if t.by_server or t.server_record else own(t),
            "creator_device": None if t.server_record else own(t),
            "deleted": t.deleted,
        }
        for t in touches
    ]


def _recordset(values: list[dict[str, Any]]) -> Any:
    """PostgreSQL: the rows as one bound JSON text read back by `json_to_recordset` (one
    short statement and one bound text for any number of records: a multi-row VALUES costs
    more to build and parse than to run; arrays cost the driver a conversion per column)."""
    payload = json.dumps(values, separators=(",", ":"))
    return (
        func.json_to_recordset(cast(bindparam("rows", payload, type_=Text), JSON))
        .table_valued(*(column(name, kind) for name, kind in _COLUMNS.items()))
        .render_derived(name="r", with_types=True)
    )


def _on_conflict(stmt: Any, rows: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=[rows.c.table_name, rows.c.record_id],
        set_={
            "cursor": stmt.excluded.cursor,
            "scope_key": stmt.excluded.scope_key,
            # keep the last known other scope so devices there get a delete
            "prev_scope_key": _coalesce_prev(stmt, rows),
            "origin_device": stmt.excluded.origin_device,
            "deleted": stmt.excluded.deleted,
        },
    )


def _tick_and_upsert(
    conn: Connection,
    tables: SyncTables,
    touches: list[Touch],
    origin: str | None,
    pushed: set[tuple[str, str]],
) -> int | None:
    """PostgreSQL: take the next cursor and stamp the touched records in one statement
    (`WITH tick AS (UPDATE sync_clock … RETURNING value) INSERT INTO sync_rows … SELECT …
    FROM json_to_recordset(:rows), tick`): the clock row is locked before any change-log
    row, as with two statements, a round trip less. None when the clock row is missing
    (an emptied database): the caller starts the clock again."""
    rows, clock = tables.rows, tables.clock
    bump = (
        update(clock)
        .where(clock.c.id == 1)
        .values(value=clock.c.value + 1)
        .returning(clock.c.value)
    ).cte("tick")
    records = _recordset(_row_values(touches, origin, pushed))
    source = (
        select(*(records.c[name] for name in _COLUMNS), bump.c.value, bump.c.value)
        .select_from(records)
        .join(bump, true())
    )
    stmt = postgresql.insert(rows).from_select([*_COLUMNS, "cursor", "created_cursor"], source)
    stmt = _on_conflict(stmt, rows).add_cte(bump).returning(rows.c.cursor)
    value = conn.execute(stmt).scalars().first()
    return None if value is None else int(value)


def _upsert_rows(
    conn: Connection,
    tables: SyncTables,
    touches: list[Touch],
    cursor: int,
    origin: str | None,
    pushed: set[tuple[str, str]],
) -> None:
    """Stamp the touched records with `cursor` (see `_row_values`)."""
    rows = tables.rows
    values = _row_values(touches, origin, pushed)
    if conn.dialect.name == "postgresql":
        records = _recordset(values)
        source = select(
            *(records.c[name] for name in _COLUMNS),
            literal(cursor, BigInteger()),
            literal(cursor, BigInteger()),
        )
        upsert = postgresql.insert(rows).from_select(
            [*_COLUMNS, "cursor", "created_cursor"], source
        )
        conn.execute(_on_conflict(upsert, rows))
    else:
        # SQLite: one INSERT … SELECT FROM json_each(:rows) (`WHERE true`: SQLite's upsert
        # after a SELECT needs a WHERE to parse)
        each = func.json_each(bindparam("rows", json.dumps(values), type_=Text)).table_valued(
            "value"
        )
        source = select(
            *(func.json_extract(each.c.value, f"$.{name}") for name in _COLUMNS),
            literal(cursor, BigInteger()),
            literal(cursor, BigInteger()),
        ).where(true())
        insert = sqlite.insert(rows).from_select([*_COLUMNS, "cursor", "created_cursor"], source)
        conn.execute(_on_conflict(insert, rows))
    _recreate(conn, tables, touches)


def _recreate(conn: Connection, tables: SyncTables, touches: list[Touch]) -> None:
    """Records a phone destroyed its copy of go out as `created` again."""
    rows = tables.rows
    recreated = [{"t": t.table, "r": t.record_id} for t in touches if t.recreate]
    if recreated:
        conn.execute(
            update(rows)
            .where(rows.c.table_name == bindparam("t"), rows.c.record_id == bindparam("r"))
            .values(created_cursor=rows.c.cursor, creator_device=None),
            recreated,
        )


def _upsert_selected(
    conn: Connection, tables: SyncTables, table: str, query: Select[Any], cursor: int
) -> None:
    """Stamp every record `query` selects (id, scope key) with `cursor`, as the server's
    change: one INSERT … SELECT … ON CONFLICT DO UPDATE."""
    rows = tables.rows
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    found = query.subquery("touched")
    record_id, scope_key = list(found.c)[:2]
    source = select(
        literal(table, String()),
        cast(record_id, String()),
        literal(cursor, BigInteger()),
        literal(cursor, BigInteger()),
        cast(scope_key, BigInteger()),
        literal(False, Boolean()),
    )
    # DISTINCT: PostgreSQL refuses to update one row twice in a statement; a WHERE: SQLite's
    # INSERT … SELECT … ON CONFLICT needs one
    source = source.where(record_id.is_not(None)).distinct()
    stmt = insert(rows).from_select(
        ["table_name", "record_id", "cursor", "created_cursor", "scope_key", "deleted"], source
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[rows.c.table_name, rows.c.record_id],
        set_={
            "cursor": stmt.excluded.cursor,
            "scope_key": stmt.excluded.scope_key,
            "prev_scope_key": _coalesce_prev(stmt, rows),
            "origin_device": None,  # the server's change: news to every device in scope
            "deleted": stmt.excluded.deleted,
        },
    )
    conn.execute(stmt)


_COLUMNS: dict[str, Any] = {
    "table_name": String,
    "record_id": String,
    "scope_key": BigInteger,
    "prev_scope_key": BigInteger,
    "origin_device": String,
    "creator_device": String,
    "deleted": Boolean,
}


def _coalesce_prev(stmt: Any, rows: Any) -> Any:
    from sqlalchemy import case

    return case(
        (stmt.excluded.prev_scope_key.is_not(None), stmt.excluded.prev_scope_key),
        (rows.c.scope_key != stmt.excluded.scope_key, rows.c.scope_key),
        else_=rows.c.prev_scope_key,
    )
