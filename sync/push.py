"""Push: apply a device's changes whole, refuse single records on their merits, or 409.

- PushConflict (409, nothing applied): a pushed record that some other writer changed after
  the device's `last_pulled_at`. The device's own earlier writes never conflict, so a
  push retried after a lost response goes through.
- Replay: the same body with the same `last_pulled_at` from the same device returns the
  stored answer and changes nothing (guarantee 2).
- Refusal: `Refused` from a table's `apply` undoes that record only (a savepoint), is
  stored as a `sync_rejections` row and reported in `experimentalRejectedIds`; the record
  is touched so the device's next pull carries the server's version (guarantee 5).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sync.idsets import among, lock_existing
from sync.registry import DeviceContext, Operation, Raw, Refused, Registry, SyncTable
from sync.tables import SyncTables
from sync.tracking import ORIGIN, PENDING, PUSHED, Touch, touch

OPERATIONS: tuple[Operation, ...] = ("created", "updated", "deleted")
LOCAL_COLUMNS = frozenset({"id", "_status", "_changed"})
REJECTIONS = "sync_rejections"

log = logging.getLogger(__name__)


class PushError(Exception):
    """The push as a whole is malformed (400) — a client bug, not a record's merits."""

    def __init__(self, code: str, message: str, message_zh: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.message_zh, self.field = code, message, message_zh, field


@dataclass
class PushConflict(Exception):
    """Records changed on the server after the device's last pull: {table: [ids]}."""

    records: dict[str, list[str]]


@dataclass
class PushResult:
    rejected: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)  # updates, deletions
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    replayed: bool = False

    def response(self) -> dict[str, Any]:
        return {"experimentalRejectedIds": self.rejected} if self.rejected else {}


def digest_of(last_pulled_at: int | None, body: bytes) -> str:
    return hashlib.sha256(f"{last_pulled_at}\n".encode() + body).hexdigest()


def parse_changes(registry: Registry, body: Any) -> dict[str, dict[str, list[Any]]]:
    """Check the shape of `{table: {created, updated, deleted}}`; 400 if it is not that."""
    if not isinstance(body, dict):
        raise PushError(
            "sync_bad_body", "the body must be an object of tables", "请求体应为按表分组的对象"
        )
    changes: dict[str, dict[str, list[Any]]] = {}
    for name, ops in body.items():
        if registry.get(name) is None:
            raise PushError(
                "sync_unknown_table",
                f"unknown table {name!r}: pull the schema again",
                f"未知的表 {name!r}，请重新获取同步结构",
                field=str(name)[:64],
            )
        if not isinstance(ops, dict) or set(ops) - set(OPERATIONS):
            raise PushError(
                "sync_bad_table_changes",
                f"{name}: expected created, updated and deleted lists",
                f"{name}：应为 created、updated、deleted 三个列表",
                field=name,
            )
        parsed: dict[str, list[Any]] = {}
        for op in OPERATIONS:
            items = ops.get(op, [])
            if not isinstance(items, list):
                raise PushError(
                    "sync_bad_table_changes",
                    f"{name}.{op} must be a list",
                    f"{name}.{op} 应为列表",
                    field=f"{name}.{op}",
                )
            for item in items:
                rid = (
                    item
                    if op == "deleted"
                    else (item.get("id") if isinstance(item, dict) else None)
                )
                if not _valid_id(rid):
                    raise PushError(
                        "sync_bad_record_id",
                        f"{name}.{op}: every record needs a string id of 1-64 characters "
                        "[A-Za-z0-9_-]",
                        f"{name}.{op}：每条记录需要 1–64 位的字符串 id（字母、数字、_、-）",
                        field=f"{name}.{op}",
                    )
            parsed[op] = items
        changes[name] = parsed
    return changes


_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _valid_id(rid: Any) -> bool:
    return isinstance(rid, str) and _ID.fullmatch(rid) is not None


