"""Admin pages: grids (GeoJSON import), users, collectors ↔ grids, devices, categories."""

from __future__ import annotations

from typing import Any

from flask import render_template

from server.domain.roles import Role
from server.web.console import bp
from server.web.session import page


@bp.get("/admin", endpoint="admin_home")
@page(Role.ADMIN)
def admin_home() -> Any:
    return render_template("console/placeholder.html", title_zh="系统管理", title_en="Admin")
