"""Migrations: one head; upgrade from empty and back on both backends; no model drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import drop_all_postgis_tables, make_app, postgis_url
from flask import Flask
from sqlalchemy import create_engine, inspect, text


def our_tables() -> set[str]:
    from server.models import Base

    return set(Base.metadata.tables)


def test_one_head() -> None:
    from alembic.config import Config

    from server.config import PROJECT_ROOT

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def migration_db_url(backend: str, tmp_path: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url = postgis_url()
    base, _, name = url.rpartition("/")
    target = f"{name}_migrations"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target}
        ).scalar():
            conn.execute(text(f'CREATE DATABASE "{target}"'))
    admin.dispose()
    engine = create_engine(f"{base}/{target}")
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    drop_all_postgis_tables(f"{base}/{target}")
    return f"{base}/{target}"


def drift(app: Flask) -> list:  # type: ignore[type-arg]
    from server.extensions import db
    from server.models.autogen import include_object

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        return list(compare_metadata(context, db.metadata))


@pytest.mark.parametrize("backend_name", ["spatialite", "postgis"])
def test_upgrade_from_empty_matches_models_and_downgrades(
    backend_name: str, tmp_path: Path
) -> None:
    from flask_migrate import downgrade, upgrade

    from server.extensions import db

    app = make_app(migration_db_url(backend_name, tmp_path), tmp_path / "instance")
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        assert set(inspect(db.engine).get_table_names()) >= our_tables()
    assert drift(app) == []
    with app.app_context():
        downgrade(directory=app.config["MIGRATIONS_DIR"], revision="base")
        assert not our_tables() & set(inspect(db.engine).get_table_names())
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        assert set(inspect(db.engine).get_table_names()) >= our_tables()
        db.engine.dispose()
