"""Errors a use case raises for the caller to show: a code, English and Chinese text, a field.

Services raise these; the API turns them into `{code, message, message_zh, field}` and the
CLI prints them. Defined outside `server.api` so every layer may raise them.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal with a stable code and a bilingual message."""

    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        message_zh: str,
        *,
        field: str | None = None,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.field = field
        self.details = details
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
        }
        if self.field is not None:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    status = 404

    def __init__(self, what: str, what_zh: str, *, field: str | None = None) -> None:
        super().__init__("not_found", f"{what} not found", f"{what_zh}不存在", field=field)


class Forbidden(DomainError):
    status = 403

    def __init__(
        self, message: str = "You may not do this", message_zh: str = "无权执行此操作"
    ) -> None:
        super().__init__("forbidden", message, message_zh)


class Unauthorized(DomainError):
    status = 401


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    """Well-formed input that the domain refuses (422)."""

    status = 422
