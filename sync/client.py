"""The reference offline client of the sync protocol: a phone in a few hundred lines.

It speaks the WatermelonDB sync protocol (docs/sync.md) against a Minqing server and keeps
a local SQLite store shaped like WatermelonDB's: one table per synced table, each row the
record's raw JSON plus `_status` (`created` / `updated` / `deleted` / `synced`) and
`_changed` (the columns edited locally since the last sync). The tests and the chaos and
load scripts use it to play many phones; it imports nothing from `server`.

    client = SyncClient("http://127.0.0.1:5000", token, "phone.db")
    client.sync()                                   # first sync: reference data, grids
    log_id = client.create("patrol_logs", {...})    # offline
    client.sync()                                   # pull, then push the local changes

`sync()` is WatermelonDB's `synchronize()`:

- **pull** — `GET /api/v1/sync/pull?last_pulled_at=N`, applied in one local transaction
  with the new cursor: a remote record replaces a synced local one; for a locally edited
  one the locally changed columns win over the remote values; a locally deleted record stays
  deleted (its deletion is pushed next); a remote delete destroys the local record.
- **push** — only the locally changed records, `POST /api/v1/sync/push?last_pulled_at=N`.
  Records are marked synced only after a 200, and only if they did not change again while
  the push was in flight. On 409 (the server changed a pushed record after our pull) it
  pulls again and retries the push. Pending photos (`attach()`) are uploaded first
  (`HEAD`, then `PUT /api/v1/sync/attachments/{sha256}` when the server lacks them).

Rejected records (`experimentalRejectedIds`): WatermelonDB keeps them dirty and pushes them
again forever. This client instead takes the server's truth: it drops its local version of
each rejected record and pulls at once; the server sends its current version of the record
(or its deletion, if it never held the record) and a `sync_rejections` row saying why, which
the app can show (`client.all("sync_rejections")`). A refused change thus never blocks later
pushes, and the phone never shows what the server does not hold. (Minqing lists only refused
creations; a refused update or deletion is answered as accepted — a WatermelonDB app would
otherwise push it forever — and the next pull brings the server's version back, which this
client applies like any remote change.)

Network errors, connection refused, dropped responses and 5xx are retried with exponential
backoff and full jitter (429 too, waiting at least its Retry-After). A push retried after a
lost response relies on the server's idempotency: the same push again is answered from the
server's record of it, and a device's own earlier writes never count as conflicts.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import sqlite3
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

API = "/api/v1/sync"
STATUSES = ("created", "updated", "deleted", "synced")
_ID_ALPHABET = string.ascii_letters + string.digits
_INTERNAL = ("_status", "_changed")


class SyncError(Exception):
    """The server refused a request for good (4xx other than 409), or retries ran out."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class Unauthorized(SyncError):
    """401: the device's token is unknown or revoked; nothing was synced."""


class ServerConflict(SyncError):
    """409 on push: the server changed a pushed record after our pull; nothing was applied."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: sleep U(0, min(cap, base·2^n)) before retry n."""

    attempts: int = 12
    base_s: float = 0.1
    cap_s: float = 3.0
    conflict_retries: int = 5  # pull-and-push-again rounds after a 409

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2**attempt)))


@dataclass
class SyncStats:
    """What one client went through (the chaos script sums them)."""

    requests: int = 0
    retries: int = 0  # requests sent again after a network error or a 5xx
    pulls: int = 0
    pushes: int = 0  # push requests answered 200
    conflicts: int = 0  # 409s
    rejected: int = 0  # records the server refused on their merits
    uploads: int = 0  # attachments PUT
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # parsed JSON, or None


def new_id() -> str:
    """A WatermelonDB-style record id: 16 random letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def _check_name(name: str) -> str:
    """A server's table name, safe to quote in SQL and clear of our own `_meta` tables."""
    if (
        not name
        or not all(c.isascii() and (c.isalnum() or c == "_") for c in name)
        or not name[0].isalpha()
        or name.lower().startswith("sqlite_")
    ):
        raise ValueError(f"not a table name: {name!r}")
    return name


