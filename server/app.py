"""create_app(): config, extensions, API, error handlers, Celery. No import-time effects."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, send_from_directory
from sqlalchemy import text

from server.config import instance_secret, is_sqlite, load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Minqing application; `config` overrides what the environment says."""
    settings = load_config()
    if config:
        settings.update(config)
    if not settings.get("SECRET_KEY"):
        # every install gets its own random key instead of a shared development value
        settings["SECRET_KEY"] = instance_secret(Path(settings["INSTANCE_PATH"]))
        settings["SECRET_KEY_SOURCE"] = "generated"
    app = Flask("server", instance_path=settings["INSTANCE_PATH"])
    app.config.update(settings)
    app.config.setdefault("PASSWORD_HASH_METHOD", "scrypt")
    from server import logs

    logs.configure(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # readable Chinese
    app.json.sort_keys = False  # type: ignore[attr-defined]

    if is_sqlite(app.config["SQLALCHEMY_DATABASE_URI"]):
        # GeoAlchemy2 reads the module path from the process environment.
        os.environ.setdefault("SPATIALITE_LIBRARY_PATH", app.config["SPATIALITE_LIBRARY_PATH"])
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    if app.config.get("PROXY_HOPS"):
        # Behind nginx & co.: client addresses (rate limits) and URLs come from the headers
        # of exactly that many trusted proxies, never from whatever a client sends.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    from server.jsonlimits import check_request_json

    app.before_request(check_request_json)
    _init_extensions(app)
    _register_routes(app)
    from server import headers, metrics

    logs.install(app)
    metrics.install(app)
    headers.install(app)
    from server.cli import register_commands

    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from server import models  # noqa: F401 - registers the tables on the metadata
    from server.api import register_api
    from server.api.errors import ErrorSchema, register_error_handlers
    from server.extensions import api, db, migrate
    from server.tasks import celery_init_app

    db.init_app(app)
    _tune_sqlite(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True)
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app)
    register_api(api)
    register_error_handlers(app)
    celery_init_app(app)
    from server import logs, metrics
    from server.extensions import AppSession

    logs.install_celery()
    metrics.install_celery()
    metrics.install_session(AppSession)
    from server.services.syncing import sync
    from server.services.upkeep import audit

    sync.install(app)
    audit.install()
    from server import prepared

    prepared.install(app)


def _tune_sqlite(app: Flask) -> None:
    """WAL and a busy timeout, so the web process and a worker can share the file."""
    if not is_sqlite(app.config["SQLALCHEMY_DATABASE_URI"]):
        return
    from sqlalchemy import event

    from server.extensions import db
    from server.services.caseloop import case_grams

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        # savepoints' statement journals in memory, not temp files (a sync push opens one
        # per record it applies on its own)
        cursor.execute("PRAGMA temp_store = MEMORY")
        cursor.close()
        case_grams.install(dbapi_conn)  # the search index's triggers call it


def _register_routes(app: Flask) -> None:
    from swagger_ui_bundle import swagger_ui_path

    from server.api.open311 import blp as open311_blp
    from server.extensions import db
    from server.web import register_web

    register_web(app)
    app.register_blueprint(open311_blp)  # /open311/v2: GeoReport v2, JSON and XML

    @app.get("/healthz")
    def healthz() -> Any:
        """Liveness and database reachability, for load balancers and compose; `warnings`
        names what an operator must fix soon (e.g. next year's holiday calendar)."""
        from datetime import datetime

        from server.services.caseloop.case_deadlines import calendar, local_zone
        from server.services.territory import holidays

        db.session.execute(text("SELECT 1"))
        today = datetime.now(local_zone()).date()
        return jsonify(
            {
                "status": "ok",
                "database": db.engine.dialect.name,
                "warnings": holidays.warnings(calendar(), today),
            }
        )

    @app.get("/readyz")
    def readyz() -> Any:
        """Readiness: database, broker, a worker's ping, beat's last tick, the holiday
        calendar; 503 naming what failed (server/readiness.py)."""
        from server import readiness

        body, status = readiness.report()
        return jsonify(body), status

    @app.get("/api/v1/docs/static/<path:filename>")
    def swagger_static(filename: str) -> Any:
        # Served by us: deployments on government intranets have no CDN.
        return send_from_directory(swagger_ui_path, filename)

    @app.get("/")
    def index() -> Any:
        return jsonify(
            {
                "name": "Minqing 民情",
                "api": "/api/v1",
                "docs": "/api/v1/docs",
                "openapi": "/api/v1/openapi.json",
            }
        )
