"""The sync engine's tables (clock, change log, scope events, replays, devices, log,
rejections), added to the application's metadata so that migrations manage them."""

from server.models.base import Base
from sync.tables import SyncTables, define_tables

SYNC_TABLES: SyncTables = define_tables(Base.metadata)
