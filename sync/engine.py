"""The sync engine's use cases: schema, pull, push; and the device bookkeeping around them.

A pull reads (and commits its device log line). A push works inside the caller's
transaction and never commits: the host opens one unit of work around it, commits once,
and logs what it did with `record`.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sync.pull import PullPlan, plan_pull, scope_ids, write_pull
from sync.push import (
    REJECTIONS,
    PushConflict,
    PushError,
    PushResult,
    apply_changes,
    digest_of,
    find_conflicts,
    parse_changes,
)
from sync.registry import DeviceContext, Raw, Registry, SyncColumn, SyncTable
from sync.tables import SyncTables

SPOOL_BYTES = 4 * 1024 * 1024  # a pull larger than this is spooled to disk, not RAM


@dataclass
class Pulled:
    body: IO[str]  # positioned at 0
    timestamp: int
    counts: dict[str, dict[str, int]]


class SyncEngine:
    def __init__(self, registry: Registry, tables: SyncTables, horizon_days: int) -> None:
        self.registry = registry
        self.tables = tables
        self.horizon_days = horizon_days
        if registry.get(REJECTIONS) is None:
            registry.add(self._rejections_table())

    # --- schema --------------------------------------------------------------------------
    def schema(self) -> dict[str, Any]:
        return self.registry.app_schema()

    # --- pull ----------------------------------------------------------------------------
    def pull(
        self,
        session: Session,
        device: DeviceContext,
        last_pulled_at: int | None,
        schema_version: int | None = None,
        migration: dict[str, Any] | None = None,
    ) -> Pulled:
        started = time.monotonic()
        if schema_version is not None and schema_version > self.registry.version:
            raise PushError(
                "sync_schema_too_new",
                f"schema_version {schema_version} is newer than the server's "
                f"{self.registry.version}",
                f"客户端结构版本 {schema_version} 高于服务器的 {self.registry.version}",
                field="schema_version",
            )
        horizon = datetime.now(UTC) - timedelta(days=self.horizon_days)
        plan = plan_pull(session, self.registry, self.tables, device, last_pulled_at, horizon)
        if last_pulled_at:
            self._add_migration(session, plan, device, migration, horizon)
            self._delete_refused_creations(session, plan, device)
        out: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed to the response
            max_size=SPOOL_BYTES, mode="w+", encoding="utf-8"
        )
        counts = write_pull(session, plan, self.registry.tables, out, device)
        session.rollback()  # a pull writes nothing to the synced tables
        self.record(
            session,
            device,
            "pull",
            last_pulled_at,
            plan.timestamp,
            counts,
            started,
            schema_version=schema_version,
        )
        session.commit()  # the device log only
        out.seek(0)
        return Pulled(out, plan.timestamp, counts)

    def _add_migration(
        self,
        session: Session,
        plan: PullPlan,
        device: DeviceContext,
        migration: dict[str, Any] | None,
        horizon: datetime,
    ) -> None:
        """A client that migrated its schema needs whole new tables / re-sent records."""
        if not migration:
            return
        wanted_tables = set(migration.get("tables") or [])
        wanted_columns = {c.get("table") for c in migration.get("columns") or [] if c}
        for spec in self.registry.tables:
            if spec.name not in wanted_tables | wanted_columns:
                continue
            keys = device.scope.get(spec.scope_kind, frozenset())
            ids = scope_ids(session, self.tables, spec, keys, horizon, plan.timestamp)
            changes = plan.tables[spec.name]
            have = set(changes.created) | set(changes.updated) | set(changes.deleted)
            target = changes.created if spec.name in wanted_tables else changes.updated
            target.extend(i for i in ids if i not in have)

    def _delete_refused_creations(
        self, session: Session, plan: PullPlan, device: DeviceContext
    ) -> None:
        """A record the server refused to create does not exist: the device drops its copy."""
        ids = plan.tables[REJECTIONS].created + plan.tables[REJECTIONS].updated
        if not ids:
            return
        rej = self.tables.rejections
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(rej.c.table_name, rej.c.record_id, rej.c.payload).where(
                    rej.c.id.in_(ids[start : start + 500]),
                    rej.c.device_id == device.device_id,
                    rej.c.record_exists.is_(False),
                )
            )
            for table, first_id, payload in rows:
                changes = plan.tables.get(table)
                if changes is None:
                    continue
                # a grouped rejection's payload is {"ids": [...]} (a refused record's has "id")
                grouped = (
                    payload.get("ids")
                    if isinstance(payload, dict) and "id" not in payload
                    else None
                )
                for record_id in grouped if isinstance(grouped, list) else [first_id]:
                    if record_id not in changes.deleted:
                        changes.deleted.append(record_id)
                    for listed in (changes.created, changes.updated):
                        if record_id in listed:
                            listed.remove(record_id)

    # --- push ----------------------------------------------------------------------------
    def push(
        self,
        session: Session,
        device: DeviceContext,
        last_pulled_at: int | None,
        body: bytes,
        decoded: Any = None,
        started: float | None = None,
    ) -> PushResult:
        """Apply a push inside the caller's transaction, which the caller commits once (the
        host's unit of work); each record works in a savepoint of it. Raises PushError (400)
        or PushConflict (409): the caller then rolls back, and nothing is applied. A replay
        returns the stored answer and writes nothing. `decoded`: the body's JSON when the
        host has parsed it already (None: parsed here). `started` (the push's monotonic
        start): the push writes its device-log line itself, with its replay row (on
        PostgreSQL in the same statement); without it the caller calls `record`."""
        if decoded is None:
            try:
                decoded = json.loads(body or b"{}")
            except ValueError as exc:
                raise PushError(
                    "sync_bad_json", "the body is not valid JSON", "请求体不是有效的 JSON"
                ) from exc
        if isinstance(decoded, dict) and isinstance(decoded.get("changes"), dict):
            decoded = decoded["changes"]  # clients that wrap the changes
        changes = parse_changes(self.registry, decoded)
        digest = digest_of(last_pulled_at, body)
        # One round trip: a stored answer to this very push, and the committed clock.
        p, c = self.tables.pushes, self.tables.clock
        stored, clock = session.execute(
            select(
                select(p.c.response)
                .where(p.c.device_id == device.device_id, p.c.digest == digest)
                .scalar_subquery(),
                select(c.c.value).where(c.c.id == 1).scalar_subquery(),
            )
        ).one()
        if stored is not None:
            return PushResult(rejected=stored.get("experimentalRejectedIds", {}), replayed=True)
        clock = int(clock or 0)
        if last_pulled_at is not None and last_pulled_at > clock:
            # A cursor the server never gave (or a database restored from a backup):
            # conflicts cannot be judged, so the device must pull first.
            raise PushConflict({})
        existing: dict[str, set[str]] = {}
        conflicts = find_conflicts(
            session, self.registry, self.tables, device, changes, last_pulled_at, existing
        )
        if conflicts:
            raise PushConflict(conflicts)
        result = apply_changes(session, self.registry, self.tables, device, changes, existing)
        stored_push = insert(self.tables.pushes).values(
            device_id=device.device_id,
            digest=digest,
            response=result.response(),
            cursor=last_pulled_at or 0,
            created_at=datetime.now(UTC),
        )
        if started is None:
            session.execute(stored_push)
        else:
            counts = self.push_counts(result)
            self.record(
                session, device, "push", last_pulled_at, None, counts, started, also=stored_push
            )
        return result

    def replayed(self, session: Session, device: DeviceContext, digest: str) -> PushResult | None:
        """The stored answer to a push already applied (same device, same digest)."""
        p = self.tables.pushes
        stored = session.execute(
            select(p.c.response).where(p.c.device_id == device.device_id, p.c.digest == digest)
        ).scalar()
        if stored is None:
            return None
        return PushResult(rejected=stored.get("experimentalRejectedIds", {}), replayed=True)

    @staticmethod
    def push_counts(result: PushResult) -> dict[str, Any]:
        """What the device log keeps of a push."""
        counts: dict[str, Any] = dict(result.counts)
        if result.rejected:
            counts["rejected"] = {k: len(v) for k, v in result.rejected.items()}
        return counts

    # --- bookkeeping ---------------------------------------------------------------------
    def record(
        self,
        session: Session,
        device: DeviceContext,
        kind: str,
        last_pulled_at: int | None,
        cursor: int | None,
        counts: dict[str, Any],
        started: float,
        schema_version: int | None = None,
        also: Any = None,
    ) -> None:
        """The device's log line and counters; `also`, another INSERT of the same
        transaction (a push's replay row), goes in with them — on PostgreSQL the three
        writes are one statement (data-modifying CTEs), a round trip where there were three."""
        now = datetime.now(UTC)
        d = self.tables.devices
        values: dict[str, Any] = {}
        if kind == "pull":
            values = {"last_pulled_cursor": cursor, "last_pull_at": now, "pulls": d.c.pulls + 1}
            if schema_version is not None:
                values["schema_version"] = schema_version
        elif kind == "push":
            values = {"last_push_at": now, "pushes": d.c.pushes + 1}
        line = insert(self.tables.log).values(
            device_id=device.device_id,
            kind=kind,
            at=now,
            last_pulled_at=last_pulled_at,
            cursor=cursor,
            counts=counts,
            millis=int((time.monotonic() - started) * 1000),
        )
        if values and session.get_bind().dialect.name == "postgresql":
            bump = update(d).where(d.c.device_id == device.device_id).values(**values)
            bumped = bump.returning(d.c.device_id).cte("bumped")
            stmt = line.add_cte(bumped)
            if also is not None:
                stmt = stmt.add_cte(also.cte("also"))
            found = select(func.count()).select_from(bumped).scalar_subquery()
            if session.execute(stmt.returning(found)).scalar():
                return
            # A device's first sync: the line and `also` went in; the counters row is new.
            self._first_sync(session, device)
            session.execute(bump)
            return
        if also is not None:
            session.execute(also)
        if values:
            done = session.execute(
                update(d).where(d.c.device_id == device.device_id).values(**values)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                self._first_sync(session, device)
                session.execute(update(d).where(d.c.device_id == device.device_id).values(**values))
        session.execute(line)

    def _first_sync(self, session: Session, device: DeviceContext) -> None:
        """A device's counters row, at its first sync (two at once from one phone: both may
        get here)."""
        d = self.tables.devices
        dialect = session.get_bind().dialect.name
        first = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            first(d)
            .values(device_id=device.device_id, pulls=0, pushes=0, last_pulled_cursor=None)
            .on_conflict_do_nothing()
        )

    # --- the engine's own table ----------------------------------------------------------
    def _rejections_table(self) -> SyncTable:
        rej = self.tables.rejections

        def to_raws(session: Session, ids: Sequence[str]) -> list[Raw]:
            rows = session.execute(select(rej).where(rej.c.id.in_(list(ids))))
            return [
                {
                    "id": r.id,
                    "table_name": r.table_name,
                    "record_id": r.record_id,
                    "operation": r.operation,
                    "code": r.code,
                    "message": r.message,
                    "message_zh": r.message_zh,
                    "field": r.field,
                    "payload": json.dumps(r.payload, ensure_ascii=False),
                    "created_at": int(_aware(r.created_at).timestamp() * 1000),
                }
                for r in rows
            ]

        def in_scope(keys: frozenset[int], horizon: datetime | None) -> Any:
            stmt = select(rej.c.id.label("id")).where(rej.c.user_key.in_(sorted(keys)))
            if horizon is not None:
                stmt = stmt.where(rej.c.created_at >= horizon)
            return stmt

        return SyncTable(
            name=REJECTIONS,
            model=None,
            columns=[
                SyncColumn("table_name", "string"),
                SyncColumn("record_id", "string", indexed=True),
                SyncColumn("operation", "string"),
                SyncColumn("code", "string"),
                SyncColumn("message", "string"),
                SyncColumn("message_zh", "string"),
                SyncColumn("field", "string", optional=True),
                SyncColumn("payload", "string", optional=True),
                SyncColumn("created_at", "number"),
            ],
            scope_kind="user",
            scope_of=lambda _obj: None,
            to_raws=to_raws,
            in_scope=in_scope,
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
