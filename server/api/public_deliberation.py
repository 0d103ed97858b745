"""/api/v1/public/topics and /api/v1/public/notices: residents propose topics, give their view
and evaluation with a one-time code, comment, read notices in their period and ask about
them. No account; writes are rate-limited per address; names are masked."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint
from server.api.deliberation import (
    CommentArgs,
    CommentSchema,
    EvaluateArgs,
    ProposeArgs,
    TopicSchema,
    ViewArgs,
)
from server.api.errors import ErrorSchema
from server.api.notices import NoticeList, NoticeSchema
from server.api.schemas import InputSchema, id_field
from server.domain.masking import mask_name
from server.domain.notices import CATEGORIES
from server.services.civic import deliberation, notices
from server.services.uow import unit_of_work

blp = ApiBlueprint(
    "public_deliberation",
    __name__,
    url_prefix="/api/v1/public",
    description="居民议事与阳光五务 Public deliberation and notices",
)
TOKEN = "<string(maxlength=64):token>"


class PublicProposeArgs(ProposeArgs):
    class Meta:
        exclude = ("photos", "case_ids")


class PublicNoticeListArgs(InputSchema):
    community = id_field()
    category = fields.String(validate=validate.OneOf(CATEGORIES))


class NoticeQuestionArgs(InputSchema):
    body = fields.String(required=True, validate=validate.Length(1, 1000))
    name = fields.String(validate=validate.Length(1, 50))


class QuestionAccepted(Schema):
    message_zh = fields.String(required=True)
    message = fields.String(required=True)


def _limit(kind: str, factor: int = 1) -> None:
    with unit_of_work() as uow:  # counted even if the write is then refused
        deliberation.limit_public_write(uow, request.remote_addr or "unknown", kind, factor)


@blp.route("/topics", methods=["POST"])
@blp.arguments(PublicProposeArgs)
@blp.response(201, TopicSchema)
@blp.alt_response(429, schema=ErrorSchema, description="too many from this address")
def propose(args: dict[str, Any]) -> Any:
    """A resident proposes a topic (提议) for their community."""
    _limit("topic")
    with unit_of_work() as uow:
        topic = deliberation.propose(uow, None, deliberation.ProposeInput(**args))
    with unit_of_work() as uow:
        return deliberation.present(uow, topic, None), 201


@blp.route(f"/topics/{TOKEN}", methods=["GET"])
@blp.response(200, TopicSchema)
@blp.alt_response(404, schema=ErrorSchema, description="unknown link")
def topic(token: str) -> Any:
    """A topic as residents see it: views counted live, names masked, hidden comments
    without their text."""
    with unit_of_work() as uow:
        return deliberation.present(uow, deliberation.public_topic(uow, token), None)


@blp.route(f"/topics/{TOKEN}/views", methods=["POST"])
@blp.arguments(ViewArgs)
@blp.response(201, TopicSchema)
@blp.alt_response(403, schema=ErrorSchema, description="invalid_code")
@blp.alt_response(409, schema=ErrorSchema, description="code_used, illegal_transition")
def give_view(args: dict[str, Any], token: str) -> Any:
    """Give the household's view (支持/反对/其他意见) with its one-time code."""
    _limit("code", 10)
    with unit_of_work() as uow:
        deliberation.give_view(uow, token, args["code"], args["choice"])
    with unit_of_work() as uow:
        return deliberation.present(uow, deliberation.public_topic(uow, token), None), 201


@blp.route(f"/topics/{TOKEN}/comments", methods=["POST"])
@blp.arguments(CommentArgs)
@blp.response(201, CommentSchema)
@blp.alt_response(403, schema=ErrorSchema, description="invalid_code")
def comment(args: dict[str, Any], token: str) -> Any:
    """Comment on a topic in consultation or evaluation, signed by a valid code."""
    _limit("code", 10)
    with unit_of_work() as uow:
        row = deliberation.comment(uow, token, args["code"], args["body"], args.get("name"))
        out = {
            "id": row.id,
            "author": mask_name(row.author_name),
            "body": row.body,
            "hidden": False,
            "hidden_reason": None,
            "at": row.created_at,
        }
    return out, 201


@blp.route(f"/topics/{TOKEN}/evaluation", methods=["POST"])
@blp.arguments(EvaluateArgs)
@blp.response(201, TopicSchema)
@blp.alt_response(403, schema=ErrorSchema, description="invalid_code")
@blp.alt_response(409, schema=ErrorSchema, description="code_used, illegal_transition")
def evaluate(args: dict[str, Any], token: str) -> Any:
    """Rate how the decision was carried out (评议), once per code."""
    _limit("code", 10)
    with unit_of_work() as uow:
        deliberation.evaluate(uow, token, args["code"], args["verdict"], args.get("comment"))
    with unit_of_work() as uow:
        return deliberation.present(uow, deliberation.public_topic(uow, token), None), 201


@blp.route("/notices", methods=["GET"])
@blp.arguments(PublicNoticeListArgs, location="query")
@blp.response(200, NoticeList)
def list_notices(args: dict[str, Any]) -> Any:
    """阳光五务: notices in their publication period, newest first."""
    with unit_of_work() as uow:
        rows = notices.published(
            uow, community=args.get("community"), category=args.get("category")
        )
        return {"items": [notices.present(uow, n, staff=False) for n in rows]}


@blp.route("/notices/<int(max=2147483647):notice_id>", methods=["GET"])
@blp.response(200, NoticeSchema)
@blp.alt_response(404, schema=ErrorSchema, description="unknown, not yet or no longer published")
def get_notice(notice_id: int) -> Any:
    with unit_of_work() as uow:
        return notices.present(uow, notices.public_notice(uow, notice_id), staff=False)


@blp.route("/notices/<int(max=2147483647):notice_id>/questions", methods=["POST"])
@blp.arguments(NoticeQuestionArgs)
@blp.response(202, QuestionAccepted)
@blp.alt_response(404, schema=ErrorSchema, description="the notice is not published")
def ask(args: dict[str, Any], notice_id: int) -> Any:
    """Ask about a published notice; the question shows once it is answered."""
    _limit("question")
    with unit_of_work() as uow:
        notices.ask(uow, notice_id, args["body"], args.get("name"))
    return {
        "message_zh": "已收到您的提问，答复后将公开显示",
        "message": "Question received; it is shown with its answer",
    }, 202