def find_conflicts(
    session: Session,
    registry: Registry,
    tables: SyncTables,
    device: DeviceContext,
    changes: Mapping[str, Mapping[str, list[Any]]],
    last_pulled_at: int | None,
    existing: dict[str, set[str]] | None = None,
) -> dict[str, list[str]]:
    """Pushed records another writer changed after `last_pulled_at`. The records' own rows
    are locked first (PostgreSQL), so none can change between this check and the commit;
    the ids found are added to `existing` (by table)."""
    rows = tables.rows
    conflicts: dict[str, list[str]] = {}
    for name, ops in changes.items():
        ids = [r["id"] for r in ops.get("created", []) + ops.get("updated", [])]
        ids += list(ops.get("deleted", []))
        if not ids:
            continue
        found = _lock_records(session, registry.get(name), ids)
        if existing is not None and found is not None:
            existing[name] = found
        # A read of its own, after the locks: the change log of records just locked is
        # settled (a concurrent push of them has committed its stamps by now).
        stmt = select(rows.c.record_id, rows.c.cursor, rows.c.origin_device).where(
            rows.c.table_name == name, among(session, rows.c.record_id, sorted(set(ids)))
        )
        for rid, cursor, origin in session.execute(stmt):
            if origin == device.device_id:
                continue  # the device's own write (maybe from a push whose answer was lost)
            if last_pulled_at is None or cursor > last_pulled_at:
                conflicts.setdefault(name, []).append(rid)
    return conflicts


def _lock_records(session: Session, spec: SyncTable | None, ids: list[str]) -> set[str] | None:
    """Lock the pushed records that exist (FOR UPDATE, in id order: two pushes of the same
    records wait for each other instead of deadlocking; SQLite has one writer and needs no
    row locks) in one statement whatever their number (`idsets.lock_existing`). The clock
    is taken after every other lock, at the push's end, so waits never form a cycle through
    it. Returns the ids that exist (None: not known)."""
    if spec is None or spec.model is None:
        return None
    key = sa_inspect(spec.model).primary_key[0]
    wanted = sorted({str(i) for i in ids})
    if key.type.python_type is int:
        wanted_keys: list[Any] = sorted(int(i) for i in wanted if i.isdigit() and len(i) < 10)
    else:
        wanted_keys = list(wanted)
    if not wanted_keys:
        return set()
    return {str(k) for k in session.scalars(lock_existing(session, key, wanted_keys))}


def apply_changes(
    session: Session,
    registry: Registry,
    tables: SyncTables,
    device: DeviceContext,
    changes: Mapping[str, Mapping[str, list[Any]]],
    existing: Mapping[str, set[str]] | None = None,
) -> PushResult:
    """Apply every record (parents' tables first); refusals become rejections. New records
    of a table with `apply_many` go in together (checked first, then written set-wise), and
    so do changes to existing records of a table with `apply_edits` (ids locked by this push
    and named once in it); the others one by one, each in a savepoint of the caller's
    transaction (a refusal found after part of a record was written undoes that part).
    Nothing is committed here."""
    result = PushResult()
    session.info[ORIGIN] = device.device_id  # cleared when the outermost transaction ends
    pushed: set[tuple[str, str]] = session.info.setdefault(PUSHED, set())
    applied: dict[str, list[Raw]] = {}
    refusals: list[Refusal] = []  # stored together at the end (set-wise)
    for spec in registry.tables:
        ops = changes.get(spec.name)
        if not ops:
            continue
        known = existing.get(spec.name) if existing is not None else None
        once = _once(ops) if spec.apply_edits is not None and known else frozenset()
        for op in OPERATIONS:
            items = ops.get(op, [])
            if op == "created" and spec.apply_many is not None and known is not None:
                items = _apply_new(session, spec, device, items, known, result, refusals)
            if op != "deleted" and once:
                assert known is not None
                edits = _apply_edits(session, spec, device, op, items, known & once, result)
                items, edit_refusals, edited = edits
                refusals += edit_refusals
                if edited:
                    applied.setdefault(spec.name, []).extend(edited)
            loaded = _load(session, spec, [i["id"] for i in items]) if op != "deleted" else []
            for item in items:
                raw: Raw = {"id": item} if op == "deleted" else item
                pushed.add((spec.name, raw["id"]))
                refused = _apply_one(session, spec, device, op, raw)
                if refused is not None:
                    refusals.append(Refusal(spec, op, raw, refused))
                if refused is None:
                    counts = result.counts.setdefault(spec.name, {})
                    counts[op] = counts.get(op, 0) + 1
                    if op != "deleted":
                        applied.setdefault(spec.name, []).append(raw)
                elif op == "created":
                    result.rejected.setdefault(spec.name, []).append(raw["id"])
                else:
                    # A refused update or deletion is not listed: WatermelonDB keeps listed
                    # records pending and its local edit wins over every pull (markAsSynced,
                    # resolveConflict), so it would push it forever and never show the
                    # server's version. Unlisted, it is marked synced, and the next pull
                    # brings the server's version (a deleted record back as `created`).
                    result.refused.setdefault(spec.name, []).append(raw["id"])
            del loaded  # held so far: the session keeps only referenced records
    for name, raws in applied.items():
        _send_back_what_differs(session, registry.get(name), raws)
    _store_refusals(session, tables, device, refusals)
    session.flush()
    return result


