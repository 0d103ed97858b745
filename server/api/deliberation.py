"""/api/v1/deliberations: topics through the 五议 method, voting codes, moderation, the
council and its meetings (dispatchers and admins of the subdistrict; collectors propose)."""

from __future__ import annotations

from typing import Any

from flask import request, send_file
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import (
    MAX_ID,
    SHA256,
    InputSchema,
    id_field,
    moment_field,
)
from server.domain.deliberation import VERDICTS, VIEWS, TopicStatus
from server.domain.roles import Role
from server.models.deliberation import MEMBER_KINDS
from server.services.civic import deliberation
from server.services.uow import unit_of_work

blp = ApiBlueprint(
    "deliberations", __name__, url_prefix="/api/v1", description="协商议事 Deliberation"
)
STAFF = (Role.DISPATCHER, Role.ADMIN)

# ---------------------------------------------------------------------------------- schemas


class ProposeArgs(InputSchema):
    community_id = id_field(required=True)
    title = fields.String(required=True, validate=validate.Length(1, 120))
    description = fields.String(required=True, validate=validate.Length(1, 4000))
    address = fields.String(validate=validate.Length(1, 200))
    lon = fields.Float(allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(allow_nan=False, validate=validate.Range(-90, 90))
    photos = fields.List(
        fields.String(validate=SHA256), validate=validate.Length(max=9), load_default=list
    )
    proposer_name = fields.String(validate=validate.Length(1, 50))
    case_ids = fields.List(
        fields.String(validate=validate.Length(1, 64)),
        validate=validate.Length(max=50),
        load_default=list,
        metadata={"description": "dispatchers: raise the topic from these cases"},
    )


class TopicCommunity(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class TopicVotes(Schema):
    for_ = fields.Integer(data_key="for", attribute="for", allow_none=True)
    against = fields.Integer(allow_none=True)
    abstain = fields.Integer(allow_none=True)


class TopicEvaluation(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    score = fields.Float(allow_none=True, required=True)


class TopicLinkedCase(Schema):
    number = fields.String(required=True)
    status = fields.String(required=True)
    role = fields.String(required=True)


class CommentSchema(Schema):
    id = fields.Integer(required=True)
    author = fields.String(allow_none=True)
    body = fields.String(allow_none=True, metadata={"description": "None when hidden (public)"})
    hidden = fields.Boolean(required=True)
    hidden_reason = fields.String(allow_none=True)
    at = fields.DateTime(required=True)


class TopicEventSchema(Schema):
    seq = fields.Integer(required=True)
    action = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    actor_role = fields.String(required=True)
    payload = fields.Dict(required=True)
    at = fields.DateTime(required=True)


class TopicSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    community = fields.Nested(TopicCommunity, required=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    photos = fields.List(fields.String(), required=True)
    source = fields.String(required=True)
    proposer_name = fields.String(allow_none=True, metadata={"description": "masked (public)"})
    status = fields.String(required=True)
    status_zh = fields.String(required=True)
    closes_at = fields.DateTime(allow_none=True)
    stage_due_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_zh = fields.String(allow_none=True)
    votes = fields.Nested(TopicVotes, allow_none=True)
    decision = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    views = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    evaluation = fields.Nested(TopicEvaluation, required=True)
    cases = fields.List(fields.Nested(TopicLinkedCase), required=True)
    comments = fields.List(fields.Nested(CommentSchema), required=True)
    created_at = fields.DateTime(required=True)
    allowed_actions = fields.List(fields.String(), required=True)
    version = fields.Integer(metadata={"description": "staff only"})
    public_token = fields.String(metadata={"description": "staff only"})
    events = fields.List(fields.Nested(TopicEventSchema), metadata={"description": "staff only"})


class TopicList(Schema):
    items = fields.List(fields.Nested(TopicSchema), required=True)


class TopicListArgs(InputSchema):
    community = id_field()
    status = fields.List(fields.String(validate=validate.OneOf([s.value for s in TopicStatus])))


class TopicActionArgs(InputSchema):
    version = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))
    reason = fields.String(validate=validate.Length(1, 2000), metadata={"description": "decline"})
    member_id = id_field(metadata={"description": "review_opinion"})
    opinion = fields.String(
        validate=validate.Length(1, 2000), metadata={"description": "review_opinion"}
    )
    closes_at = moment_field(metadata={"description": "open_consultation, complete: 1–30 days"})
    votes_for = fields.Integer(validate=validate.Range(0, 100000))
    votes_against = fields.Integer(validate=validate.Range(0, 100000))
    votes_abstain = fields.Integer(validate=validate.Range(0, 100000))
    minutes = fields.String(validate=validate.Length(1, 20000), metadata={"description": "decide"})
    meeting_id = id_field(metadata={"description": "decide: the meeting that voted"})
    case_id = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "dispatch_case: existing case"}
    )
    category = fields.String(
        validate=validate.Length(1, 32), metadata={"description": "dispatch_case: new case"}
    )
    description = fields.String(validate=validate.Length(1, 2000))
    unit_id = id_field(metadata={"description": "dispatch_case"})
    deadline = moment_field()


