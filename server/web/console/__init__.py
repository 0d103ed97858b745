"""The dispatcher console (/console): the queue, case pages, map, KPIs, unit staff, admin."""

from __future__ import annotations

from server.web import web_blueprint

bp = web_blueprint("console", __name__, url_prefix="/console")

# Routes live in these modules; importing them attaches them to `bp`.
from server.web.console import (  # noqa: E402, F401
    admin,
    cases,
    exports,
    interop,
    kpi,
    live,
    map,
    photos,
    printing,
    topics,
    triage,
)