class SyncClient:
    """One device: a local store, its cursor, and the pull/push loop."""

    def __init__(
        self,
        server_url: str,
        token: str,
        path: str = ":memory:",
        *,
        app_version: str = "minqing-reference-client/1",
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.app_version = app_version
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.stats = SyncStats()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS _attachments (
                sha256 TEXT PRIMARY KEY, data BLOB NOT NULL, uploaded INTEGER NOT NULL DEFAULT 0
            );
            """
        )
        self._tables: set[str] = {
            row[0]
            for row in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' "
                "ESCAPE '\\'"
            )
        }

    # ------------------------------------------------------------------ local store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _ensure_table(self, table: str) -> None:
        if table in self._tables:
            return
        _check_name(table)
        self._db.execute(
            f'CREATE TABLE IF NOT EXISTS "{table}" (id TEXT PRIMARY KEY, raw TEXT NOT NULL, '
            "_status TEXT NOT NULL, _changed TEXT NOT NULL DEFAULT '')"
        )
        self._tables.add(table)

    def _row(self, table: str, record_id: str) -> tuple[dict[str, Any], str, str] | None:
        if table not in self._tables:
            return None
        row = self._db.execute(
            f'SELECT raw, _status, _changed FROM "{table}" WHERE id = ?', (record_id,)
        ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), row[1], row[2]

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO _meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def last_pulled_at(self) -> int | None:
        with self._lock:
            value = self._meta("last_pulled_at")
        return None if value is None else int(value)

    def create(self, table: str, record: Mapping[str, Any], record_id: str | None = None) -> str:
        """Create a record offline; its id is the device's (random unless given)."""
        record_id = record_id or new_id()
        raw = {k: v for k, v in record.items() if k not in ("id", *_INTERNAL)}
        raw["id"] = record_id
        with self._transaction() as db:
            self._ensure_table(table)
            if self._row(table, record_id) is not None:
                raise ValueError(f"{table}#{record_id} already exists")
            db.execute(
                f'INSERT INTO "{table}" (id, raw, _status, _changed) '
                "VALUES (?, ?, 'created', '')",
                (record_id, json.dumps(raw)),
            )
        return record_id

    def update(self, table: str, record_id: str, changes: Mapping[str, Any]) -> None:
        """Edit a record offline; the edited columns win over the server's in the next pull."""
        with self._transaction() as db:
            current = self._row(table, record_id)
            if current is None or current[1] == "deleted":
                raise KeyError(f"{table}#{record_id} does not exist")
            raw, status, changed = current
            columns = [c for c in changes if c not in ("id", *_INTERNAL)]
            raw.update({c: changes[c] for c in columns})
            # Like WatermelonDB: a created record stays `created` but still records its edited
            # columns, so that they win if the server's version of it arrives before our push's
            # answer does (a push whose response was lost).
            merged = [c for c in changed.split(",") if c]
            merged += [c for c in columns if c not in merged]
            db.execute(
                f'UPDATE "{table}" SET raw = ?, _status = ?, _changed = ? WHERE id = ?',
                (
                    json.dumps(raw),
                    "created" if status == "created" else "updated",
                    ",".join(merged),
                    record_id,
                ),
            )

    def delete(self, table: str, record_id: str) -> None:
        """Delete offline: marked `deleted` and pushed (even if never pushed: an earlier push
        may have reached the server without our hearing back), destroyed after the push."""
        with self._transaction() as db:
            current = self._row(table, record_id)
            if current is None or current[1] == "deleted":
                raise KeyError(f"{table}#{record_id} does not exist")
            db.execute(f"UPDATE \"{table}\" SET _status = 'deleted' WHERE id = ?", (record_id,))

    def get(self, table: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            current = self._row(table, record_id)
        if current is None or current[1] == "deleted":
            return None
        return current[0]

    def all(self, table: str) -> list[dict[str, Any]]:
        """The table's records as the app sees them (not the locally deleted), by id."""
        with self._lock:
            if table not in self._tables:
                return []
            rows = self._db.execute(
                f"SELECT raw FROM \"{table}\" WHERE _status <> 'deleted' ORDER BY id"
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def status(self, table: str, record_id: str) -> tuple[str, list[str]] | None:
        """The record's `_status` and `_changed` columns (for tests and diagnostics)."""
        with self._lock:
            current = self._row(table, record_id)
        if current is None:
            return None
        return current[1], [c for c in current[2].split(",") if c]

    def tables(self) -> list[str]:
        with self._lock:
            return sorted(self._tables)

    def has_local_changes(self) -> bool:
        with self._lock:
            return any(self._local_changes().values()) or bool(self._pending_attachments())

    def attach(self, data: bytes) -> str:
        """Keep a photo for upload at the next sync; its SHA-256 goes in a `photos` column."""
        digest = hashlib.sha256(data).hexdigest()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO _attachments (sha256, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (digest, data),
            )
        return digest

    # ------------------------------------------------------------------ HTTP

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200,),
    ) -> Response:
        """One request, retried on network errors and 5xx; 401 and other 4xx raise at once."""
        url = self.server_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "X-App-Version": self.app_version,
        }
        if body is not None:
            headers["Content-Type"] = content_type
        last: str = ""
        told_to_wait = 0.0  # a 429's Retry-After
        for attempt in range(self.retry.attempts):
            if attempt:
                self.stats.retries += 1
                self.sleep(max(told_to_wait, self.retry.delay(attempt - 1, self.rng)))
                told_to_wait = 0.0
            self.stats.requests += 1
            request = urllib.request.Request(url, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                    status, payload = answer.status, answer.read()
            except urllib.error.HTTPError as err:
                status, payload = err.code, err.read()
                told_to_wait = _retry_after(err.headers.get("Retry-After")) if status == 429 else 0
            except OSError as err:  # refused, reset, dropped response, timeout
                self.stats.error(type(err).__name__)
                last = f"{type(err).__name__}: {err}"
                continue
            parsed = _parse(payload)
            if status >= 500 or status == 429:
                self.stats.error(f"http_{status}")
                last = f"HTTP {status}: {payload[:300]!r}"
                continue
            if status in ok:
                return Response(status, parsed)
            if status == 401:
                raise Unauthorized("the device token was refused", status, parsed)
            if status == 409:
                raise ServerConflict("the server changed a pushed record", status, parsed)
            raise SyncError(f"{method} {path}: HTTP {status}: {parsed!r}", status, parsed)
        raise SyncError(f"{method} {path}: gave up after {self.retry.attempts} attempts: {last}")

    # ------------------------------------------------------------------ sync

    def fetch_schema(self) -> dict[str, Any]:
        """The server's appSchema; creates the local tables and remembers the version."""
        schema: dict[str, Any] = self._request("GET", f"{API}/schema").body
        with self._transaction():
            for table in schema.get("tables", []):
                self._ensure_table(str(table["name"]))
            self._set_meta("schema_version", str(int(schema["version"])))
        return schema

    def sync(self) -> None:
        """Pull, then push the local changes; on 409 pull again and push again."""
        if self._meta_locked("schema_version") is None:
            self.fetch_schema()
        for _ in range(self.retry.conflict_retries + 1):
            self.pull()
            try:
                rejected = self.push()
            except ServerConflict:
                self.stats.conflicts += 1
                continue
            if rejected:
                self.pull()  # the server's truth for what it refused
            return
        raise SyncError(f"push still conflicting after {self.retry.conflict_retries} pulls")

    def _meta_locked(self, key: str) -> str | None:
        with self._lock:
            return self._meta(key)

    def pull(self) -> int:
        """Fetch and apply the server's changes since our cursor; the new cursor."""
        query: dict[str, str] = {}
        cursor = self.last_pulled_at
        if cursor is not None:
            query["last_pulled_at"] = str(cursor)
        version = self._meta_locked("schema_version")
        if version is not None:
            query["schema_version"] = version
        body = self._request("GET", f"{API}/pull", query=query).body
        if not isinstance(body, dict) or not isinstance(body.get("timestamp"), int):
            raise SyncError(f"malformed pull response: {body!r}")
        with self._transaction():
            for table, changes in (body.get("changes") or {}).items():
                self._apply_remote(table, changes)
            self._set_meta("last_pulled_at", str(body["timestamp"]))
        self.stats.pulls += 1
        return int(body["timestamp"])

    def _apply_remote(self, table: str, changes: Mapping[str, Any]) -> None:
        self._ensure_table(table)
        for raw in [*changes.get("created", []), *changes.get("updated", [])]:
            remote = {k: v for k, v in raw.items() if k not in _INTERNAL}
            record_id = str(remote["id"])
            current = self._row(table, record_id)
            if current is None or current[1] == "synced":
                self._db.execute(
                    f'INSERT INTO "{table}" (id, raw, _status, _changed) '
                    "VALUES (?, ?, 'synced', '') ON CONFLICT (id) DO UPDATE SET "
                    "raw = excluded.raw, _status = 'synced', _changed = ''",
                    (record_id, json.dumps(remote)),
                )
                continue
            local, status, changed = current
            if status == "deleted":
                continue  # our deletion is pushed next; the server's copy must not resurrect it
            columns = [c for c in changed.split(",") if c]
            merged = {**local, **remote, **{c: local[c] for c in columns if c in local}}
            self._db.execute(
                f'UPDATE "{table}" SET raw = ? WHERE id = ?', (json.dumps(merged), record_id)
            )
        deleted = [str(i) for i in changes.get("deleted", [])]
        if deleted:
            self._db.executemany(f'DELETE FROM "{table}" WHERE id = ?', [(i,) for i in deleted])

    def _local_changes(self) -> dict[str, dict[str, list[Any]]]:
        changes: dict[str, dict[str, list[Any]]] = {}
        for table in sorted(self._tables):
            rows = self._db.execute(
                f"SELECT id, raw, _status, _changed FROM \"{table}\" WHERE _status <> 'synced'"
            ).fetchall()
            if not rows:
                continue
            entry: dict[str, list[Any]] = {"created": [], "updated": [], "deleted": []}
            for record_id, raw, status, changed in rows:
                if status == "deleted":
                    entry["deleted"].append(record_id)
                else:
                    # WatermelonDB sends its bookkeeping columns too; the server ignores them.
                    entry[status].append(
                        {**json.loads(raw), "_status": status, "_changed": changed}
                    )
            changes[table] = entry
        return changes

    def _pending_attachments(self) -> list[str]:
        return [
            r[0] for r in self._db.execute("SELECT sha256 FROM _attachments WHERE uploaded = 0")
        ]

    def upload_attachments(self) -> int:
        """Upload the photos the server lacks (`HEAD`, then `PUT`); how many were sent."""
        with self._lock:
            pending = self._pending_attachments()
        sent = 0
        for digest in pending:
            path = f"{API}/attachments/{digest}"
            state = 1
            if self._request("HEAD", path, ok=(200, 404)).status == 404:
                with self._lock:
                    data = self._db.execute(
                        "SELECT data FROM _attachments WHERE sha256 = ?", (digest,)
                    ).fetchone()[0]
                try:
                    self._request(
                        "PUT",
                        path,
                        body=bytes(data),
                        content_type="application/octet-stream",
                        ok=(200, 201, 204),
                    )
                    self.stats.uploads += 1
                    sent += 1
                except SyncError as err:
                    if err.status is None or err.status in (401, 409):
                        raise
                    # Refused for good (not an image, too large): it must not block the
                    # records; the server refuses those that name it, and says why.
                    self.stats.error(f"attachment_{err.status}")
                    state = -1
            with self._transaction() as db:
                db.execute("UPDATE _attachments SET uploaded = ? WHERE sha256 = ?", (state, digest))
        return sent

    def push(self) -> int:
        """Push the local changes; how many records the server rejected. Raises ServerConflict."""
        self.upload_attachments()
        with self._lock:
            changes = self._local_changes()
            snapshot = {
                (table, record_id): (raw, status)
                for table in changes
                for record_id, raw, status in self._db.execute(
                    f"SELECT id, raw, _status FROM \"{table}\" WHERE _status <> 'synced'"
                )
            }
            cursor = self._meta("last_pulled_at")
        if not changes:
            return 0
        query = {"last_pulled_at": cursor if cursor is not None else "null"}
        body = json.dumps(changes, ensure_ascii=False).encode()
        answer = self._request("POST", f"{API}/push", query=query, body=body).body
        self.stats.pushes += 1
        rejected: set[tuple[str, str]] = set()
        if isinstance(answer, dict):
            for table, ids in (answer.get("experimentalRejectedIds") or {}).items():
                rejected.update((str(table), str(i)) for i in ids)
        self.stats.rejected += len(rejected)
        with self._transaction() as db:
            for (table, record_id), (raw, status) in snapshot.items():
                if (table, record_id) in rejected:
                    db.execute(f'DELETE FROM "{table}" WHERE id = ?', (record_id,))
                    continue
                now = db.execute(
                    f'SELECT raw, _status FROM "{table}" WHERE id = ?', (record_id,)
                ).fetchone()
                if now is None or (now[0], now[1]) != (raw, status):
                    continue  # edited while the push was in flight: push it again next time
                if status == "deleted":
                    db.execute(f'DELETE FROM "{table}" WHERE id = ?', (record_id,))
                else:
                    db.execute(
                        f"UPDATE \"{table}\" SET _status = 'synced', _changed = '' WHERE id = ?",
                        (record_id,),
                    )
        return len(rejected)


def _retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (at most a minute); 0 if absent or a date."""
    try:
        return min(max(float(value or 0), 0.0), 60.0)
    except ValueError:
        return 0.0


def _parse(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None
