"""Pull: what changed in a device's scope since its cursor, as WatermelonDB changes.

Cost follows the changes: the change log is read through (table, cursor) and (table,
scope, cursor) indexes from the device's cursor up to the committed clock value; records
are loaded in batches by id and written out as they are loaded. Only a first sync, or a
scope the device newly gained, reads a whole scope, bounded by the horizon.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sync.registry import DeviceContext, Raw, Registry, SyncTable
from sync.tables import SyncTables
from sync.tracking import committed_cursor

BATCH = 500


@dataclass
class TableChanges:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def count(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)


@dataclass
class PullPlan:
    timestamp: int
    tables: dict[str, TableChanges]
    scope: dict[str, frozenset[int]]

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            name: {"created": len(c.created), "updated": len(c.updated), "deleted": len(c.deleted)}
            for name, c in self.tables.items()
            if c.count()
        }


def plan_pull(
    session: Session,
    registry: Registry,
    tables: SyncTables,
    device: DeviceContext,
    last_pulled_at: int | None,
    horizon: datetime | None,
) -> PullPlan:
    """Decide which ids go out as created, updated or deleted (ids only, no records)."""
    conn = session.connection()
    timestamp = max(committed_cursor(conn, tables), 1)  # WatermelonDB refuses 0
    scope = dict(device.scope)
    out: dict[str, TableChanges] = {t.name: TableChanges() for t in registry.tables}
    # A cursor ahead of the clock (a database restored from a backup) means the device
    # may hold changes the server no longer knows of: start it again from its scope.
    if last_pulled_at is None or last_pulled_at <= 0 or last_pulled_at > timestamp:
        for spec in registry.tables:
            keys = scope.get(spec.scope_kind, frozenset())
            out[spec.name].created = scope_ids(session, tables, spec, keys, horizon, timestamp)
        return PullPlan(timestamp, out, scope)

    before = _scope_before(session, registry, tables, device, last_pulled_at, timestamp)
    for spec in registry.tables:
        now_keys = scope.get(spec.scope_kind, frozenset())
        old_keys = before.get(spec.scope_kind, now_keys)
        gained, lost = now_keys - old_keys, old_keys - now_keys
        changes = out[spec.name]
        seen: set[str] = set()
        if lost:
            lost_ids = _ids_with_keys(session, tables, spec, lost, timestamp)
            changes.deleted.extend(lost_ids)
            seen.update(lost_ids)
        if gained:
            for rid in scope_ids(session, tables, spec, gained, horizon, timestamp):
                if rid not in seen:
                    changes.created.append(rid)
                    seen.add(rid)
        _incremental(
            session, tables, spec, device, now_keys, last_pulled_at, timestamp, changes, seen
        )
    return PullPlan(timestamp, out, scope)


def _incremental(
    session: Session,
    tables: SyncTables,
    spec: SyncTable,
    device: DeviceContext,
    keys: frozenset[int],
    since: int,
    until: int,
    changes: TableChanges,
    seen: set[str],
) -> None:
    rows = tables.rows
    if not keys:
        return
    key_list = sorted(keys)
    stmt = (
        select(
            rows.c.record_id,
            rows.c.deleted,
            rows.c.created_cursor,
            rows.c.origin_device,
            rows.c.creator_device,
            rows.c.scope_key,
        )
        .where(
            rows.c.table_name == spec.name,
            rows.c.cursor > since,
            rows.c.cursor <= until,
            or_(rows.c.scope_key.in_(key_list), rows.c.prev_scope_key.in_(key_list)),
        )
        .order_by(rows.c.cursor)
    )
    for rid, deleted, created_cursor, origin, creator, scope_key in session.execute(stmt):
        if rid in seen:
            continue
        seen.add(rid)
        if origin == device.device_id and (deleted or scope_key in keys):
            continue  # the device's own change, applied as it sent it: no echo
        if deleted or scope_key not in keys:
            changes.deleted.append(rid)  # gone, or moved out of this device's scope
        elif created_cursor > since and creator != device.device_id:
            changes.created.append(rid)
        else:
            changes.updated.append(rid)


def scope_ids(
    session: Session,
    tables: SyncTables,
    spec: SyncTable,
    keys: frozenset[int],
    horizon: datetime | None,
    until: int,
) -> list[str]:
    """Live records of these scope keys within the horizon, committed up to `until`."""
    if not keys:
        return []
    rows = tables.rows
    wanted = spec.in_scope(keys, horizon).subquery()
    stmt = (
        select(rows.c.record_id)
        .join(wanted, wanted.c.id == rows.c.record_id)
        .where(
            rows.c.table_name == spec.name,
            rows.c.deleted.is_(False),
            rows.c.cursor <= until,
            rows.c.scope_key.in_(sorted(keys)),
        )
        .order_by(rows.c.record_id)
    )
    return [str(r) for r in session.scalars(stmt)]


def _ids_with_keys(
    session: Session, tables: SyncTables, spec: SyncTable, keys: frozenset[int], until: int
) -> list[str]:
    rows = tables.rows
    stmt = select(rows.c.record_id).where(
        rows.c.table_name == spec.name,
        rows.c.deleted.is_(False),
        rows.c.cursor <= until,
        rows.c.scope_key.in_(sorted(keys)),
    )
    return [str(r) for r in session.scalars(stmt)]


def _scope_before(
    session: Session,
    registry: Registry,
    tables: SyncTables,
    device: DeviceContext,
    since: int,
    until: int,
) -> dict[str, frozenset[int]]:
    """The device's scope as it was at `since`: today's, with later grants/revocations undone."""
    ev = tables.scope_events
    primary = registry.primary_scope
    now = set(device.scope.get(primary, frozenset()))
    events = session.execute(
        select(ev.c.scope_key, ev.c.granted)
        .where(ev.c.user_key == device.user_key, ev.c.cursor > since, ev.c.cursor <= until)
        .order_by(ev.c.cursor.desc(), ev.c.id.desc())
    ).all()
    if not events:
        return dict(device.scope)
    for key, granted in events:  # newest first: walk back in time
        if granted:
            now.discard(int(key))
        else:
            now.add(int(key))
    primary_keys = frozenset(now)
    before: dict[str, frozenset[int]] = {primary: primary_keys}
    if registry.derive_scope is not None:
        before.update(registry.derive_scope(session, primary_keys))
    for kind, keys in device.scope.items():
        before.setdefault(kind, keys)  # kinds that do not follow the primary scope
    return before


def write_pull(
    session: Session,
    plan: PullPlan,
    specs: Sequence[SyncTable],
    out: IO[str],
    device: DeviceContext,
) -> dict[str, dict[str, int]]:
    """Write `{changes, timestamp}` to `out`, loading records a batch at a time, each as
    `device` may see it (SyncTable.for_device)."""
    out.write('{"changes":{')
    counts: dict[str, dict[str, int]] = {}
    for t_index, spec in enumerate(specs):
        changes = plan.tables[spec.name]
        if t_index:
            out.write(",")
        out.write(json.dumps(spec.name) + ":{")
        n_created = _write_records(session, spec, changes.created, out, "created", device)
        out.write(",")
        n_updated = _write_records(session, spec, changes.updated, out, "updated", device)
        out.write(',"deleted":' + json.dumps(changes.deleted) + "}")
        if n_created or n_updated or changes.deleted:
            counts[spec.name] = {
                "created": n_created,
                "updated": n_updated,
                "deleted": len(changes.deleted),
            }
    out.write('},"timestamp":' + str(plan.timestamp) + "}")
    return counts


def _write_records(
    session: Session,
    spec: SyncTable,
    ids: list[str],
    out: IO[str],
    key: str,
    device: DeviceContext,
) -> int:
    out.write(json.dumps(key) + ":[")
    written = 0
    for start in range(0, len(ids), BATCH):
        raws: Iterable[Raw] = spec.to_raws(session, ids[start : start + BATCH])
        if spec.for_device is not None:
            raws = spec.for_device(session, device, list(raws))
        for raw in raws:
            if written:
                out.write(",")
            out.write(json.dumps(raw, ensure_ascii=False, separators=(",", ":")))
            written += 1
        session.expunge_all()  # keep memory flat across batches
    out.write("]")
    return written


def iter_chunks(stream: IO[str], size: int = 64 * 1024) -> Iterator[str]:
    stream.seek(0)
    while chunk := stream.read(size):
        yield chunk
