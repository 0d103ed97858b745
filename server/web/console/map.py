"""The console map: grid polygons coloured by today's 民情指数 or open cases, case pins."""

from __future__ import annotations

from typing import Any

from flask import render_template

from server.domain.roles import Role
from server.web.console import bp
from server.web.session import page


@bp.get("/map", endpoint="map_page")
@page(Role.DISPATCHER, Role.ADMIN)
def map_page() -> Any:
    return render_template("console/placeholder.html", title_zh="地图", title_en="Map")
