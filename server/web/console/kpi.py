"""The KPI dashboard: case-loop and patrol figures per community / unit, index trends."""

from __future__ import annotations

from typing import Any

from flask import render_template

from server.domain.roles import Role
from server.web.console import bp
from server.web.session import page


@bp.get("/kpis", endpoint="kpis")
@page(Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF)
def kpis() -> Any:
    return render_template("console/placeholder.html", title_zh="统计考核", title_en="KPIs")
