"""Logging in and resolving bearer tokens (user access tokens and device tokens)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from server.domain.roles import Role
from server.errors import DomainError, Unauthorized
from server.extensions import db
from server.models import CollectorGrid, Device, User
from server.models.base import utcnow
from server.services import ratelimit
from server.services.passwords import check_password
from server.services.principal import Principal
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


def _locked(until: datetime) -> DomainError:
    seconds = max(1, int((until - utcnow()).total_seconds()))
    minutes = -(-seconds // 60)
    return DomainError(
        "account_locked",
        f"Too many failed logins; try again in {minutes} min",
        f"登录失败次数过多，请 {minutes} 分钟后再试",
        status=429,
        headers={"Retry-After": str(seconds)},
    )


@dataclass(frozen=True)
class LoginAttempt:
    """A login's outcome. A refused login still writes (failure counters, the lock), so the
    refusal is returned, not raised: the edge commits, then raises it."""

    token: IssuedToken | None = None
    refusal: DomainError | None = None

    def issued(self) -> IssuedToken:
        """The token, or the refusal raised (call after the unit of work has committed)."""
        if self.refusal is not None:
            raise self.refusal
        assert self.token is not None
        return self.token


def login(uow: UnitOfWork, username: str, password: str, address: str = "unknown") -> LoginAttempt:
    """Exchange a username and password for an access token.

    Consecutive failures lock the account for a while (the password is not even checked
    while locked, so guessing on cannot succeed).
    """
    ratelimit.check_login_address(address)
    user = uow.session.scalar(select(User).where(User.username == username.strip().lower()))
    now = uow.now
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise _locked(user.locked_until)
    if not check_password(user.password_hash if user else None, password):
        ratelimit.record_login_failure(uow, address)
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
                minutes = current_app.config["LOGIN_LOCK_MINUTES"]
                user.locked_until = now + timedelta(minutes=minutes)
                user.failed_logins = 0
        return LoginAttempt(refusal=_bad_credentials())
    assert user is not None
    if not user.active:
        raise Unauthorized("account_disabled", "This account is disabled", "该账号已停用")
    user.last_login_at = now
    user.failed_logins = 0
    user.locked_until = None
    ttl = current_app.config["ACCESS_TOKEN_TTL"]
    token = _serializer().dumps({"u": user.id, "v": user.token_version})
    return LoginAttempt(token=IssuedToken(access_token=token, token_type="Bearer", expires_in=ttl))


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
    user = db.session.get(User, data["u"])
    if user is None or not user.active or user.token_version != data.get("v"):
        raise _invalid_token()
    return _principal_for(user)


def _resolve_device(uow: UnitOfWork, token: str) -> Principal:
    device = uow.session.scalar(select(Device).where(Device.token_hash == hash_device_token(token)))
    if device is None:
        raise _invalid_token()
    if device.revoked_at is not None:
        raise Unauthorized("device_revoked", "This device has been revoked", "该设备已被停用")
    user = device.collector
    if not user.active:
        raise _invalid_token()
    now = uow.now
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_RESOLUTION:
        device.last_seen_at = now  # at most one write a minute per device
    return _principal_for(user, device_id=device.id)
