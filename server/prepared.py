"""Keep PostgreSQL's prepared statements across read-only requests.

psycopg prepares a query on the server after a few executions on one connection and then
skips its planning (for the queue's page, most of the database's CPU). But it forgets every
prepared statement at a ROLLBACK, and a request that only read ends its transaction with
one (the session's close, the pool's reset), so nothing stayed prepared from one request
to the next. A GET or HEAD request that wrote nothing commits its read-only transaction
instead; the pool's reset then finds the connection idle and sends nothing.
"""

from __future__ import annotations

from flask import Flask, request

from server.config import is_sqlite
from server.extensions import db
from server.services import uow


def install(app: Flask) -> None:
    """On PostgreSQL: end read-only GET/HEAD transactions with COMMIT instead of ROLLBACK."""
    if is_sqlite(app.config["SQLALCHEMY_DATABASE_URI"]):
        return

    @app.teardown_request
    def _end_read_only(exc: BaseException | None) -> None:
        if exc is not None or request.method not in ("GET", "HEAD"):
            return
        if not db.session.registry.has():
            return
        session = db.session()
        if not session.in_transaction() or uow.wrote(session):
            return  # the session's own teardown rolls it back, as before
        try:
            session.commit()
        except Exception:  # a failed read-only commit: fall back to the rollback
            session.rollback()
