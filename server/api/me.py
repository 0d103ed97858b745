"""GET /me: who the token belongs to, their role, unit and grids."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.schemas import Ref
from server.domain.roles import ROLE_NAMES_ZH
from server.services.territory import org

blp = ApiBlueprint("me", __name__, url_prefix="/api/v1/me", description="当前用户 Current user")


class UnitRef(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    phone = fields.String(allow_none=True)
    role = fields.String(required=True)
    role_zh = fields.String(required=True)
    subdistrict = fields.Nested(Ref, allow_none=True)
    unit = fields.Nested(UnitRef, allow_none=True)
    grid_ids = fields.List(fields.Integer(), required=True)
    device_id = fields.String(allow_none=True)


@blp.route("", methods=["GET"])
@blp.auth()
@blp.response(200, MeSchema)
def me() -> Any:
    """The authenticated user (or the collector a device belongs to)."""
    principal = authenticated_principal()
    user = org.get_user(principal.user_id)
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "phone": user.phone,
        "role": principal.role.value,
        "role_zh": ROLE_NAMES_ZH[principal.role],
        "subdistrict": user.subdistrict,
        "unit": user.unit,
        "grid_ids": sorted(principal.grid_ids),
        "device_id": principal.device_id,
    }
