"""Logging in and resolving bearer tokens (user access tokens and device tokens)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from server.domain.roles import Role
from server.errors import DomainError, Unauthorized
from server.extensions import db
from server.models import CollectorGrid, Device, User
from server.services.people import ratelimit, sessions, users
from server.services.people.passwords import check_password
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

DEVICE_TOKEN_PREFIX = "mqd_"
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
_SALT = "minqing.access-token.v1"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_in: int


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def hash_device_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bad_credentials() -> Unauthorized:
    return Unauthorized("invalid_credentials", "Wrong username or password", "用户名或密码错误")


@dataclass(frozen=True)
class Credentials:
    """A password check's outcome. A refused check still writes (the throttle counters), so
    the refusal is returned, not raised: the edge commits, then raises it."""

    user: User | None = None
    refusal: DomainError | None = None


def authenticate(uow: UnitOfWork, username: str, password: str, address: str) -> Credentials:
    """The active user with this name and password, or the refusal to raise after commit.

    Failures are throttled per address and per (name, address), never per account alone:
    guessing from one place stops, a real user elsewhere is never locked out, and an unknown
    name gets exactly the answers a real one does (ratelimit.check_login_pair).
    """
    name = username.strip().lower()
    ratelimit.check_login_address(address)
    ratelimit.check_login_pair(uow, name, address)
    user = uow.session.scalar(select(User).where(User.username == name))
    if not check_password(user.password_hash if user else None, password):
        ratelimit.record_login_failure(uow, address, name)
        return Credentials(refusal=_bad_credentials())
    assert user is not None
    if not user.active:
        raise Unauthorized("account_disabled", "This account is disabled", "该账号已停用")
    ratelimit.clear_login_pair(uow, name, address)
    user.last_login_at = uow.now
    return Credentials(user=user)


@dataclass(frozen=True)
class LoginAttempt:
    """A login's outcome: the token (a new API session), or the refusal to raise once the
    edge has committed the failure counters."""

    token: IssuedToken | None = None
    refusal: DomainError | None = None

    def issued(self) -> IssuedToken:
        """The token, or the refusal raised (call after the unit of work has committed)."""
        if self.refusal is not None:
            raise self.refusal
        assert self.token is not None
        return self.token


def login(
    uow: UnitOfWork,
    username: str,
    password: str,
    address: str = "unknown",
    device: str | None = None,
) -> LoginAttempt:
    """Exchange a username and password for an access token (a new API session)."""
    checked = authenticate(uow, username, password, address)
    if checked.user is None:
        return LoginAttempt(refusal=checked.refusal)
    user = checked.user
    if user.must_change_password:  # after an admin's reset: the pages ask for a new one first
        return LoginAttempt(
            refusal=DomainError(
                "password_change_required",
                "Your password was reset: sign in on the web pages and choose a new one first",
                "您的密码已被管理员重置：请先在网页上登录并设置新密码",
                status=403,
            )
        )
    opaque = sessions.start(uow, user, sessions.API, device=device, address=address)
    ttl = current_app.config["ACCESS_TOKEN_TTL"]
    token = _serializer().dumps({"u": user.id, "v": user.token_version, "s": opaque})
    return LoginAttempt(token=IssuedToken(access_token=token, token_type="Bearer", expires_in=ttl))


@dataclass(frozen=True)
class WebSignIn:
    """A page sign-in's outcome: the opaque id for the cookie and who signed in, or the
    refusal to raise once the edge has committed the failure counters."""

    session_id: str | None = None
    principal: Principal | None = None
    refusal: DomainError | None = None

    def signed_in(self) -> tuple[str, Principal]:
        """The session id and principal, or the refusal raised (call after the commit)."""
        if self.refusal is not None:
            raise self.refusal
        assert self.session_id is not None and self.principal is not None
        return self.session_id, self.principal


def start_web_session(
    uow: UnitOfWork, username: str, password: str, address: str, device: str | None
) -> WebSignIn:
    """Sign in on the pages: a new web session row for the cookie."""
    checked = authenticate(uow, username, password, address)
    if checked.user is None:
        return WebSignIn(refusal=checked.refusal)
    opaque = sessions.start(uow, checked.user, sessions.WEB, device=device, address=address)
    return WebSignIn(session_id=opaque, principal=principal_for(checked.user))


def change_password_web(
    uow: UnitOfWork, user_id: int, current: str, new: str, address: str, device: str | None
) -> tuple[str, Principal]:
    """Change one's own password from the pages: every session and token ends, and a fresh
    web session starts for this browser (its opaque id, and who)."""
    user = users.change_own_password(uow, user_id, current, new)
    opaque = sessions.start(uow, user, sessions.WEB, device=device, address=address)
    return opaque, principal_for(user)


def resolve_web_session(uow: UnitOfWork, opaque_id: str) -> Principal:
    """Who a page's session cookie stands for; 401 `session_ended` once it has ended."""
    live = sessions.check(uow, opaque_id, sessions.WEB)
    return principal_for(live.user)


