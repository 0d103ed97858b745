"""Logging in and resolving bearer tokens (user access tokens and device tokens)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from server.domain.roles import Role
from server.errors import Unauthorized
from server.extensions import db
from server.models import CollectorGrid, Device, User
from server.models.base import utcnow
from server.services import ratelimit, sessions
from server.services.passwords import check_password
from server.services.principal import Principal
from server.services.uow import unit_of_work

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


def authenticate(username: str, password: str, address: str = "unknown") -> User:
    """The active user with this name and password, or a refusal.

    Failures are throttled per address and per (name, address), never per account alone:
    guessing from one place stops, a real user elsewhere is never locked out, and an unknown
    name gets exactly the answers a real one does (ratelimit.check_login_pair).
    """
    name = username.strip().lower()
    ratelimit.check_login_address(address)
    ratelimit.check_login_pair(name, address)
    user = db.session.scalar(select(User).where(User.username == name))
    if not check_password(user.password_hash if user else None, password):
        ratelimit.record_login_failure(address, name)
        raise _bad_credentials()
    assert user is not None
    if not user.active:
        raise Unauthorized("account_disabled", "This account is disabled", "该账号已停用")
    ratelimit.clear_login_pair(name, address)
    return user


def login(
    username: str, password: str, address: str = "unknown", device: str | None = None
) -> IssuedToken:
    """Exchange a username and password for an access token (a new API session)."""
    user = authenticate(username, password, address)
    with unit_of_work() as uow:
        user.last_login_at = uow.now
        opaque = sessions.start(uow, user, sessions.API, device=device, address=address)
    ttl = current_app.config["ACCESS_TOKEN_TTL"]
    token = _serializer().dumps({"u": user.id, "v": user.token_version, "s": opaque})
    return IssuedToken(access_token=token, token_type="Bearer", expires_in=ttl)


def start_web_session(
    username: str, password: str, address: str, device: str | None
) -> tuple[str, Principal]:
    """Sign in on the pages: the opaque id for the cookie and who signed in."""
    user = authenticate(username, password, address)
    with unit_of_work() as uow:
        user.last_login_at = uow.now
        opaque = sessions.start(uow, user, sessions.WEB, device=device, address=address)
    return opaque, _principal_for(user)


def resolve_web_session(opaque_id: str) -> Principal:
    """Who a page's session cookie stands for; 401 `session_ended` once it has ended."""
    with unit_of_work() as uow:
        live = sessions.check(uow, opaque_id, sessions.WEB)
        return _principal_for(live.user)


def end_session(opaque_id: str) -> None:
    """Sign out one session (a page's or an access token's)."""
    with unit_of_work() as uow:
        sessions.revoke(uow, opaque_id)


def session_of_token(token: str) -> str | None:
    """The session id inside a user access token (None for device tokens and junk)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    value = data.get("s") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def sign_out_everywhere(user_id: int) -> int:
    """End every page session and API token of this user; how many were open."""
    with unit_of_work() as uow:
        user = uow.session.get(User, user_id)
        if user is None:
            return 0
        return sessions.revoke_all(uow, user)


def _principal_for(user: User, device_id: str | None = None) -> Principal:
    role = Role(user.role)
    grid_ids: frozenset[int] = frozenset()
    if role is Role.COLLECTOR:
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
    )


def _invalid_token() -> Unauthorized:
    return Unauthorized("invalid_token", "The token is invalid or expired", "令牌无效或已过期")


def resolve_bearer(token: str) -> Principal:
    """The principal a bearer token stands for; 401 for anything not currently valid."""
    if token.startswith(DEVICE_TOKEN_PREFIX):
        return _resolve_device(token)
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
        with unit_of_work() as uow:
            live = sessions.check(uow, data["s"], sessions.API)
            if live.user.id != data["u"]:
                raise _invalid_token()
            return _principal_for(live.user)
    except Unauthorized as exc:
        if exc.code == "session_ended":
            raise _invalid_token() from exc
        raise


def _resolve_device(token: str) -> Principal:
    device = db.session.scalar(select(Device).where(Device.token_hash == hash_device_token(token)))
    if device is None:
        raise _invalid_token()
    if device.revoked_at is not None:
        raise Unauthorized("device_revoked", "This device has been revoked", "该设备已被停用")
    user = device.collector
    if not user.active:
        raise _invalid_token()
    now = utcnow()
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_RESOLUTION:
        device.last_seen_at = now  # at most one write a minute per device
        db.session.commit()
    return _principal_for(user, device_id=device.id)
