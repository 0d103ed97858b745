"""Server-side sessions: every sign-in is a row that sign-out, "sign out everywhere" and
disabling the account end at once, with idle and absolute expiry.

The browser's cookie and the API's access token carry only a random id; the row is found by
its SHA-256. Web sessions expire after MINQING_WEB_SESSION_MINUTES idle or
MINQING_SESSION_MAX_HOURS after sign-in; API tokens after MINQING_ACCESS_TOKEN_TTL.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from server.errors import Unauthorized
from server.models import AuthSession, User
from server.services.uow import UnitOfWork

WEB, API = "web", "api"
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def _hash(opaque_id: str) -> str:
    return hashlib.sha256(opaque_id.encode()).hexdigest()


def address_hash(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def _ended() -> Unauthorized:
    return Unauthorized(
        "session_ended", "This sign-in has ended; sign in again", "登录已失效，请重新登录"
    )


def _lifetime(kind: str) -> timedelta:
    if kind == WEB:
        return timedelta(hours=int(current_app.config["SESSION_MAX_HOURS"]))
    return timedelta(seconds=int(current_app.config["ACCESS_TOKEN_TTL"]))


def _idle_limit(kind: str) -> timedelta | None:
    if kind == WEB:
        return timedelta(minutes=int(current_app.config["WEB_SESSION_MINUTES"]))
    return None  # API clients poll at their own pace; their tokens end at the TTL


def start(uow: UnitOfWork, user: User, kind: str, *, device: str | None, address: str) -> str:
    """A new session for `user`; the opaque id to hand to the client (shown this once)."""
    opaque = secrets.token_urlsafe(32)
    uow.session.add(
        AuthSession(
            id_hash=_hash(opaque),
            user_id=user.id,
            kind=kind,
            device=(device or "")[:200] or None,
            address_hash=address_hash(address),
            created_at=uow.now,
            last_seen_at=uow.now,
            expires_at=uow.now + _lifetime(kind),
            user_version=user.token_version,
        )
    )
    return opaque


@dataclass(frozen=True)
class Live:
    session: AuthSession
    user: User
    touched: bool  # last_seen_at moved (a write to commit)


def check(uow: UnitOfWork, opaque_id: str, kind: str) -> Live:
    """The live session behind `opaque_id`; 401 `session_ended` when revoked, idle too long,
    past its absolute expiry, or its user disabled or re-keyed since."""
    found = (
        uow.session.execute(  # the session and its user in one query: every request asks
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id_hash == _hash(opaque_id))
        ).first()
        if opaque_id
        else None
    )
    if found is None:
        raise _ended()
    row, user = found
    if row.kind != kind or row.revoked_at is not None:
        raise _ended()
    if uow.now >= row.expires_at:
        raise _ended()
    idle = _idle_limit(kind)
    if idle is not None and uow.now - row.last_seen_at > idle:
        raise _ended()
    if not user.active or user.token_version != row.user_version:
        raise _ended()
    touched = uow.now - row.last_seen_at > LAST_SEEN_RESOLUTION
    if touched:
        row.last_seen_at = uow.now  # at most one write a minute per session
    return Live(row, user, touched)


def revoke(uow: UnitOfWork, opaque_id: str) -> None:
    """Sign out this one session (no error when it already ended)."""
    row = uow.session.get(AuthSession, _hash(opaque_id)) if opaque_id else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = uow.now


def revoke_all(uow: UnitOfWork, user: User) -> int:
    """End every session and API token of `user` at once (and void any older signed token);
    how many sessions were open."""
    result = uow.session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    user.token_version = (user.token_version or 0) + 1
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_sessions(uow: UnitOfWork, user_id: int) -> list[AuthSession]:
    """A user's sessions that have not been revoked or reached their absolute expiry."""
    return list(
        uow.session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > uow.now,
            )
            .order_by(AuthSession.created_at.desc())
        )
    )
