"""What the host application registers: its synced tables, their columns and callbacks.

The engine knows nothing of cases or grids. A table says which WatermelonDB columns it
has, how to turn its records into raws, how to apply a device's raw (or refuse it), what
scope a record falls in, and which records a scope holds within the first-sync horizon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select
from sqlalchemy.orm import Session

ColumnType = Literal["string", "number", "boolean"]
Operation = Literal["created", "updated", "deleted"]
Raw = dict[str, Any]


@dataclass(frozen=True)
class SyncColumn:
    name: str
    type: ColumnType
    optional: bool = False
    indexed: bool = False
    writable: bool = False  # may a device change it (on `updated`)?

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        out["isOptional"] = self.optional
        out["isIndexed"] = self.indexed
        return out


class Refused(Exception):
    """A device's change refused on its merits: it becomes a rejection, never a 4xx."""

    def __init__(
        self,
        code: str,
        message: str,
        message_zh: str,
        field: str | None = None,
        *,
        keep_applied: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.field = field
        # The host applied what the device may change and refuses the rest (not undone).
        self.keep_applied = keep_applied


@dataclass(frozen=True)
class DeviceContext:
    """The device asking, as the host resolved it from its token."""

    device_id: str
    user_key: int  # the collector: scope events and rejections are theirs
    group_key: int | None  # e.g. the subdistrict, where dispatchers list rejections
    scope: Mapping[str, frozenset[int]]  # scope kind -> keys, e.g. {"grid": {3, 4}}
    principal: Any = None  # the host's own notion of who asks, passed to callbacks


# Returns True when the stored record differs from what the device sent (server-made fields).
Apply = Callable[[Session, DeviceContext, Operation, Raw, frozenset[str]], bool]
# Creates many new records at once (ids the engine found free): every record is checked
# before any is written. The i-th answer is its refusal, or the stored record's scope key and
# whether it was stored otherwise than sent (then the device gets it back).
ApplyMany = Callable[[Session, DeviceContext, list[Raw]], list["tuple[int | None, bool] | Refused"]]
# One change to a record that exists: (operation, raw, the device's changed columns).
Edit = tuple[Operation, Raw, frozenset[str]]
# Applies many changes to existing records at once (ids the engine locked, each once in the
# push), with the answers `apply` would give: every change is checked before any is written,
# so a refused one leaves nothing (unless the refusal says `keep_applied`). The i-th answer
# is its refusal, or whether the stored record differs from what the device sent.
ApplyEdits = Callable[[Session, DeviceContext, list[Edit]], list["bool | Refused"]]


# (session, device, raws of one batch) -> the raws as this device may see them
Redact = Callable[[Session, DeviceContext, list[Raw]], Iterable[Raw]]


@dataclass(frozen=True)
class SyncTable:
    """One synced table. `pushable` tables accept device changes through `apply`."""

    name: str
    model: type[Any] | None  # the ORM class whose rows it tracks (None: engine-written)
    columns: Sequence[SyncColumn]
    scope_kind: str  # which DeviceContext.scope entry filters it
    scope_of: Callable[[Any], int | None]  # the scope key of one ORM object
    to_raws: Callable[[Session, Sequence[str]], Iterable[Raw]]  # records by id -> raws
    in_scope: Callable[[frozenset[int], datetime | None], Select[Any]]  # ids, first sync
    apply: Apply | None = None
    apply_many: ApplyMany | None = None  # the set-wise path for new records, if the host has one
    apply_edits: ApplyEdits | None = None  # the set-wise path for changes to existing records
    # The model attribute holding the scope key, when a record can move between scopes:
    # tracking reads its history to tell the old scope's devices (None: records never move).
    scope_column: str | None = None
    create_only: bool = False  # devices may create, never update or delete
    # Devices may never delete these records: the refusal, decided before any write.
    no_delete: Refused | None = None
    id_of: Callable[[Any], str] = field(default=lambda obj: str(obj.id))
    # What of each record this device may see (e.g. colleagues' records without personal
    # location data): called on every pulled batch; None = everything.
    for_device: Redact | None = None

    @property
    def pushable(self) -> bool:
        return self.apply is not None

    def column_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns)


@dataclass
class Registry:
    """The synced tables in dependency order (parents first: pushes apply in this order)."""

    version: int
    tables: list[SyncTable] = field(default_factory=list)
    # Scope kinds derived from the primary one (e.g. "community" from "grid").
    derive_scope: Callable[[Session, frozenset[int]], dict[str, frozenset[int]]] | None = None
    primary_scope: str = ""  # the host names it (the scope kind users are granted)

    def add(self, table: SyncTable) -> SyncTable:
        if any(t.name == table.name for t in self.tables):
            raise ValueError(f"sync table {table.name} registered twice")
        self.tables.append(table)
        return table

    def get(self, name: str) -> SyncTable | None:
        return next((t for t in self.tables if t.name == name), None)

    def for_model(self, model: type[Any]) -> SyncTable | None:
        return next((t for t in self.tables if t.model is model), None)

    def app_schema(self) -> dict[str, Any]:
        """The WatermelonDB `appSchema` as JSON."""
        return {
            "version": self.version,
            "tables": [
                {"name": t.name, "columns": [c.schema() for c in t.columns]} for t in self.tables
            ],
        }