def end_session(uow: UnitOfWork, opaque_id: str) -> None:
    """Sign out one session (a page's or an access token's)."""
    sessions.revoke(uow, opaque_id)


def session_of_token(token: str) -> str | None:
    """The session id inside a user access token (None for device tokens and junk)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    value = data.get("s") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def sign_out_everywhere(uow: UnitOfWork, user_id: int) -> int:
    """End every page session and API token of this user; how many were open."""
    user = uow.session.get(User, user_id)
    if user is None:
        return 0
    return sessions.revoke_all(uow, user)


def principal_for(
    user: User, device_id: str | None = None, grid_ids: frozenset[int] | None = None
) -> Principal:
    """Who `user` is to the services; `grid_ids`: a collector's grids when the caller has
    read them already (None: read here)."""
    role = Role(user.role)
    if role is not Role.COLLECTOR:
        grid_ids = frozenset()
    elif grid_ids is None:
        grid_ids = frozenset(
            db.session.scalars(
                select(CollectorGrid.grid_id).where(CollectorGrid.collector_id == user.id)
            )
        )
    return Principal(
        user_id=user.id,
        username=user.username,
        role=role,
        subdistrict_id=user.subdistrict_id,
        unit_id=user.unit_id,
        grid_ids=grid_ids,
        device_id=device_id,
        must_change_password=bool(user.must_change_password),
    )


def _invalid_token() -> Unauthorized:
    return Unauthorized("invalid_token", "The token is invalid or expired", "令牌无效或已过期")


def resolve_bearer(uow: UnitOfWork, token: str) -> Principal:
    """The principal a bearer token stands for; 401 for anything not currently valid."""
    if token.startswith(DEVICE_TOKEN_PREFIX):
        return _resolve_device(uow, token)
    try:
        data = _serializer().loads(token, max_age=current_app.config["ACCESS_TOKEN_TTL"])
    except SignatureExpired as exc:
        raise Unauthorized("token_expired", "The token has expired", "令牌已过期") from exc
    except BadSignature as exc:
        raise _invalid_token() from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise _invalid_token()
    if not isinstance(data.get("s"), str):
        raise _invalid_token()  # tokens from before server-side sessions
    try:
        live = sessions.check(uow, data["s"], sessions.API)
    except Unauthorized as exc:
        if exc.code == "session_ended":
            raise _invalid_token() from exc
        raise
    if live.user.id != data["u"]:
        raise _invalid_token()
    return principal_for(live.user)


def _resolve_device(uow: UnitOfWork, token: str) -> Principal:
    # the device, its collector and the collector's grids in one query: every sync asks
    found = uow.session.execute(
        select(Device, User, _grid_ids_of(uow, Device.collector_id))
        .join(User, User.id == Device.collector_id)
        .where(Device.token_hash == hash_device_token(token))
    ).first()
    if found is None:
        raise _invalid_token()
    device, user, grids = found
    if device.revoked_at is not None:
        raise Unauthorized("device_revoked", "This device has been revoked", "该设备已被停用")
    if not user.active:
        raise _invalid_token()
    now = uow.now
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_RESOLUTION:
        device.last_seen_at = now  # at most one write a minute per device
    return principal_for(user, device_id=device.id, grid_ids=_parse_ids(grids))


def _grid_ids_of(uow: UnitOfWork, collector_id: Any) -> Any:
    """The collector's grid ids as one value of the row: an array (PostgreSQL) or a JSON
    text (SQLite)."""
    if uow.session.get_bind().dialect.name == "postgresql":
        aggregate = func.array_agg(CollectorGrid.grid_id)
    else:
        aggregate = func.json_group_array(CollectorGrid.grid_id)
    return (
        select(aggregate)
        .where(CollectorGrid.collector_id == collector_id)
        .correlate(Device)
        .scalar_subquery()
    )


def _parse_ids(value: Any) -> frozenset[int]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = json.loads(value)
    return frozenset(int(v) for v in value if v is not None)
