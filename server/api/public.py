"""/api/v1/public/cases/{token}: a resident's view of their case, and their rating."""

from __future__ import annotations

from typing import Any

from flask import send_file
from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint
from server.api.errors import ErrorSchema
from server.api.schemas import DeadlineNote, InputSchema
from server.domain.cases import VERDICTS
from server.services.caseloop import residents
from server.services.uow import unit_of_work

blp = ApiBlueprint(
    "public", __name__, url_prefix="/api/v1/public", description="居民查看与评价 Residents"
)


class TimelineItem(Schema):
    at = fields.DateTime(required=True)
    action = fields.String(required=True)
    text_zh = fields.String(required=True)
    text_en = fields.String(required=True)


class PublicPhoto(Schema):
    sha256 = fields.String(required=True)
    role = fields.String(required=True)
    url = fields.String(required=True)
    removed = fields.Boolean(
        metadata={"description": "removed under retention (personal data): the URL answers 410"}
    )


class PublicCategory(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)


class PublicCase(Schema):
    number = fields.String(required=True)
    status = fields.String(required=True)
    status_zh = fields.String(required=True)
    stage = fields.String(required=True)
    stage_zh = fields.String(required=True)
    category = fields.Nested(PublicCategory, required=True)
    description = fields.String(required=True)
    community = fields.String(required=True)
    reported_at = fields.DateTime(required=True)
    reporter_phone = fields.String(allow_none=True, metadata={"description": "masked"})
    deadline_at = fields.DateTime(allow_none=True)
    deadline_note = fields.Nested(
        DeadlineNote,
        allow_none=True,
        metadata={"description": "the deadline was counted with weekends only (years named)"},
    )
    result = fields.String(allow_none=True)
    timeline = fields.List(fields.Nested(TimelineItem), required=True)
    photos = fields.List(fields.Nested(PublicPhoto), required=True)
    can_rate = fields.Boolean(required=True)
    rating = fields.String(allow_none=True)
    rating_zh = fields.String(allow_none=True)


class RatingArgs(InputSchema):
    verdict = fields.String(
        required=True,
        validate=validate.OneOf(VERDICTS),
        metadata={"description": "satisfied 满意 | basic 基本满意 | unsatisfied 不满意"},
    )
    comment = fields.String(validate=validate.Length(1, 500))


TOKEN = "<string(maxlength=64):token>"


@blp.route(f"/cases/{TOKEN}", methods=["GET"])
@blp.response(200, PublicCase)
@blp.alt_response(404, schema=ErrorSchema, description="unknown link")
@blp.alt_response(410, schema=ErrorSchema, description="link_expired")
def public_case(token: str) -> Any:
    """A case's progress in plain words, with personal data masked; no account needed."""
    return residents.public_view(token)


@blp.route(f"/cases/{TOKEN}/rating", methods=["POST"])
@blp.arguments(RatingArgs)
@blp.response(201, PublicCase)
@blp.alt_response(404, schema=ErrorSchema, description="unknown link")
@blp.alt_response(409, schema=ErrorSchema, description="already_rated, not_awaiting_rating")
@blp.alt_response(410, schema=ErrorSchema, description="link_expired")
def rate(args: dict[str, Any], token: str) -> Any:
    """Rate the resolution once: 满意 and 基本满意 close the case, 不满意 reopens it."""
    with unit_of_work() as uow:
        out = residents.rate(uow, token, args["verdict"], args.get("comment"))
    return out, 201


@blp.route(f"/cases/{TOKEN}/photos/<string(length=64):sha256>", methods=["GET"])
@blp.response(200, description="the photo, without EXIF location data")
@blp.alt_response(404, schema=ErrorSchema, description="no such photo on this case")
@blp.alt_response(410, schema=ErrorSchema, description="photo_removed (personal data)")
def photo(token: str, sha256: str) -> Any:
    """A report or result photo of the case (the public copy: no EXIF GPS)."""
    stored = residents.public_photo(token, sha256)
    return send_file(stored.path, mimetype=stored.mime, max_age=31536000, etag=stored.etag)
