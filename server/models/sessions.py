"""Sign-ins kept on the server: one row per web sign-in or API token, revocable at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class AuthSession(Base):
    """One sign-in: a browser session (kind `web`) or an API access token (kind `api`).

    The cookie or token carries a random id; only its SHA-256 is stored. A session ends when
    revoked (sign-out, sign out everywhere, account disabled), idle too long, or at
    `expires_at`, whichever comes first.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_open", "user_id", "revoked_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # web | api
    device: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the User-Agent
    address_hash: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    user_version: Mapped[int] = mapped_column(Integer)  # the user's token_version at sign-in
