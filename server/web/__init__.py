"""Server-rendered pages: the dispatcher console, the resident page, the public board.

Every page blueprint is made by `web_blueprint()`, which gives it the CSRF check on every
POST and HTML error pages (zh + en). Handlers call `server.services` only; templates show
what they are given.
"""

from __future__ import annotations

import importlib
import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, flash, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from server import metrics
from server.errors import DomainError
from server.web import forms, i18n
from server.web.session import (
    CSRF_FIELD,
    SignInRequired,
    check_csrf,
    csrf_token,
    login_redirect,
    web_principal,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Page modules of other parts of the project, registered when present (each exposes `bp`).
OPTIONAL_MODULES = ("public", "resident", "board", "mobile_app", "topics")

HTTP_TEXTS: dict[int, tuple[str, str]] = {
    400: ("请求有误", "Bad request"),
    403: ("无权访问", "Not allowed"),
    404: ("页面或事项不存在", "Not found"),
    405: ("不支持此操作", "Method not allowed"),
    409: ("事项已被他人修改", "Changed meanwhile"),
    410: ("链接已失效", "Link expired"),
    413: ("上传的文件太大", "Upload too large"),
    422: ("填写的内容有误", "Please check your input"),
    429: ("操作过于频繁", "Too many attempts"),
    500: ("系统出错了", "Something went wrong"),
}


def web_blueprint(
    name: str, import_name: str, *, error_template: str = "error.html", **kwargs: Any
) -> Blueprint:
    """A page blueprint: CSRF-checked POSTs, HTML error pages (`error_template`, given
    status, code, title, message_zh, message_en), sign-in redirects for `@page`."""
    kwargs.setdefault("template_folder", str(TEMPLATES))
    bp = Blueprint(name, import_name, **kwargs)
    bp.before_request(check_csrf)
    bp.before_request(_once_only)
    bp.after_request(_remember_once)

    def domain_error(error: DomainError) -> Any:
        metrics.count_refusal(error.code)
        shown = forms.show_refused(error)
        if shown is not None:
            return shown
        body, status = render_error(
            error.status, error.message_zh, error.message, error.code, template=error_template
        )
        return body, status, error.headers

    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        zh, en = HTTP_TEXTS.get(status, (error.name, error.name))
        code = error.name.lower().replace(" ", "_")
        return render_error(status, zh, en, code=code, template=error_template)

    bp.register_error_handler(SignInRequired, _sign_in_required)
    bp.register_error_handler(DomainError, domain_error)
    bp.register_error_handler(HTTPException, http_error)
    return bp


def render_error(
    status: int,
    message_zh: str,
    message_en: str,
    code: str | None = None,
    *,
    template: str = "error.html",
    back_url: str | None = None,
) -> Any:
    """The error page: a title for the status, the message in both languages."""
    title_zh, title_en = HTTP_TEXTS.get(status, HTTP_TEXTS[400])
    body = render_template(
        template,
        status=status,
        code=code,
        title=i18n.t(title_zh, title_en),
        message_zh=message_zh,
        message_en=message_en,
        back_url=back_url,
    )
    return body, status


def _once_only() -> Any:
    """A form that already did its work (sent twice: a double click, a reload of the page a
    POST answered, the back button) is not run again: back to where it was sent from."""
    if request.method != "POST" or not forms.once_seen():
        return None
    flash(
        i18n.t(
            "这张表单已经提交过，没有重复执行。",
            "This form was already sent; it was not run twice.",
        ),
        "warn",
    )
    return redirect(forms.back_url() or request.path, 303)


def _remember_once(response: Any) -> Any:
    if request.method == "POST" and response.status_code < 400:
        forms.remember_once()
    return response


def _sign_in_required(error: SignInRequired) -> Any:
    return login_redirect(expired=error.expired)


def _context() -> dict[str, Any]:
    return {
        "lang": i18n.lang(),
        "html_lang": i18n.HTML_LANG[i18n.lang()],
        "me": web_principal(),
        "request_path": request.full_path.rstrip("?"),
        "form_state": forms.form_state(),
    }


def _refused_here(action: str) -> forms.FormState | None:
    """For a template: the refused form state when it belongs to the form posting to
    `action` (e.g. to show the photos kept from the refused submission)."""
    state = forms.form_state()
    return state if state is not None and state.action == action else None


API_PREFIXES = ("/api/", "/open311/", "/openapi", "/healthz", "/swagger")


def _html_for_unrouted_pages(app: Flask) -> None:
    """A URL that matches no route (404), or a route without that method (405), gets an HTML
    page unless it is an API address (those keep the API's JSON error)."""
    api_handler = app.error_handler_spec[None][None].get(HTTPException)

    def unrouted(error: HTTPException) -> Any:
        path = request.path
        if path.startswith(API_PREFIXES):
            return api_handler(error) if api_handler is not None else error
        status = error.code or 404
        zh, en = HTTP_TEXTS[status]
        body, status = render_error(status, zh, en, code=error.name.lower().replace(" ", "_"))
        headers = [(k, v) for k, v in error.get_headers() if k.lower() == "allow"]
        return body, status, headers

    app.register_error_handler(404, unrouted)
    app.register_error_handler(405, unrouted)


def register_web(app: Flask) -> None:
    from server.web import assets, auth_pages, console

    # The cookie lives as long as an idle session may; each request renews both.
    app.permanent_session_lifetime = timedelta(minutes=app.config["WEB_SESSION_MINUTES"])
    app.context_processor(_context)
    # globals, so that macros imported without context see them too
    app.jinja_env.globals.update(
        t=i18n.t,
        pick=i18n.pick,
        csrf_token=csrf_token,
        csrf_field=CSRF_FIELD,
        once_token=forms.once_token,
        this_page=lambda: request.full_path.rstrip("?"),
        refused_here=_refused_here,
    )
    app.register_blueprint(assets.bp)
    app.register_blueprint(auth_pages.bp)
    app.register_blueprint(console.bp)
    for name in OPTIONAL_MODULES:
        if importlib.util.find_spec(f"server.web.{name}") is not None:
            module = importlib.import_module(f"server.web.{name}")
            if module.bp.name in app.blueprints:
                raise ValueError(
                    f"server/web/{name}.py: blueprint name {module.bp.name!r} is taken (the API "
                    "uses auth, me, territory, catalog, cases, public, attachments, inbox, "
                    "webhooks, patrols, index); name page blueprints web_<something>"
                )
            app.register_blueprint(module.bp)

    _html_for_unrouted_pages(app)

    @app.after_request
    def _no_store_for_pages(response: Any) -> Any:
        # Signed-in pages must not be served from a shared cache or the back button
        # after sign-out.
        if g.get("web_principal") is not None:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
