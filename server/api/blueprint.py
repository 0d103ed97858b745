"""flask-smorest Blueprint with our auth decorator, which also documents 401/403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request
from flask_smorest import Blueprint

from server.api.errors import ErrorSchema
from server.domain.roles import Role
from server.errors import Forbidden, Unauthorized
from server.services.people.auth import resolve_bearer
from server.services.people.principal import Principal
from server.services.uow import unit_of_work

F = TypeVar("F", bound=Callable[..., Any])

BEARER = [{"bearerAuth": []}]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal() -> Principal | None:
    """The principal of this request, if it authenticated (None on public requests)."""
    return cast(Principal | None, g.get("principal"))


def authenticated_principal() -> Principal:
    """The principal of a view behind `auth()` (without `optional`): always there."""
    principal = current_principal()
    assert principal is not None, "view is not behind auth()"
    return principal


def _missing_token() -> Unauthorized:
    return Unauthorized(
        "unauthorized",
        "Authentication required: send a Bearer token",
        "需要登录：请提供 Bearer 令牌",
    )


class ApiBlueprint(Blueprint):
    def auth(self, *roles: Role, optional: bool = False) -> Callable[[F], F]:
        """Require a bearer token (of one of `roles`, when given) before the view runs.

        With `optional=True` an anonymous request passes (principal None) but a bad token
        is still refused.
        """

        def decorator(func: F) -> F:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                token = bearer_token()
                if token is None:
                    if not optional:
                        raise _missing_token()
                    g.principal = None
                else:
                    with unit_of_work(read_mostly=True) as uow:
                        principal = resolve_bearer(uow, token)
                    if roles and principal.role not in roles:
                        raise Forbidden(
                            "Your role may not use this endpoint", "您的角色无权使用此接口"
                        )
                    g.principal = principal
                return func(*args, **kwargs)

            documented = self.alt_response(
                401, schema=ErrorSchema, description="Missing or invalid token"
            )(wrapper)
            if roles:
                documented = self.alt_response(
                    403, schema=ErrorSchema, description="Role not allowed"
                )(documented)
            security = [*BEARER, {}] if optional else BEARER
            return cast(F, self.doc(security=security)(documented))

        return decorator
