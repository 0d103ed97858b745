"""/api/v1/notices: 阳光五务 notices of the subdistrict's communities, and the answers to
residents' questions (dispatchers and admins)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import SHA256, InputSchema, id_field, moment_field
from server.domain.notices import CATEGORIES
from server.domain.roles import Role
from server.services.civic import notices
from server.services.uow import unit_of_work

blp = ApiBlueprint("notices", __name__, url_prefix="/api/v1", description="阳光五务 Notices")
STAFF = (Role.DISPATCHER, Role.ADMIN)


class NoticeArgs(InputSchema):
    community_id = id_field(required=True)
    category = fields.String(
        required=True,
        validate=validate.OneOf(CATEGORIES),
        metadata={
            "description": "party 党务 | village 村(居)务 | finance 财务 | service 服务 "
            "| affairs 事务"
        },
    )
    title = fields.String(required=True, validate=validate.Length(1, 120))
    body = fields.String(required=True, validate=validate.Length(1, 20000))
    attachments = fields.List(
        fields.String(validate=SHA256), validate=validate.Length(max=20), load_default=list
    )
    published_from = moment_field(required=True)
    published_until = moment_field(required=True)


class NoticeCommunity(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class QuestionSchema(Schema):
    id = fields.Integer(required=True)
    body = fields.String(required=True)
    asker = fields.String(allow_none=True, metadata={"description": "masked (public)"})
    answer = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    hidden_reason = fields.String(allow_none=True)
    at = fields.DateTime(required=True)


class NoticeSchema(Schema):
    id = fields.Integer(required=True)
    community = fields.Nested(NoticeCommunity, required=True)
    category = fields.String(required=True)
    category_zh = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    attachments = fields.List(fields.String(), required=True)
    published_from = fields.DateTime(required=True)
    published_until = fields.DateTime(required=True)
    published = fields.Boolean(required=True)
    questions = fields.List(fields.Nested(QuestionSchema), required=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawn_reason = fields.String(allow_none=True)


class NoticeList(Schema):
    items = fields.List(fields.Nested(NoticeSchema), required=True)


class StaffNoticeListArgs(InputSchema):
    community = id_field()


class NoticeReasonArgs(InputSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class NoticeAnswerArgs(InputSchema):
    answer = fields.String(required=True, validate=validate.Length(1, 4000))


@blp.route("/notices", methods=["GET"])
@blp.auth(*STAFF)
@blp.arguments(StaffNoticeListArgs, location="query")
@blp.response(200, NoticeList)
def list_notices(args: dict[str, Any]) -> Any:
    """Every notice of the subdistrict (past, current and scheduled), with all questions."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        rows = notices.list_for_staff(uow, principal, args.get("community"))
        return {"items": [notices.present(uow, n, staff=True) for n in rows]}


@blp.route("/notices", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(NoticeArgs)
@blp.response(201, NoticeSchema)
@blp.alt_response(422, schema=ErrorSchema, description="invalid_period")
def publish(args: dict[str, Any]) -> Any:
    """Publish a notice for a period (it shows on the board only within it)."""
    with unit_of_work() as uow:
        notice = notices.publish(uow, authenticated_principal(), notices.NoticeInput(**args))
        return notices.present(uow, notice, staff=True), 201


@blp.route("/notices/<int(max=2147483647):notice_id>", methods=["GET"])
@blp.auth(*STAFF)
@blp.response(200, NoticeSchema)
def get_notice(notice_id: int) -> Any:
    with unit_of_work() as uow:
        notice = notices.staff_notice(uow, authenticated_principal(), notice_id)
        return notices.present(uow, notice, staff=True)


@blp.route("/notices/<int(max=2147483647):notice_id>/withdraw", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(NoticeReasonArgs)
@blp.response(200, NoticeSchema)
def withdraw(args: dict[str, Any], notice_id: int) -> Any:
    """Take a notice off the board before its period ends (kept, with the reason)."""
    with unit_of_work() as uow:
        notice = notices.withdraw(uow, authenticated_principal(), notice_id, args["reason"])
        return notices.present(uow, notice, staff=True)


@blp.route("/notices/questions/<int(max=2147483647):question_id>/answer", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(NoticeAnswerArgs)
@blp.response(200, QuestionSchema)
@blp.alt_response(409, schema=ErrorSchema, description="already_answered")
def answer(args: dict[str, Any], question_id: int) -> Any:
    """Answer a resident's question publicly."""
    with unit_of_work() as uow:
        q = notices.answer(uow, authenticated_principal(), question_id, args["answer"])
        return _question(q)


@blp.route("/notices/questions/<int(max=2147483647):question_id>/hide", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(NoticeReasonArgs)
@blp.response(200, QuestionSchema)
def hide(args: dict[str, Any], question_id: int) -> Any:
    """Moderate a question: hidden with a reason, never deleted."""
    with unit_of_work() as uow:
        q = notices.hide_question(uow, authenticated_principal(), question_id, args["reason"])
        return _question(q)


def _question(q: Any) -> dict[str, Any]:
    return {
        "id": q.id,
        "body": q.body,
        "asker": q.asker_name,
        "answer": q.answer,
        "answered_at": q.answered_at,
        "hidden_reason": q.hidden_reason,
        "at": q.created_at,
    }
