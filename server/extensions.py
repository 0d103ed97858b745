"""Extension objects, unbound: `create_app()` binds them to an app."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession

from server.models.base import Base


class AppSession(FlaskSession):
    """The application's session class. The outbox and the sync change tracking listen on
    this class only, never on SQLAlchemy's global `Session` (other sessions in the process,
    e.g. a test's or a tool's, are not ours)."""


db = SQLAlchemy(model_class=Base, session_options={"class_": AppSession})
migrate = Migrate()
api = Api()