def _once(ops: Mapping[str, list[Any]]) -> frozenset[str]:
    """The ids the push names once for this table (a record sent twice goes one by one, in
    the order sent)."""
    seen: set[str] = set()
    twice: set[str] = set()
    for op in OPERATIONS:
        for item in ops.get(op, []):
            rid = item if op == "deleted" else item["id"]
            (twice if rid in seen else seen).add(rid)
    return frozenset(seen - twice)


def _apply_edits(
    session: Session,
    spec: SyncTable,
    device: DeviceContext,
    op: Operation,
    items: list[Any],
    editable: set[str] | frozenset[str],
    result: PushResult,
) -> tuple[list[Any], list[Refusal], list[Raw]]:
    """Apply the changes to existing records (ids locked by this push and named once in it)
    set-wise through the table's `apply_edits`: what the engine refuses by itself is refused
    first, the host checks every change before it writes any, one flush writes them. Returns
    the records left for one-by-one application, the refusals, and the records applied."""
    edits: list[Raw] = []
    rest: list[Any] = []
    refusals: list[Refusal] = []
    pushed: set[tuple[str, str]] = session.info.setdefault(PUSHED, set())
    for raw in items:
        if raw["id"] not in editable:
            rest.append(raw)
            continue
        pushed.add((spec.name, raw["id"]))
        try:
            _check_record(spec, op, raw)
        except Refused as refused:
            refusals.append(Refusal(spec, op, raw, refused))
            _listed(result, spec, op, raw["id"])
            continue
        edits.append(raw)
    if not edits:
        return rest, refusals, []
    assert spec.apply_edits is not None
    answers = spec.apply_edits(session, device, [(op, r, _changed_columns(r)) for r in edits])
    session.flush()
    applied: list[Raw] = []
    for raw, answer in zip(edits, answers, strict=True):
        if isinstance(answer, Refused):
            refusals.append(Refusal(spec, op, raw, answer))
            _listed(result, spec, op, raw["id"])
            continue
        counts = result.counts.setdefault(spec.name, {})
        counts[op] = counts.get(op, 0) + 1
        applied.append(raw)
        if answer and spec.model is not None:  # the device must get back what the server made
            obj = session.get(spec.model, raw["id"])
            if obj is not None:
                touch(session, spec.name, spec.id_of(obj), spec.scope_of(obj), by_server=True)
    return rest, refusals, applied


def _listed(result: PushResult, spec: SyncTable, op: Operation, rid: str) -> None:
    """A refused creation is listed in `experimentalRejectedIds`; a refused update or
    deletion is not (see `apply_changes`)."""
    if op == "created":
        result.rejected.setdefault(spec.name, []).append(rid)
    else:
        result.refused.setdefault(spec.name, []).append(rid)


@dataclass
class Refusal:
    spec: SyncTable
    op: Operation
    raw: Raw
    refused: Refused
    ids: list[str] | None = None  # many bare ids refused alike (one rejection row for all)


