"""Sign in, sign out, and the language switch."""

from __future__ import annotations

from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for

from server.domain.roles import Role
from server.errors import DomainError, Invalid
from server.web import i18n, web_blueprint
from server.web.session import (
    change_own_password,
    page,
    safe_next,
    sign_in,
    sign_out,
    sign_out_everywhere,
    signed_in,
    web_principal,
)

bp = web_blueprint("web_auth", __name__)

LANDING: dict[Role, str] = {
    Role.ADMIN: "console.cases",
    Role.DISPATCHER: "console.cases",
    Role.UNIT_STAFF: "console.cases",
    Role.COLLECTOR: "web_mobile_app.app_page",  # the field app (server/web/mobile_app.py)
}


def landing(role: Role) -> str:
    """Where a user lands after signing in: collectors in the field app at /app/."""
    return url_for(LANDING[role])


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form; on success back to where the user was going."""
    next_url = safe_next(request.values.get("next"), "")
    error: DomainError | None = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        try:
            principal = sign_in(username, request.form.get("password", "")[:200])
        except DomainError as exc:
            error = exc
        else:
            return redirect(safe_next(next_url, landing(principal.role)))
    elif web_principal() is not None and not request.args.get("expired"):
        principal = web_principal()
        assert principal is not None
        return redirect(safe_next(next_url, landing(principal.role)))
    status = error.status if error else 200
    headers = error.headers if error else {}
    html = render_template(
        "login.html",
        error=error,
        username=username,
        next_url=next_url or "",
        expired=bool(request.args.get("expired")),
    )
    return html, status, headers


@bp.route("/account/password", methods=["GET", "POST"])
@page()
def change_password() -> Any:
    """Change one's own password (required after an admin's reset): every other session and
    token ends; this browser gets a fresh session."""
    principal = signed_in()
    if request.method == "POST":
        current = request.form.get("current_password", "")[:200]
        new = request.form.get("new_password", "")[:200]
        if new != request.form.get("new_password2", "")[:200]:
            raise Invalid(
                "passwords_differ",
                "new_password2: the two new passwords differ",
                "字段 new_password2：两次输入的新密码不一致",
                field="new_password2",
            )
        change_own_password(principal.user_id, current, new)
        flash(i18n.t("密码已修改。", "Password changed."), "ok")
        return redirect(landing(principal.role), 303)
    return render_template("account_password.html", forced=principal.must_change_password)


@bp.post("/logout")
def logout() -> Any:
    sign_out()
    return redirect(url_for("web_auth.login", signed_out=1))


@bp.post("/logout-all")
def logout_everywhere() -> Any:
    """Sign out in every browser, and end every API token of this user."""
    sign_out_everywhere()
    return redirect(url_for("web_auth.login", signed_out=1))


@bp.get("/lang/<code>")
def switch_language(code: str) -> Any:
    """Remember the chosen language for a year, then go back."""
    target = safe_next(request.args.get("next"), "/")
    response = make_response(redirect(target))
    if code in i18n.LANGS:
        response.set_cookie(
            i18n.LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response