class TopicCodesArgs(InputSchema):
    count = fields.Integer(required=True, validate=validate.Range(1, 2000))


class CodesResponse(Schema):
    codes = fields.List(fields.String(), required=True)
    public_url = fields.String(required=True)


class TopicHideArgs(InputSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class MemberArgs(InputSchema):
    name = fields.String(required=True, validate=validate.Length(1, 50))
    kind = fields.String(required=True, validate=validate.OneOf(MEMBER_KINDS))
    organisation = fields.String(validate=validate.Length(1, 100))


class MemberSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    organisation = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class MeetingArgs(InputSchema):
    community_id = id_field(required=True)
    held_at = moment_field(required=True)
    place = fields.String(validate=validate.Length(1, 200))
    agenda = fields.List(id_field(), validate=validate.Length(max=50), load_default=list)
    attendance = fields.List(id_field(), validate=validate.Length(max=200), load_default=list)
    minutes = fields.String(validate=validate.Length(1, 20000))
    attachments = fields.List(
        fields.String(validate=SHA256), validate=validate.Length(max=20), load_default=list
    )


class MeetingSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    held_at = fields.DateTime(required=True)
    place = fields.String(allow_none=True)
    agenda = fields.List(fields.Integer(), required=True)
    attendance = fields.List(fields.Integer(), required=True)
    minutes = fields.String(allow_none=True)
    attachments = fields.List(fields.String(), required=True)


class FileForm(InputSchema):
    file = Upload(required=True, metadata={"description": "a JPEG, PNG or WebP photo, or a PDF"})


class SuggestionCase(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)


class SuggestionSchema(Schema):
    reason = fields.String(
        required=True, metadata={"description": "reopened | escalated | recurring"}
    )
    community_id = fields.Integer(required=True)
    community_name = fields.String(required=True)
    category_name = fields.String(required=True)
    cases = fields.List(fields.Nested(SuggestionCase), required=True)


# public inputs, shared with server.api.public_deliberation
class ViewArgs(InputSchema):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    choice = fields.String(
        required=True,
        validate=validate.OneOf(VIEWS),
        metadata={"description": "support 支持 | oppose 反对 | other 其他意见"},
    )


class CommentArgs(InputSchema):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    body = fields.String(required=True, validate=validate.Length(1, 1000))
    name = fields.String(validate=validate.Length(1, 50))


class EvaluateArgs(InputSchema):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))
    comment = fields.String(validate=validate.Length(1, 500))


# ---------------------------------------------------------------------------------- views


@blp.route("/deliberations", methods=["GET"])
@blp.auth(*STAFF)
@blp.arguments(TopicListArgs, location="query")
@blp.response(200, TopicList)
def list_topics(args: dict[str, Any]) -> Any:
    """Topics of the subdistrict, newest first."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        topics = deliberation.list_topics(
            uow, principal, community=args.get("community"), status=args.get("status")
        )
        return {"items": [deliberation.present(uow, t, principal) for t in topics]}


@blp.route("/deliberations", methods=["POST"])
@blp.auth(Role.COLLECTOR, *STAFF)
@blp.arguments(ProposeArgs)
@blp.response(201, TopicSchema)
def propose(args: dict[str, Any]) -> Any:
    """Propose a topic (提议): a collector in their grids' communities, staff anywhere in the
    subdistrict, optionally from cases."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        topic = deliberation.propose(uow, principal, deliberation.ProposeInput(**args))
    with unit_of_work() as uow:
        return deliberation.present(uow, topic, principal), 201


