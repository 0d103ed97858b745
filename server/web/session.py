"""Signing in to the pages: a cookie naming a server-side session, CSRF tokens, and the
`@page(roles…)` decorator.

The (signed) cookie holds only an opaque session id and the form token; the session row
(services/sessions.py) decides everything else — sign-out, "sign out everywhere", a disabled
account, idle and absolute expiry all end it at once. Sign-in goes through the same
password check, throttles and limits as the API's (services.auth.authenticate).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for

from server.domain.roles import Role
from server.errors import DomainError, Forbidden
from server.services.people import auth
from server.services.people.principal import Principal
from server.services.uow import unit_of_work

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
PASSWORD_PAGE = "web_auth.change_password"
CSRF_HEADER = "X-CSRF-Token"


class CsrfRefused(DomainError):
    """A POST without the session's CSRF token (a forged or stale form)."""

    status = 400

    def __init__(self) -> None:
        super().__init__(
            "csrf_failed",
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again.",
            "表单已过期或并非来自本站，请返回并刷新页面后重试。",
        )


class SignInRequired(Exception):
    """Raised by `@page` when nobody (or an expired session) is signed in."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign-in required")
        self.expired = expired


# ----------------------------------------------------------------------------------- CSRF


def csrf_token() -> str:
    """This session's CSRF token (made on first use); put it in every POST form."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse a state-changing request that does not carry the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfRefused()


# ------------------------------------------------------------------------------- sessions


def sign_in(username: str, password: str) -> Principal:
    """Check the password (throttles, per-address limits) and start a fresh server-side
    session; DomainError on refusal (raised after the failure counters are committed)."""
    with unit_of_work() as uow:
        attempt = auth.start_web_session(
            uow,
            username,
            password,
            request.remote_addr or "unknown",
            request.headers.get("User-Agent"),
        )
    sid, principal = attempt.signed_in()
    session.clear()  # a new session on sign-in: nothing from before survives (fixation)
    session.permanent = True
    session["sid"] = sid
    csrf_token()
    g.web_principal = principal
    return principal


def change_own_password(user_id: int, current: str, new: str) -> Principal:
    """Change the signed-in user's password: every session and token ends (this one too),
    then this browser gets a fresh session."""
    with unit_of_work() as uow:
        principal = auth.change_password_web(
            uow,
            user_id,
            current,
            new,
            request.remote_addr or "unknown",
            request.headers.get("User-Agent"),
        )
        sid = principal[0]
    csrf = session.get("csrf")
    session.clear()
    session.permanent = True
    session["sid"] = sid
    if isinstance(csrf, str):
        session["csrf"] = csrf
    g.web_principal = principal[1]
    return principal[1]


def sign_out() -> None:
    """End this browser's session on the server, then forget it here."""
    sid = session.get("sid")
    if isinstance(sid, str):
        with unit_of_work() as uow:
            auth.end_session(uow, sid)
    session.clear()
    g.web_principal = None


def sign_out_everywhere() -> int:
    """End every session and API token of the signed-in user (this one included)."""
    principal = web_principal()
    count = 0
    if principal is not None:
        with unit_of_work() as uow:
            count = auth.sign_out_everywhere(uow, principal.user_id)
    session.clear()
    g.web_principal = None
    return count


def web_principal() -> Principal | None:
    """Who is signed in on this request (None: nobody, or the session ended)."""
    if "web_principal" in g:
        return cast(Principal | None, g.web_principal)
    g.web_principal = None
    g.session_expired = False
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    try:
        with unit_of_work() as uow:
            principal = auth.resolve_web_session(uow, sid)
    except DomainError:  # signed out elsewhere, idle, too old, password changed, disabled
        _expire()
        return None
    g.web_principal = principal
    return principal


def _expire() -> None:
    csrf = session.get("csrf")
    session.clear()
    if isinstance(csrf, str):
        session["csrf"] = csrf  # an open login form keeps working
    g.session_expired = True


def signed_in() -> Principal:
    """The principal of a view behind `@page`: always there."""
    principal = web_principal()
    assert principal is not None, "view is not behind @page"
    return principal


def page(*roles: Role) -> Callable[[F], F]:
    """Require a signed-in user (of one of `roles`, when given): signed out → the login page
    (coming back here afterwards), wrong role → a 403 page."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = web_principal()
            if principal is None:
                raise SignInRequired(expired=bool(g.get("session_expired")))
            if principal.must_change_password and request.endpoint != PASSWORD_PAGE:
                return redirect(url_for(PASSWORD_PAGE))  # after an admin's reset
            if roles and principal.role not in roles:
                raise Forbidden("Your role may not open this page", "您的角色无权访问此页面")
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def login_redirect(expired: bool = False) -> Any:
    target = request.full_path if request.method == "GET" else request.path
    args: dict[str, Any] = {"next": target.rstrip("?")}
    if expired:
        args["expired"] = 1
    return redirect(url_for("web_auth.login", **args))


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: never redirect to another host after signing in.

    Control characters (a CR/LF would split the Location header), backslashes (browsers
    read `/\\host` as `//host`) and anything with a scheme or host fall back to `default`.
    """
    if not target or len(target) > 2000:
        return default
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