def _apply_new(
    session: Session,
    spec: SyncTable,
    device: DeviceContext,
    items: list[Any],
    known: set[str],
    result: PushResult,
    refusals: list[Refusal],
) -> list[Any]:
    """Create the table's new records set-wise; returns the records left for one-by-one
    application (existing ids, and a second copy of an id within the push). Refusals are
    listed and kept in the order sent, as one by one."""
    fresh: list[Raw] = []
    rest: list[Any] = []
    seen: set[str] = set()
    refused_first: dict[int, Refused] = {}  # what the engine refuses by itself, by position
    for raw in items:
        if raw["id"] in known or raw["id"] in seen:
            rest.append(raw)
            continue
        seen.add(raw["id"])
        try:
            _check_record(spec, "created", raw)
        except Refused as refused:
            refused_first[id(raw)] = refused
            continue
        fresh.append(raw)
    answers: dict[int, tuple[int | None, bool] | Refused] = dict(refused_first)
    if fresh:
        assert spec.apply_many is not None
        answers.update(zip(map(id, fresh), spec.apply_many(session, device, fresh), strict=True))
    pushed: set[tuple[str, str]] = session.info[PUSHED]
    for raw in items:
        answer = answers.pop(id(raw), None)
        if answer is None:
            continue  # left for one by one
        if isinstance(answer, Refused):
            refusals.append(Refusal(spec, "created", raw, answer))
            result.rejected.setdefault(spec.name, []).append(raw["id"])
            continue
        pushed.add((spec.name, raw["id"]))
        scope_key, server_changed = answer
        touch(session, spec.name, raw["id"], scope_key, created=True, by_server=server_changed)
        counts = result.counts.setdefault(spec.name, {})
        counts["created"] = counts.get("created", 0) + 1
    return rest


def _load(session: Session, spec: SyncTable, ids: list[str]) -> list[Any]:
    """Read the records a batch will apply one by one in one SELECT per 500: each `apply`
    then finds its record in the session instead of reading it alone. Returned so the
    caller's list keeps them in the session until it is done."""
    if spec.model is None:
        return []
    key = sa_inspect(spec.model).primary_key[0]
    if key.type.python_type is int:
        return []  # ids are text on the wire; integer keys are rarely pushed
    loaded: list[Any] = []
    for start in range(0, len(ids), 500):
        loaded += session.scalars(select(spec.model).where(key.in_(ids[start : start + 500])))
    return loaded


def _send_back_what_differs(session: Session, spec: SyncTable | None, raws: list[Raw]) -> None:
    """A record stored otherwise than the device sent it (the server numbered, converted,
    tidied or versioned it) goes back to that device: no echo only for exact copies."""
    if spec is None or spec.model is None:
        return
    for start in range(0, len(raws), 500):
        batch = raws[start : start + 500]
        stored = {r["id"]: r for r in spec.to_raws(session, [r["id"] for r in batch])}
        differ = [
            raw["id"]
            for raw in batch
            if (now := stored.get(raw["id"])) is not None
            and any(k in now and now[k] != v for k, v in raw.items() if k not in LOCAL_COLUMNS)
        ]
        if not differ:
            continue
        key = sa_inspect(spec.model).primary_key[0]
        if key.type.python_type is int:
            objs = [session.get(spec.model, int(rid)) for rid in differ if rid.isdigit()]
        else:  # one read for all of them (most are in the session already)
            objs = list(session.scalars(select(spec.model).where(key.in_(differ))))
        for obj in objs:
            if obj is not None:
                touch(session, spec.name, spec.id_of(obj), spec.scope_of(obj), by_server=True)