@blp.route("/deliberations/<int(max=2147483647):topic_id>", methods=["GET"])
@blp.auth(*STAFF)
@blp.response(200, TopicSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no such topic in your scope")
def get_topic(topic_id: int) -> Any:
    """A topic with its linked cases, views, comments (hidden ones too) and events."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        topic = deliberation.visible_topic(uow, principal, topic_id)
        return deliberation.present(uow, topic, principal)


@blp.route(
    "/deliberations/<int(max=2147483647):topic_id>/actions/<string:action>", methods=["POST"]
)
@blp.auth(*STAFF)
@blp.arguments(TopicActionArgs)
@blp.response(200, TopicSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no such topic or action")
@blp.alt_response(409, schema=ErrorSchema, description="stale_version, illegal_transition")
@blp.alt_response(422, schema=ErrorSchema, description="a guard refused (invalid_period, …)")
def topic_action(args: dict[str, Any], topic_id: int, action: str) -> Any:
    """Fire a 五议 action: accept, decline, review_opinion, open_consultation,
    close_consultation, decide, dispatch_case, complete, close. Carries `version`."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        topic = deliberation.act(uow, principal, topic_id, action, deliberation.ActionInput(**args))
    with unit_of_work() as uow:
        return deliberation.present(uow, topic, principal)


@blp.route("/deliberations/<int(max=2147483647):topic_id>/codes", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(TopicCodesArgs)
@blp.response(201, CodesResponse)
def generate_codes(args: dict[str, Any], topic_id: int) -> Any:
    """A batch of one-time voting codes for the topic's households (shown once: print them)."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        codes = deliberation.generate_codes(uow, principal, topic_id, args["count"])
        token = deliberation.visible_topic(uow, principal, topic_id).public_token
    return {"codes": codes, "public_url": f"{request.host_url.rstrip('/')}/t/{token}"}, 201


@blp.route(
    "/deliberations/<int(max=2147483647):topic_id>/comments/<int(max=2147483647):comment_id>/hide",
    methods=["POST"],
)
@blp.auth(*STAFF)
@blp.arguments(TopicHideArgs)
@blp.response(200, TopicSchema)
def hide_comment(args: dict[str, Any], topic_id: int, comment_id: int) -> Any:
    """Moderate a comment: hidden from the public with a reason, never deleted."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        deliberation.hide_comment(uow, principal, topic_id, comment_id, args["reason"])
        topic = deliberation.visible_topic(uow, principal, topic_id)
        return deliberation.present(uow, topic, principal)


@blp.route("/councils/<int(max=2147483647):community_id>/members", methods=["GET"])
@blp.auth(*STAFF)
@blp.response(200, MemberSchema(many=True))
def members(community_id: int) -> Any:
    """The community's 协商议事会."""
    with unit_of_work() as uow:
        return deliberation.members_of(uow, authenticated_principal(), community_id)


@blp.route("/councils/<int(max=2147483647):community_id>/members", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(MemberArgs)
@blp.response(201, MemberSchema)
def add_member(args: dict[str, Any], community_id: int) -> Any:
    """Add a member: committee member, resident or 驻地单位 representative."""
    with unit_of_work() as uow:
        member = deliberation.add_member(
            uow,
            authenticated_principal(),
            community_id,
            args["name"],
            args["kind"],
            args.get("organisation"),
        )
        return member, 201


@blp.route("/meetings", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(MeetingArgs)
@blp.response(201, MeetingSchema)
def record_meeting(args: dict[str, Any]) -> Any:
    """Record a council meeting: agenda, attendance, minutes (纪要) and attachments."""
    with unit_of_work() as uow:
        meeting = deliberation.record_meeting(
            uow, authenticated_principal(), deliberation.MeetingInput(**args)
        )
        return meeting, 201


FILE_ERRORS = (
    (413, "payload_too_large (MINQING_MAX_UPLOAD_MB) or image_too_large (megapixels)"),
    (415, "unsupported_media_type: not a whole JPEG, PNG, WebP image or PDF"),
)


def _file_errors(func: Any) -> Any:
    for status, description in FILE_ERRORS:
        func = blp.alt_response(status, schema=ErrorSchema, description=description)(func)
    return func


@blp.route("/deliberations/<int(max=2147483647):topic_id>/files", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(FileForm, location="files")
@blp.response(201, TopicSchema)
@_file_errors
def attach_to_topic(form: dict[str, Any], topic_id: int) -> Any:
    """Add a photo or PDF document to the topic (multipart field `file`; an `attach` event)."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        deliberation.attach_to_topic(uow, principal, topic_id, form["file"].read())
    with unit_of_work() as uow:
        topic = deliberation.visible_topic(uow, principal, topic_id)
        return deliberation.present(uow, topic, principal), 201


@blp.route(
    "/deliberations/<int(max=2147483647):topic_id>/files/<string(length=64):sha256>",
    methods=["GET"],
)
@blp.auth(*STAFF)
@blp.doc(responses={"200": {"description": "the file (a photo's public copy, without EXIF)"}})
@blp.alt_response(404, schema=ErrorSchema, description="not_found")
def topic_file(topic_id: int, sha256: str) -> Any:
    """A file of the topic or of a meeting that had it on its agenda."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        topic = deliberation.visible_topic(uow, principal, topic_id)
        stored = deliberation.topic_file(uow, principal, topic, sha256)
    response = send_file(stored.path, mimetype=stored.mime, max_age=3600)
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/meetings/<int(max=2147483647):meeting_id>/files", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(FileForm, location="files")
@blp.response(201, MeetingSchema)
@_file_errors
def attach_to_meeting(form: dict[str, Any], meeting_id: int) -> Any:
    """Add a photo or PDF to a meeting's minutes (纪要); each topic of its agenda records it."""
    from server.models import Meeting

    principal = authenticated_principal()
    with unit_of_work() as uow:
        deliberation.attach_to_meeting(uow, principal, meeting_id, form["file"].read())
    with unit_of_work() as uow:
        return uow.session.get(Meeting, meeting_id), 201


@blp.route("/deliberations/suggestions", methods=["GET"])
@blp.auth(*STAFF)
@blp.response(200, SuggestionSchema(many=True))
def suggestions() -> Any:
    """Cases that may need a topic (这些事项可能需要议事): escalated or reopened ones, and
    several of one kind in one community within 90 days; none linked to a topic yet."""
    with unit_of_work() as uow:
        return [
            {
                "reason": s.reason,
                "community_id": s.community_id,
                "community_name": s.community_name,
                "category_name": s.category_name,
                "cases": [{"id": c.id, "number": c.number, "status": c.status} for c in s.cases],
            }
            for s in deliberation.suggestions(uow, authenticated_principal())
        ]
