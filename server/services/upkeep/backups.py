"""Backups: the database and the uploaded photos in one archive, and restoring it into an
empty database.

    minqing backup  minqing-20261203.tar.gz
    minqing restore minqing-20261203.tar.gz      # into an empty database and media folder

The archive holds `manifest.json` (backend, migration revision, time, row counts), the
database — SpatiaLite through SQLite's online backup API (consistent while the service
runs), PostGIS as a `pg_dump` custom-format dump — and `media/` (originals and public
copies). A backup restores only onto the same backend; run `minqing db upgrade` after
restoring an older backup into a newer release.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from server.errors import DomainError
from server.extensions import db

FORMAT = 1
COUNTED = ("cases", "case_events", "users", "grids", "attachments", "patrol_logs", "patrols")
# tables an empty database may already have (PostGIS, SpatiaLite metadata)
SPATIAL_TABLES = frozenset(
    {
        "spatial_ref_sys",
        "geometry_columns",
        "spatial_ref_sys_aux",
        "spatialite_history",
        "sql_statements_log",
        "views_geometry_columns",
        "virts_geometry_columns",
        "geometry_columns_auth",
        "geometry_columns_time",
        "geometry_columns_field_infos",
        "geometry_columns_statistics",
        "views_geometry_columns_auth",
        "views_geometry_columns_field_infos",
        "views_geometry_columns_statistics",
        "virts_geometry_columns_auth",
        "virts_geometry_columns_field_infos",
        "virts_geometry_columns_statistics",
        "data_licenses",
        "SpatialIndex",
        "ElementaryGeometries",
        "KNN",
        "KNN2",
    }
)


class BackupError(DomainError):
    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__("backup_failed", message, message_zh, status=409)


@dataclass(frozen=True)
class Manifest:
    backend: str
    revision: str | None
    created_at: str
    counts: dict[str, int]
    photos: int


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _backend(url: URL) -> str:
    return "spatialite" if url.get_backend_name() == "sqlite" else "postgis"


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments (the password goes through the environment, not argv)."""
    args = ["--dbname", str(url.database or "")]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _sqlite_module() -> Any:
    import pysqlite3.dbapi2 as sqlite_module

    return sqlite_module


def _counts() -> dict[str, int]:
    names = set(inspect(db.engine).get_table_names())
    return {
        t: int(db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() or 0)
        for t in COUNTED
        if t in names
    }


def _revision() -> str | None:
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # an unmigrated database has no revision to report
        db.session.rollback()
        return None


def create(target: Path) -> Manifest:
    """Write a backup archive (tar.gz) of the database and the photos to `target`."""
    url = _url()
    media = Path(current_app.config["MEDIA_PATH"])
    counts, revision = _counts(), _revision()
    db.session.rollback()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if _backend(url) == "spatialite":
            sqlite = _sqlite_module()
            source = sqlite.connect(str(url.database))
            copy = sqlite.connect(str(work / "database.sqlite"))
            try:
                source.backup(copy)  # online: a consistent copy while others write
            finally:
                copy.close()
                source.close()
            db_member = "database.sqlite"
        else:
            args, env = _pg_args(url)
            dump = work / "database.pgdump"
            _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), *args], env)
            db_member = "database.pgdump"
        photos = sum(1 for p in media.rglob("*") if p.is_file()) if media.is_dir() else 0
        manifest = Manifest(
            backend=_backend(url),
            revision=revision,
            created_at=datetime.now(UTC).isoformat(),
            counts=counts,
            photos=photos,
        )
        (work / "manifest.json").write_text(
            json.dumps({"format": FORMAT, **vars(manifest)}, ensure_ascii=False, indent=2)
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(work / "manifest.json", arcname="manifest.json")
            archive.add(work / db_member, arcname=db_member)
            if media.is_dir():
                archive.add(media, arcname="media")
        partial.replace(target)
    return manifest


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed (apt-get install postgresql-client)",
            f"未安装 {command[0]}（apt-get install postgresql-client）",
        ) from None
    if done.returncode != 0:
        raise BackupError(
            f"{command[0]} failed: {done.stderr.strip()[-500:]}",
            f"{command[0]} 执行失败：{done.stderr.strip()[-500:]}",
        )


def _user_tables() -> set[str]:
    return {
        t
        for t in inspect(db.engine).get_table_names()
        if t not in SPATIAL_TABLES and not t.startswith(("idx_", "sqlite_"))
    }


def restore(archive_path: Path) -> Manifest:
    """Restore a backup into this app's database and media folder, which must be empty."""
    url = _url()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extractall(work, filter="data")
        data = json.loads((work / "manifest.json").read_text())
        data.pop("format", None)
        manifest = Manifest(**data)
        if manifest.backend != _backend(url):
            raise BackupError(
                f"this backup is of {manifest.backend}; the database here is {_backend(url)}",
                f"该备份来自 {manifest.backend}，当前数据库为 {_backend(url)}",
            )
        db.session.rollback()
        if _user_tables():
            raise BackupError(
                "the database is not empty: restore only into an empty database",
                "数据库非空：只能恢复到空数据库",
            )
        media = Path(current_app.config["MEDIA_PATH"])
        if media.is_dir() and any(media.iterdir()):
            raise BackupError(f"the media folder {media} is not empty", f"照片目录 {media} 非空")
        db.session.remove()
        db.engine.dispose()
        if manifest.backend == "spatialite":
            sqlite = _sqlite_module()
            source = sqlite.connect(str(work / "database.sqlite"))
            target = sqlite.connect(str(url.database))
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            args, env = _pg_args(url)
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    *args,
                    str(work / "database.pgdump"),
                ],
                env,
            )
        if (work / "media").is_dir():
            media.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(work / "media", media, dirs_exist_ok=True)
    return manifest