def _apply_one(
    session: Session,
    spec: SyncTable,
    device: DeviceContext,
    op: Operation,
    raw: Raw,
) -> Refused | None:
    """One record in a savepoint: a refusal undoes that record only (with whatever it
    touched or queued), and nothing of it remains; what the engine can refuse by itself
    (a read-only table, a forbidden operation, an unknown column) is refused before any
    savepoint. Database failures are not caught: the whole push fails and is retried.
    Returns the refusal, or None when applied."""
    try:
        _check_record(spec, op, raw)
    except Refused as error:
        return error
    refused: Refused | None = None
    try:
        with session.begin_nested():
            try:
                assert spec.apply is not None
                server_changed = spec.apply(session, device, op, raw, _changed_columns(raw))
                session.flush()
            except Refused as error:
                if not error.keep_applied:
                    raise
                session.flush()  # the part the device may change stays; the rest is refused
                refused, server_changed = error, False
            if server_changed and spec.model is not None:
                # The device must get back what the server made of its record.
                obj = session.get(spec.model, raw["id"])
                if obj is not None:
                    touch(session, spec.name, spec.id_of(obj), spec.scope_of(obj), by_server=True)
    except (Refused, TypeError, ValueError, AttributeError, KeyError, IndexError) as error:
        # A record the host could not even read (a wrong type where its checks missed one)
        # is refused like any other bad record: one odd record must not block a phone.
        refused = error if isinstance(error, Refused) else _unreadable(spec, error)
    return refused


def _unreadable(spec: SyncTable, error: Exception) -> Refused:
    log.warning("sync: unreadable %s record refused: %r", spec.name, error, exc_info=error)
    return Refused(
        "sync_invalid_record",
        f"the {spec.name} record has a value of the wrong type",
        f"{spec.name} 记录中有类型不正确的值",
    )


def _check_record(spec: SyncTable, op: Operation, raw: Raw) -> None:
    if spec.apply is None:
        raise Refused(
            "sync_read_only_table",
            f"{spec.name} is read-only on devices",
            f"设备不能修改 {spec.name}",
            field=spec.name,
        )
    if spec.create_only and op != "created":
        raise Refused(
            "sync_create_only",
            f"{spec.name} records can only be created",
            f"{spec.name} 只能新建，不能修改或删除",
            field=spec.name,
        )
    if op == "deleted":
        if spec.no_delete is not None:
            refused = spec.no_delete
            raise Refused(refused.code, refused.message, refused.message_zh, refused.field)
        return
    unknown = sorted(set(raw) - spec.column_names() - LOCAL_COLUMNS)
    if unknown:
        raise Refused(
            "sync_unknown_column",
            f"unknown column {unknown[0]!r} in {spec.name}",
            f"{spec.name} 没有字段 {unknown[0]!r}",
            field=unknown[0][:64],
        )


def _changed_columns(raw: Raw) -> frozenset[str]:
    changed = raw.get("_changed")
    if isinstance(changed, str) and changed:
        return frozenset(c for c in changed.split(",") if c)
    return frozenset()


