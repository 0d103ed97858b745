"""The engine's own tables: the clock, the change log, scope events, replays, devices, log.

`define_tables(metadata)` adds them to the host application's metadata so that its
migrations create them; the engine never creates tables itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

RECORD_ID = 64
TABLE_NAME = 40
DEVICE_ID = 32


@dataclass(frozen=True)
class SyncTables:
    clock: Table
    rows: Table
    scope_events: Table
    pushes: Table
    devices: Table
    log: Table
    rejections: Table


def define_tables(metadata: MetaData) -> SyncTables:
    clock = Table(
        "sync_clock",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        # The cursor of the last committed change. Taken (row-locked) just before a writer
        # commits, so cursors follow commit order: nothing commits below a cursor handed out.
        Column("value", BigInteger, nullable=False),
        comment="one row: the sync cursor clock",
    )
    rows = Table(
        "sync_rows",
        metadata,
        Column("table_name", String(TABLE_NAME), nullable=False),
        Column("record_id", String(RECORD_ID), nullable=False),
        Column("cursor", BigInteger, nullable=False),  # last change
        Column("created_cursor", BigInteger, nullable=False),
        Column("scope_key", BigInteger, nullable=True),  # e.g. the grid; NULL = nobody
        Column("prev_scope_key", BigInteger, nullable=True),  # before the last change
        Column("origin_device", String(DEVICE_ID), nullable=True),  # who wrote it last
        Column("creator_device", String(DEVICE_ID), nullable=True),
        Column("deleted", Boolean, nullable=False, default=False),  # a tombstone
        PrimaryKeyConstraint("table_name", "record_id", name="pk_sync_rows"),
        Index("ix_sync_rows_table_cursor", "table_name", "cursor"),
        Index("ix_sync_rows_table_scope", "table_name", "scope_key", "cursor"),
        comment="the change log: one row per synced record (or tombstone)",
    )
    scope_events = Table(
        "sync_scope_events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_key", BigInteger, nullable=False),  # whose scope changed
        Column("scope_key", BigInteger, nullable=False),  # the grid granted or revoked
        Column("granted", Boolean, nullable=False),
        Column("cursor", BigInteger, nullable=False),
        Index("ix_sync_scope_events_user_cursor", "user_key", "cursor"),
    )
    pushes = Table(
        "sync_pushes",
        metadata,
        Column("device_id", String(DEVICE_ID), nullable=False),
        Column("digest", String(64), nullable=False),  # of last_pulled_at + body
        Column("response", JSON, nullable=False),
        Column("cursor", BigInteger, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("device_id", "digest", name="pk_sync_pushes"),
        Index("ix_sync_pushes_created", "created_at"),
    )
    devices = Table(
        "sync_devices",
        metadata,
        Column("device_id", String(DEVICE_ID), primary_key=True),
        Column("last_pulled_cursor", BigInteger, nullable=True),
        Column("last_pull_at", DateTime(timezone=True), nullable=True),
        Column("last_push_at", DateTime(timezone=True), nullable=True),
        Column("pulls", Integer, nullable=False, default=0),
        Column("pushes", Integer, nullable=False, default=0),
        Column("schema_version", Integer, nullable=True),
    )
    log = Table(
        "sync_log",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("device_id", String(DEVICE_ID), nullable=False),
        Column("kind", String(8), nullable=False),  # pull | push | conflict | replay
        Column("at", DateTime(timezone=True), nullable=False),
        Column("last_pulled_at", BigInteger, nullable=True),
        Column("cursor", BigInteger, nullable=True),
        Column("counts", JSON, nullable=False),
        Column("millis", Integer, nullable=False),
        Index("ix_sync_log_device_at", "device_id", "at"),
    )
    rejections = Table(
        "sync_rejections",
        metadata,
        Column("id", String(RECORD_ID), primary_key=True),
        Column("device_id", String(DEVICE_ID), nullable=False),
        Column("user_key", BigInteger, nullable=False),  # the collector: their devices see it
        Column("group_key", BigInteger, nullable=True),  # e.g. subdistrict, for dispatchers
        Column("table_name", String(TABLE_NAME), nullable=False),
        Column("record_id", String(RECORD_ID), nullable=False),
        Column("operation", String(8), nullable=False),  # created | updated | deleted
        Column("code", String(64), nullable=False),
        Column("message", Text, nullable=False),
        Column("message_zh", Text, nullable=False),
        Column("field", String(64), nullable=True),
        Column("payload", JSON, nullable=True),
        Column("payload_digest", String(64), nullable=False),
        Column("record_exists", Boolean, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index("ix_sync_rejections_group_created", "group_key", "created_at"),
        Index(
            "uq_sync_rejections_once",
            "device_id",
            "table_name",
            "record_id",
            "payload_digest",
            unique=True,
        ),
    )
    return SyncTables(clock, rows, scope_events, pushes, devices, log, rejections)
