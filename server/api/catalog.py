"""Handling units and case categories."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.services.territory import org

blp = ApiBlueprint("catalog", __name__, url_prefix="/api/v1", description="单位与分类 Catalogue")

UNIT_KINDS_ZH = {
    "department": "职能部门",
    "property_office": "物管中心",
    "resident_unit": "驻地单位",
    "social_org": "社会组织",
}


class UnitSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    kind_zh = fields.Function(lambda u: UNIT_KINDS_ZH.get(u.kind, u.kind), required=True)
    subdistrict_id = fields.Integer(required=True)
    contact_phone = fields.String(allow_none=True)


class CategorySchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
    default_priority = fields.String(required=True)
    deadline_hours = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)


@blp.route("/units", methods=["GET"])
@blp.auth()
@blp.response(200, UnitSchema(many=True))
def units() -> Any:
    """Handling units (办理单位) of your subdistrict."""
    principal = authenticated_principal()
    return org.list_units(principal)


@blp.route("/categories", methods=["GET"])
@blp.response(200, CategorySchema(many=True))
def categories() -> Any:
    """Case categories with default priority and deadlines; public."""
    return org.list_categories()