def _store_refusals(
    session: Session, tables: SyncTables, device: DeviceContext, refusals: list[Refusal]
) -> None:
    """Keep the push's refusals (once per identical payload: a record refused again as it
    was is not stored twice) and send the device the truth — set-wise: one read of the
    records' change-log entries and of the device's earlier rejections per table, one
    INSERT. A refused record that exists in the device's scope is touched, so the next pull
    brings the server's version back (a refused deletion as `created`: the phone destroyed
    its copy); not for records outside its scope: a refusal there must not disturb their
    owners."""
    if not refusals:
        return
    rows, rej = tables.rows, tables.rejections
    ids: dict[str, set[str]] = {}
    for r in refusals:
        ids.setdefault(r.spec.name, set()).add(r.raw["id"])
    logged: dict[tuple[str, str], Any] = {}
    stored: set[tuple[str, str, str]] = set()
    for table, wanted in ids.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            for row in session.execute(
                select(rows.c.record_id, rows.c.scope_key, rows.c.deleted).where(
                    rows.c.table_name == table, rows.c.record_id.in_(chunk)
                )
            ):
                logged[(table, row.record_id)] = row
            for rid, digest in session.execute(
                select(rej.c.record_id, rej.c.payload_digest).where(
                    rej.c.device_id == device.device_id,
                    rej.c.table_name == table,
                    rej.c.record_id.in_(chunk),
                )
            ):
                stored.add((table, rid, digest))
    now = datetime.now(UTC)
    values: list[dict[str, Any]] = []
    send_back: list[tuple[str, str, int | None, bool]] = []
    refusals = _group_bare(refusals, logged)
    for r in refusals:
        spec, raw, refused = r.spec, r.raw, r.refused
        if r.ids:  # many bare ids refused alike (e.g. deletions): one row for all of them
            values.append(
                _rejection_row(device, r, {"ids": r.ids}, logged, now)
                | {"message": f"{refused.message} ({len(r.ids)} records)"}
                | {"message_zh": f"{refused.message_zh}（共 {len(r.ids)} 条）"}
            )
            for rid in r.ids:
                entry = logged.get((spec.name, rid))
                keys = device.scope.get(spec.scope_kind, ())
                if entry is not None and not entry.deleted and entry.scope_key in keys:
                    send_back.append((spec.name, rid, entry.scope_key, r.op == "deleted"))
            continue
        payload = {k: v for k, v in raw.items() if k not in ("_status",)}
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(encoded.encode()).hexdigest()
        entry = logged.get((spec.name, raw["id"]))
        record_exists = entry is not None and not entry.deleted
        new = (spec.name, raw["id"], digest) not in stored
        if new:
            stored.add((spec.name, raw["id"], digest))
            values.append(_rejection_row(device, r, json.loads(encoded), logged, now))
        in_scope = entry is not None and entry.scope_key in device.scope.get(spec.scope_kind, ())
        if record_exists and entry is not None and in_scope and (new or r.op != "created"):
            send_back.append((spec.name, raw["id"], entry.scope_key, r.op == "deleted"))
    if values:
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        # executemany of one statement; a concurrent push of the same refusal is skipped
        session.execute(insert(rej).on_conflict_do_nothing(), values)
        for v in values:
            touch(session, REJECTIONS, v["id"], device.user_key, created=True, server_record=True)
    pending: dict[tuple[str, str], Touch] = session.info.setdefault(PENDING, {})
    for table, rid, scope_key, recreate in send_back:
        # The device gets the server's version back, even if it was its own last write.
        touch(session, table, rid, scope_key, by_server=True)
        pending[(table, rid)].created = False
        pending[(table, rid)].recreate = recreate


def _group_bare(refusals: list[Refusal], logged: Mapping[tuple[str, str], Any]) -> list[Refusal]:
    """Refusals that carry nothing but the record's id (deletions) and were refused alike
    (same table, operation, reason, and whether the record exists) become one refusal
    listing the ids: a push of 1,000 refused deletions is one row, not 1,000 rows that
    differ only in the id. Refusals with content (what the phone typed, which it may copy
    into a new record) stay one each."""
    groups: dict[tuple[Any, ...], list[Refusal]] = {}
    out: list[Refusal] = []
    for r in refusals:
        if set(r.raw) - {"_status", "_changed"} != {"id"}:
            out.append(r)
            continue
        entry = logged.get((r.spec.name, r.raw["id"]))
        exists = entry is not None and not entry.deleted
        f = r.refused
        key = (r.spec.name, r.op, f.code, f.message, f.message_zh, f.field, exists)
        groups.setdefault(key, []).append(r)
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        ids = sorted({m.raw["id"] for m in members})
        first = members[0]
        out.append(Refusal(first.spec, first.op, {"id": ids[0]}, first.refused, ids))
    return out


def _rejection_row(
    device: DeviceContext,
    r: Refusal,
    payload: dict[str, Any],
    logged: Mapping[tuple[str, str], Any],
    now: datetime,
) -> dict[str, Any]:
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    entry = logged.get((r.spec.name, r.raw["id"]))
    return {
        "id": uuid.uuid4().hex,
        "device_id": device.device_id,
        "user_key": device.user_key,
        "group_key": device.group_key,
        "table_name": r.spec.name,
        "record_id": r.raw["id"],
        "operation": r.op,
        "code": r.refused.code,
        "message": r.refused.message,
        "message_zh": r.refused.message_zh,
        "field": r.refused.field,
        "payload": payload,
        "payload_digest": hashlib.sha256(encoded.encode()).hexdigest(),
        "record_exists": entry is not None and not entry.deleted,
        "created_at": now,
    }
