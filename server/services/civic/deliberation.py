"""Deliberation (协商议事) use cases: propose a topic, take it through the 五议 method,
residents' views, comments and evaluation with one-time codes, the council and its meetings.

Each public function is one use case in the caller's unit of work; none commits. The workflow
itself lives in `server.domain.deliberation`; scope (which subdistrict, which community) is
checked here. A topic's implementation runs through the normal case loop (`cases.report_case`
and `cases.act`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from server.domain import deliberation as dl
from server.domain.masking import mask_name
from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.models import (
    Case,
    Community,
    CouncilMember,
    Grid,
    Meeting,
    Notification,
    Topic,
    TopicCase,
    TopicComment,
    TopicEvent,
    TopicRating,
    TopicView,
    VotingCode,
)
from server.services.caseloop import cases
from server.services.files import attachments
from server.services.messaging import notify
from server.services.people import ratelimit
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork, stale_version

STAFF_ROLES = (Role.DISPATCHER, Role.ADMIN)
MAX_CODES_PER_BATCH = 2000


def _invalid(code: str, field_name: str, message: str, message_zh: str) -> Invalid:
    return Invalid(code, message, message_zh, field=field_name)


def _refused(exc: dl.TransitionRefused) -> DomainError:
    status = {"role_not_allowed": 403, "unknown_action": 404, "illegal_transition": 409}
    return DomainError(
        exc.code, exc.message, exc.message_zh, field=exc.field, status=status.get(exc.code, 422)
    )


def _actor(principal: Principal | None) -> str:
    return dl.RESIDENT if principal is None else principal.role.value


# ---------------------------------------------------------------------------------- limits


def limit_public_write(uow: UnitOfWork, address: str, kind: str, factor: int = 1) -> None:
    """Anonymous writes (topic, code, question): the resident report budget per address and
    kind; writes with a code get `factor` times as much (a compound's households may share
    one address). The edge counts the hit in a unit of work of its own."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no raw IPs stored
    limit = current_app.config["RESIDENT_REPORTS_PER_HOUR"] * factor
    ratelimit.hit(uow, f"public-{kind}:{digest}", limit, ratelimit.HOUR)


# ---------------------------------------------------------------------------------- propose


@dataclass
class ProposeInput:
    community_id: int
    title: str
    description: str
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    photos: list[str] = field(default_factory=list)
    proposer_name: str | None = None
    case_ids: list[str] = field(default_factory=list)


def propose(
    uow: UnitOfWork,
    principal: Principal | None,
    data: ProposeInput,
    *,
    photos_held: bool = False,
) -> Topic:
    """Raise a topic (提议): a resident from the public page, a collector in their grids'
    communities, a dispatcher or admin in their subdistrict — or from cases (source `case`).

    `photos_held`: the photos were uploaded in this same request (the public proposal page,
    `propose_with_photo`), so an anonymous proposer may name them."""
    actor = _actor(principal)
    if not dl.may_propose(actor):
        raise Forbidden("Your role may not propose topics", "您的角色不能提出议题")
    community = uow.session.get(Community, data.community_id)
    if community is None:
        raise NotFound("community", "社区", field="community_id")
    subdistrict_id = community.subdistrict_id
    if principal is not None:
        if not principal.may_see_subdistrict(subdistrict_id):
            raise NotFound("community", "社区", field="community_id")
        if principal.role is Role.COLLECTOR:
            mine = uow.session.scalars(
                select(Grid.community_id).where(Grid.id.in_(principal.grid_ids))
            ).all()
            if community.id not in mine:
                raise Forbidden("Not a community of your grids", "该社区不在您负责的网格范围内")
    if principal is None and ((data.photos and not photos_held) or data.case_ids):
        raise _invalid(
            "validation_error",
            "case_ids" if data.case_ids else "photos",
            "residents propose without photos or cases",
            "居民提议不能附照片或关联事项",
        )
    if data.photos:
        attachments.require_attachments(data.photos)
    linked = [_linked_case(principal, cid, community.id) for cid in data.case_ids]
    topic = Topic(
        public_token=secrets.token_urlsafe(24),
        subdistrict_id=subdistrict_id,
        community_id=community.id,
        title=data.title.strip(),
        description=data.description.strip(),
        address=(data.address or "").strip() or None,
        lon=data.lon,
        lat=data.lat,
        photos=list(data.photos),
        source="case" if linked else (actor if actor != dl.RESIDENT else "resident"),
        raised_by_id=principal.user_id if principal else None,
        proposer_name=(data.proposer_name or "").strip() or None,
        status=dl.TopicStatus.PROPOSED.value,
        stage_entered_at=uow.now,
        version=1,
    )
    uow.session.add(topic)
    uow.session.flush()
    for case in linked:
        uow.session.add(TopicCase(topic_id=topic.id, case_id=case.id, role="origin"))
    _record(
        uow,
        topic,
        "propose",
        None,
        principal,
        {"cases": [c.number for c in linked], "photos": list(data.photos)},
    )
    return topic


def propose_with_photo(uow: UnitOfWork, data: ProposeInput, photo: bytes | None) -> Topic:
    """A resident's proposal from the public page, with the photo sent in the same request
    (checked and stored first: a bad file refuses the proposal, 413/415). The resident
    attaches only what they hold, as on the report page."""
    data.photos = []
    if photo:
        stored, _ = attachments.store_upload(uow, photo, declared_sha256=None, uploader_id=None)
        data.photos = [stored.sha256]
    return propose(uow, None, data, photos_held=True)


# ------------------------------------------------------------------------------ suggestions

SUGGEST_DAYS = 90  # how far back cases count for "several of one kind in one place"
SUGGEST_MIN_CASES = 3


@dataclass(frozen=True)
class Suggestion:
    """Cases that may need a topic (这些事项可能需要议事): why, where, and which."""

    reason: str  # reopened | escalated | recurring
    community_id: int
    community_name: str
    category_name: str
    cases: list[Case]


def suggestions(uow: UnitOfWork, principal: Principal, limit: int = 20) -> list[Suggestion]:
    """For dispatchers: reopened or escalated cases, and several cases of one kind in one
    community within SUGGEST_DAYS — none of them linked to a topic yet."""
    from server.models import Category

    if principal.role not in STAFF_ROLES:
        raise Forbidden("Only dispatchers and admins", "只有调度员和管理员可查看")
    linked = select(TopicCase.case_id)
    scope = [Case.id.not_in(linked)]
    if principal.subdistrict_id is not None:
        scope.append(Case.subdistrict_id == principal.subdistrict_id)
    names = dict(uow.session.execute(select(Community.id, Community.name)).all())
    kinds = dict(uow.session.execute(select(Category.id, Category.name_zh)).all())
    out: list[Suggestion] = []
    single = uow.session.scalars(
        select(Case)
        .where(*scope, (Case.status == "reopened") | Case.escalated_at.is_not(None))
        .order_by(Case.reported_at.desc())
        .limit(limit)
    )
    for case in single:
        out.append(
            Suggestion(
                "reopened" if case.status == "reopened" else "escalated",
                case.community_id,
                names.get(case.community_id, ""),
                kinds.get(case.category_id, ""),
                [case],
            )
        )
    since = uow.now - timedelta(days=SUGGEST_DAYS)
    groups = uow.session.execute(
        select(Case.community_id, Case.category_id, func.count())
        .where(*scope, Case.reported_at >= since, Case.status.not_in(["rejected", "merged"]))
        .group_by(Case.community_id, Case.category_id)
        .having(func.count() >= SUGGEST_MIN_CASES)
        .order_by(func.count().desc())
        .limit(limit)
    ).all()
    for community_id, category_id, _count in groups:
        rows = list(
            uow.session.scalars(
                select(Case)
                .where(
                    *scope,
                    Case.community_id == community_id,
                    Case.category_id == category_id,
                    Case.reported_at >= since,
                    Case.status.not_in(["rejected", "merged"]),
                )
                .order_by(Case.reported_at.desc())
                .limit(50)
            )
        )
        out.append(
            Suggestion(
                "recurring",
                community_id,
                names.get(community_id, ""),
                kinds.get(category_id, ""),
                rows,
            )
        )
    return out[:limit]


# ------------------------------------------------------------------------------ attachments


def attach_to_topic(uow: UnitOfWork, principal: Principal, topic_id: int, data: bytes) -> str:
    """Staff add a photo or PDF document to a topic (one `attach` event); its SHA-256."""
    if principal.role not in STAFF_ROLES:
        raise Forbidden("Only dispatchers and admins attach files", "只有调度员和管理员可上传附件")
    topic = visible_topic(uow, principal, topic_id)
    stored, _ = attachments.store_file(uow, data, uploader_id=principal.user_id)
    if stored.sha256 not in topic.photos:
        topic.photos = [*topic.photos, stored.sha256]
        _record(
            uow,
            topic,
            "attach",
            topic.status,
            principal,
            {"file": stored.sha256, "mime": stored.mime},
        )
    return stored.sha256


def attach_to_meeting(uow: UnitOfWork, principal: Principal, meeting_id: int, data: bytes) -> str:
    """Staff add a file to a meeting's minutes (纪要); each topic on its agenda records an
    `attach` event naming the meeting. Its SHA-256."""
    if principal.role not in STAFF_ROLES:
        raise Forbidden("Only dispatchers and admins attach files", "只有调度员和管理员可上传附件")
    meeting = uow.session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting", "会议")
    _staff_community(uow, principal, meeting.community_id)
    stored, _ = attachments.store_file(uow, data, uploader_id=principal.user_id)
    if stored.sha256 not in meeting.attachments:
        meeting.attachments = [*meeting.attachments, stored.sha256]
        for topic in uow.session.scalars(select(Topic).where(Topic.id.in_(meeting.agenda))):
            _record(
                uow,
                topic,
                "attach",
                topic.status,
                principal,
                {"file": stored.sha256, "mime": stored.mime, "meeting_id": meeting.id},
            )
    return stored.sha256


def meetings_of_topic(uow: UnitOfWork, topic: Topic) -> list[Meeting]:
    """The community's meetings with this topic on their agenda, newest first."""
    rows = uow.session.scalars(
        select(Meeting)
        .where(Meeting.community_id == topic.community_id)
        .order_by(Meeting.held_at.desc())
    )
    return [m for m in rows if topic.id in (m.agenda or [])]


def topic_file(
    uow: UnitOfWork, principal: Principal | None, topic: Topic, sha256: str
) -> attachments.StoredFile:
    """A file of the topic for someone who may see the topic: staff get its photos and
    documents and its meetings' minutes files; the public (principal None) only its photos."""
    held = set(topic.photos or [])
    if principal is not None:
        for meeting in meetings_of_topic(uow, topic):
            held.update(meeting.attachments or [])
    row = attachments.find(sha256)
    if sha256 not in held or row is None:
        raise NotFound("file", "附件")
    if principal is None and not row.mime.startswith("image/"):
        raise NotFound("file", "附件")
    return attachments.public_file(sha256)


def file_kinds(uow: UnitOfWork, shas: Sequence[str]) -> list[dict[str, Any]]:
    """sha256 and MIME type of stored files, in the given order (unknown ones left out)."""
    out = []
    for sha in shas:
        row = attachments.find(sha)
        if row is not None:
            out.append(
                {
                    "sha256": sha,
                    "mime": row.mime,
                    "image": row.mime.startswith("image/"),
                    "removed": row.removed_at is not None,
                }
            )
    return out


def _linked_case(principal: Principal | None, case_id: str, community_id: int) -> Case:
    if principal is None or principal.role not in STAFF_ROLES:
        raise Forbidden("Only dispatchers raise topics from cases", "只有调度员可由事项发起议题")
    case = cases.visible_case(principal, case_id)
    if case.community_id != community_id:
        raise _invalid(
            "case_elsewhere",
            "case_ids",
            f"case {case.number} is in another community",
            f"事项 {case.number} 不在该社区",
        )
    return case


# ---------------------------------------------------------------------------------- act


@dataclass
class ActionInput:
    version: int
    reason: str | None = None
    member_id: int | None = None
    opinion: str | None = None
    closes_at: datetime | None = None
    votes_for: int | None = None
    votes_against: int | None = None
    votes_abstain: int | None = None
    minutes: str | None = None
    meeting_id: int | None = None
    # dispatch_case: a new case for the implementation, or an existing one of the community
    case_id: str | None = None
    category: str | None = None
    description: str | None = None
    unit_id: int | None = None
    deadline: datetime | None = None


def act(
    uow: UnitOfWork, principal: Principal | None, topic_id: int, action: str, data: ActionInput
) -> Topic:
    """Fire one staff action of the 五议 method (principal None: the system's sweep)."""
    topic = visible_topic(uow, principal, topic_id)
    if data.version != topic.version:
        raise Conflict(
            "stale_version",
            f"the topic changed meanwhile (version {topic.version}, you sent {data.version})",
            f"议题已被他人修改（当前版本 {topic.version}），请刷新后重试",
            field="version",
        )
    actor = dl.SYSTEM if principal is None else principal.role.value
    try:
        if action not in {a.value for a in dl.STAFF_ACTIONS}:  # residents' own are elsewhere
            raise dl.TransitionRefused(
                "unknown_action", f"unknown action {action!r}", f"未知操作 {action}"
            )
        edge = dl.decide(topic.status, action, actor)
        if edge.action is dl.TopicAction.DISPATCH_CASE:
            needs: tuple[str, ...] = ("unit_id",)
        else:
            needs = edge.needs
        for name in needs:
            value = getattr(data, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise dl.TransitionRefused(
                    "validation_error",
                    f"{name}: required for {action}",
                    f"字段 {name}：执行该操作时必填",
                    field=name,
                )
        before = topic.status
        payload = _HANDLERS[edge.action](uow, principal, topic, data)
    except dl.TransitionRefused as exc:
        raise _refused(exc) from exc
    target = payload.pop("_to", None) or (edge.to.value if edge.to else None)
    if target is not None and target != topic.status:
        topic.status = target
        topic.stage_entered_at = uow.now
        topic.reminded_at = None
    topic.updated_at = uow.now
    try:
        uow.session.flush()
    except StaleDataError as exc:
        raise stale_version() from exc
    _record(uow, topic, edge.action.value, before, principal, payload)
    return topic


def _accept(uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput) -> dict[str, Any]:
    return {"note": d.reason}


def _decline(uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput) -> dict[str, Any]:
    t.closed_at = uow.now
    return {"reason": d.reason}


def _review_opinion(
    uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput
) -> dict[str, Any]:
    member = uow.session.get(CouncilMember, d.member_id)
    if member is None or member.community_id != t.community_id or not member.active:
        raise dl.TransitionRefused(
            "unknown_member", "no such council member here", "该社区无此议事会成员", "member_id"
        )
    return {"member_id": member.id, "member": member.name, "opinion": d.opinion}


def _open_consultation(
    uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput
) -> dict[str, Any]:
    assert d.closes_at is not None
    dl.check_period(uow.now, d.closes_at)
    t.closes_at = d.closes_at
    return {"closes_at": d.closes_at.isoformat()}


def _close_consultation(
    uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput
) -> dict[str, Any]:
    dl.check_consultation_over(uow.now, t.closes_at, _actor_of(p))
    counts = view_counts(uow, t.id)
    t.closes_at = None
    return {"views": counts}


def _actor_of(p: Principal | None) -> str:
    return dl.SYSTEM if p is None else p.role.value


def _decide(uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput) -> dict[str, Any]:
    assert d.votes_for is not None and d.votes_against is not None
    assert d.votes_abstain is not None
    outcome = dl.decision_outcome(d.votes_for, d.votes_against, d.votes_abstain)
    if d.meeting_id is not None:
        meeting = uow.session.get(Meeting, d.meeting_id)
        if meeting is None or meeting.community_id != t.community_id:
            raise dl.TransitionRefused(
                "unknown_meeting", "no such meeting here", "该社区无此会议", "meeting_id"
            )
    t.outcome = outcome
    t.votes_for, t.votes_against, t.votes_abstain = d.votes_for, d.votes_against, d.votes_abstain
    t.decision = (d.minutes or "").strip()
    t.decided_at = uow.now
    target = dl.decision_target(outcome)
    if target is dl.TopicStatus.CLOSED:
        t.closed_at = uow.now
    return {
        "_to": target.value,
        "outcome": outcome,
        "votes": [d.votes_for, d.votes_against, d.votes_abstain],
        "meeting_id": d.meeting_id,
    }


def _dispatch_case(
    uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput
) -> dict[str, Any]:
    """Carry out the decision through the case loop: a new case (source deliberation) is
    reported, accepted and dispatched, or an existing accepted case of the community is."""
    assert p is not None and d.unit_id is not None
    if d.case_id:
        case = cases.visible_case(p, d.case_id)
        if case.community_id != t.community_id:
            raise dl.TransitionRefused(
                "case_elsewhere", "the case is in another community", "事项不在该社区", "case_id"
            )
    else:
        if not d.category or not d.description or t.lon is None or t.lat is None:
            raise dl.TransitionRefused(
                "validation_error",
                "category and description required, and the topic needs a place",
                "新建实施事项需填写分类与描述，且议题需有位置",
                "category",
            )
        case = cases.report_case(
            uow,
            p,
            cases.ReportInput(
                category=d.category,
                description=d.description,
                lon=t.lon,
                lat=t.lat,
                source="deliberation",
                address=t.address,
            ),
        ).case
    if case.status == "reported":
        cases.act(uow, p, case.id, "accept", cases.ActionInput(version=case.version))
    cases.act(
        uow,
        p,
        case.id,
        "dispatch",
        cases.ActionInput(version=case.version, unit_id=d.unit_id, deadline=d.deadline),
    )
    exists = uow.session.get(TopicCase, (t.id, case.id))
    if exists is None:
        uow.session.add(TopicCase(topic_id=t.id, case_id=case.id, role="implementation"))
    return {"case_id": case.id, "case_number": case.number, "unit_id": d.unit_id}


def _complete(uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput) -> dict[str, Any]:
    assert d.closes_at is not None
    statuses = uow.session.scalars(
        select(Case.status)
        .join(TopicCase, TopicCase.case_id == Case.id)
        .where(TopicCase.topic_id == t.id, TopicCase.role == "implementation")
    ).all()
    dl.check_implementation_done(statuses)
    dl.check_period(uow.now, d.closes_at)
    t.closes_at = d.closes_at
    return {"closes_at": d.closes_at.isoformat(), "cases": len(statuses)}


def _close(uow: UnitOfWork, p: Principal | None, t: Topic, d: ActionInput) -> dict[str, Any]:
    dl.check_consultation_over(uow.now, t.closes_at, _actor_of(p))
    t.closes_at = None
    t.closed_at = uow.now
    return {"evaluation": rating_counts(uow, t.id)}


_HANDLERS: dict[dl.TopicAction, Any] = {
    dl.TopicAction.ACCEPT: _accept,
    dl.TopicAction.DECLINE: _decline,
    dl.TopicAction.REVIEW_OPINION: _review_opinion,
    dl.TopicAction.OPEN_CONSULTATION: _open_consultation,
    dl.TopicAction.CLOSE_CONSULTATION: _close_consultation,
    dl.TopicAction.DECIDE: _decide,
    dl.TopicAction.DISPATCH_CASE: _dispatch_case,
    dl.TopicAction.COMPLETE: _complete,
    dl.TopicAction.CLOSE: _close,
}


def close_due_periods(uow: UnitOfWork) -> int:
    """The beat's sweep: consultations and evaluations whose period has ended are closed by
    the system. Returns how many topics moved."""
    due = uow.session.scalars(
        select(Topic).where(
            Topic.status.in_(["consulting", "evaluating"]), Topic.closes_at <= uow.now
        )
    ).all()
    for topic in due:
        action = "close_consultation" if topic.status == "consulting" else "close"
        act(uow, None, topic.id, action, ActionInput(version=topic.version))
    return len(due)


def remind_due_stages(uow: UnitOfWork) -> int:
    """The beat's reminder: each topic whose stage is past due tells the subdistrict's
    dispatchers once (in their inbox) per stage. Returns how many topics were reminded."""
    open_ = uow.session.scalars(
        select(Topic).where(
            Topic.status.not_in([s.value for s in dl.FINAL]), Topic.reminded_at.is_(None)
        )
    ).all()
    reminded = 0
    for topic in open_:
        due = dl.stage_due(topic.status, topic.stage_entered_at, topic.closes_at)
        if due is None or due > uow.now:
            continue
        stage_zh = dl.STATUS_ZH[dl.TopicStatus(topic.status)]
        for user_id in notify.dispatcher_ids(topic.subdistrict_id):
            uow.session.add(
                Notification(
                    user_id=user_id,
                    event="topic.stage_due",
                    title=f"议题「{topic.title}」{stage_zh}已到期，请推进",
                    title_en=f"Topic {topic.id} is due in stage {topic.status}",
                    created_at=uow.now,
                )
            )
        topic.reminded_at = uow.now
        reminded += 1
    uow.session.flush()
    return reminded


# ---------------------------------------------------------------------------------- read


def board_topics(uow: UnitOfWork, subdistrict_id: int | None, limit: int = 20) -> dict[str, Any]:
    """For the public board: topics open to residents (in consultation or evaluation) and the
    latest decisions, with their public links' tokens; no personal data."""

    def rows(statuses: list[str], order: Any) -> list[dict[str, Any]]:
        query = select(Topic).where(Topic.status.in_(statuses)).order_by(order).limit(limit)
        if subdistrict_id is not None:
            query = query.where(Topic.subdistrict_id == subdistrict_id)
        return [
            {
                "token": t.public_token,
                "title": t.title,
                "status": t.status,
                "status_zh": dl.STATUS_ZH[dl.TopicStatus(t.status)],
                "closes_at": t.closes_at,
                "outcome_zh": dl.OUTCOME_ZH.get(t.outcome or ""),
                "decided_at": t.decided_at,
                "views": view_counts(uow, t.id),
            }
            for t in uow.session.scalars(query)
        ]

    return {
        "open": rows(["consulting", "evaluating"], Topic.closes_at),
        "decided": rows(["implementing", "evaluating", "closed"], Topic.decided_at.desc()),
    }


def visible_topic(uow: UnitOfWork, principal: Principal | None, topic_id: int) -> Topic:
    topic = uow.session.get(Topic, topic_id)
    if topic is None or (
        principal is not None and not principal.may_see_subdistrict(topic.subdistrict_id)
    ):
        raise NotFound("topic", "议题")
    return topic


def list_topics(
    uow: UnitOfWork,
    principal: Principal,
    *,
    community: int | None = None,
    status: Sequence[str] | None = None,
    limit: int = 100,
) -> list[Topic]:
    query = select(Topic).order_by(Topic.id.desc()).limit(limit)
    if principal.subdistrict_id is not None:
        query = query.where(Topic.subdistrict_id == principal.subdistrict_id)
    if community is not None:
        query = query.where(Topic.community_id == community)
    if status:
        query = query.where(Topic.status.in_(list(status)))
    return list(uow.session.scalars(query))


def events_of(uow: UnitOfWork, topic_id: int) -> list[TopicEvent]:
    return list(
        uow.session.scalars(
            select(TopicEvent).where(TopicEvent.topic_id == topic_id).order_by(TopicEvent.seq)
        )
    )


def linked_cases(uow: UnitOfWork, topic_id: int) -> list[tuple[TopicCase, Case]]:
    rows = uow.session.execute(
        select(TopicCase, Case)
        .join(Case, Case.id == TopicCase.case_id)
        .where(TopicCase.topic_id == topic_id)
        .order_by(TopicCase.created_at)
    ).all()
    return [(tc, c) for tc, c in rows]


def view_counts(uow: UnitOfWork, topic_id: int) -> dict[str, int]:
    rows = uow.session.execute(
        select(TopicView.choice, func.count())
        .where(TopicView.topic_id == topic_id)
        .group_by(TopicView.choice)
    ).all()
    return {**dict.fromkeys(dl.VIEWS, 0), **{c: int(n) for c, n in rows}}


def rating_counts(uow: UnitOfWork, topic_id: int) -> dict[str, int]:
    rows = uow.session.execute(
        select(TopicRating.verdict, func.count())
        .where(TopicRating.topic_id == topic_id)
        .group_by(TopicRating.verdict)
    ).all()
    return {**dict.fromkeys(dl.VERDICTS, 0), **{v: int(n) for v, n in rows}}


def comments_of(uow: UnitOfWork, topic_id: int, *, include_hidden: bool) -> list[TopicComment]:
    query = select(TopicComment).where(TopicComment.topic_id == topic_id)
    if not include_hidden:
        query = query.where(TopicComment.hidden_at.is_(None))
    return list(uow.session.scalars(query.order_by(TopicComment.id)))


def present(uow: UnitOfWork, topic: Topic, principal: Principal | None) -> dict[str, Any]:
    """A topic for staff (principal given) or the public (names masked, no hidden text)."""
    staff = principal is not None
    actor = principal.role.value if principal else dl.RESIDENT
    community = uow.session.get(Community, topic.community_id)
    assert community is not None
    counts = rating_counts(uow, topic.id)
    body: dict[str, Any] = {
        "id": topic.id,
        "title": topic.title,
        "description": topic.description,
        "community": {"id": community.id, "name": community.name},
        "address": topic.address,
        "lon": topic.lon,
        "lat": topic.lat,
        "photos": topic.photos,
        "source": topic.source,
        "proposer_name": topic.proposer_name if staff else mask_name(topic.proposer_name),
        "status": topic.status,
        "status_zh": dl.STATUS_ZH[dl.TopicStatus(topic.status)],
        "closes_at": topic.closes_at,
        "stage_due_at": dl.stage_due(topic.status, topic.stage_entered_at, topic.closes_at),
        "outcome": topic.outcome,
        "outcome_zh": dl.OUTCOME_ZH.get(topic.outcome or ""),
        "votes": None
        if topic.outcome is None
        else {
            "for": topic.votes_for,
            "against": topic.votes_against,
            "abstain": topic.votes_abstain,
        },
        "decision": topic.decision,
        "decided_at": topic.decided_at,
        "views": view_counts(uow, topic.id),
        "evaluation": {"counts": counts, "score": dl.evaluation_score(counts)},
        "cases": [
            {"number": c.number, "status": c.status, "role": tc.role}
            for tc, c in linked_cases(uow, topic.id)
        ],
        "comments": [
            {
                "id": c.id,
                "author": c.author_name if staff else mask_name(c.author_name),
                "body": c.body if staff or c.hidden_at is None else None,
                "hidden": c.hidden_at is not None,
                "hidden_reason": c.hidden_reason,
                "at": c.created_at,
            }
            for c in comments_of(uow, topic.id, include_hidden=staff)
        ],
        "created_at": topic.created_at,
        "allowed_actions": [a.value for a in dl.allowed_actions(topic.status, actor)],
    }
    if staff:
        body["version"] = topic.version
        body["public_token"] = topic.public_token
        body["events"] = [
            {
                "seq": e.seq,
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "actor_role": e.actor_role,
                "payload": e.payload,
                "at": e.created_at,
            }
            for e in events_of(uow, topic.id)
        ]
    return body


# ---------------------------------------------------------------------------------- codes


def generate_codes(uow: UnitOfWork, principal: Principal, topic_id: int, count: int) -> list[str]:
    """A batch of one-time codes for a topic's households; the clear codes are returned once
    (to print as QR sheets) and only their hashes are kept."""
    topic = visible_topic(uow, principal, topic_id)
    if topic.status in {s.value for s in dl.FINAL}:
        raise Conflict("topic_closed", "the topic is closed", "议题已结束")
    if not 1 <= count <= MAX_CODES_PER_BATCH:
        raise _invalid(
            "validation_error",
            "count",
            f"count: 1 to {MAX_CODES_PER_BATCH}",
            f"字段 count：1 至 {MAX_CODES_PER_BATCH}",
        )
    batch = (
        uow.session.scalar(
            select(func.max(VotingCode.batch)).where(VotingCode.topic_id == topic.id)
        )
        or 0
    ) + 1
    codes: list[str] = []
    for _ in range(count):
        code = "".join(secrets.choice(dl.CODE_ALPHABET) for _ in range(dl.CODE_LENGTH))
        codes.append(code)
        uow.session.add(
            VotingCode(
                topic_id=topic.id,
                code_hash=dl.hash_code(topic.id, code),
                batch=batch,
                created_at=uow.now,
            )
        )
    uow.session.flush()
    _record(
        uow, topic, "codes_generated", topic.status, principal, {"batch": batch, "count": count}
    )
    return codes


def _code(uow: UnitOfWork, topic: Topic, code: str) -> VotingCode:
    refused = DomainError(
        "invalid_code", "This code is not valid for this topic", "议事码无效", status=403
    )
    if not dl.well_formed_code(code):
        raise refused
    found = uow.session.scalar(
        select(VotingCode).where(VotingCode.code_hash == dl.hash_code(topic.id, code))
    )
    if found is None or found.topic_id != topic.id:
        raise refused
    return found


def public_topic(uow: UnitOfWork, token: str) -> Topic:
    topic = uow.session.scalar(select(Topic).where(Topic.public_token == token))
    if topic is None:
        raise NotFound("topic", "议题")
    return topic


def _resident_edge(topic: Topic, action: dl.TopicAction) -> None:
    try:
        dl.decide(topic.status, action.value, dl.RESIDENT)
    except dl.TransitionRefused as exc:
        raise _refused(exc) from exc


def give_view(uow: UnitOfWork, token: str, code: str, choice: str) -> Topic:
    """A household's view in 群议 (支持/反对/其他意见): once per code; a reused or forged
    code is refused."""
    topic = public_topic(uow, token)
    _resident_edge(topic, dl.TopicAction.VIEW)
    voting_code = _code(uow, topic, code)
    _once(
        uow,
        TopicView(topic_id=topic.id, code_id=voting_code.id, choice=choice, created_at=uow.now),
        TopicView,
        voting_code,
    )
    return topic


def evaluate(uow: UnitOfWork, token: str, code: str, verdict: str, comment: str | None) -> Topic:
    """A household's evaluation (评议) of the implementation: once per code."""
    topic = public_topic(uow, token)
    _resident_edge(topic, dl.TopicAction.EVALUATE)
    voting_code = _code(uow, topic, code)
    rating = TopicRating(
        topic_id=topic.id,
        code_id=voting_code.id,
        verdict=verdict,
        comment=(comment or "").strip() or None,
        created_at=uow.now,
    )
    _once(uow, rating, TopicRating, voting_code)
    return topic


def _once(uow: UnitOfWork, row: Any, model: Any, voting_code: VotingCode) -> None:
    used = Conflict("code_used", "this code has already been used", "该议事码已使用过")
    if uow.session.scalar(select(model.id).where(model.code_id == voting_code.id)) is not None:
        raise used
    try:
        with uow.savepoint():  # a concurrent use of the same code loses on the unique key
            uow.session.add(row)
            uow.session.flush()
    except IntegrityError as exc:
        raise used from exc


def comment(
    uow: UnitOfWork, token: str, code: str, body: str, author_name: str | None
) -> TopicComment:
    """A resident's comment, signed by a valid code of the topic (not used up by it)."""
    topic = public_topic(uow, token)
    _resident_edge(topic, dl.TopicAction.COMMENT)
    voting_code = _code(uow, topic, code)
    row = TopicComment(
        topic_id=topic.id,
        code_id=voting_code.id,
        author_name=(author_name or "").strip() or None,
        body=body.strip(),
        created_at=uow.now,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def hide_comment(
    uow: UnitOfWork, principal: Principal, topic_id: int, comment_id: int, reason: str
) -> TopicComment:
    """Moderation: the comment is hidden from the public with a reason, never deleted."""
    topic = visible_topic(uow, principal, topic_id)
    row = uow.session.get(TopicComment, comment_id)
    if row is None or row.topic_id != topic.id:
        raise NotFound("comment", "评论")
    if row.hidden_at is None:
        row.hidden_at = uow.now
        row.hidden_reason = reason.strip()
        row.hidden_by_id = principal.user_id
        _record(
            uow,
            topic,
            "hide_comment",
            topic.status,
            principal,
            {"comment_id": row.id, "reason": row.hidden_reason},
        )
    return row


# ---------------------------------------------------------------------------------- council


def add_member(
    uow: UnitOfWork,
    principal: Principal,
    community_id: int,
    name: str,
    kind: str,
    organisation: str | None,
) -> CouncilMember:
    community = _staff_community(uow, principal, community_id)
    member = CouncilMember(
        community_id=community.id,
        name=name.strip(),
        kind=kind,
        organisation=(organisation or "").strip() or None,
    )
    uow.session.add(member)
    uow.session.flush()
    return member


def members_of(uow: UnitOfWork, principal: Principal, community_id: int) -> list[CouncilMember]:
    community = _staff_community(uow, principal, community_id)
    return list(
        uow.session.scalars(
            select(CouncilMember)
            .where(CouncilMember.community_id == community.id)
            .order_by(CouncilMember.id)
        )
    )


@dataclass
class MeetingInput:
    community_id: int
    held_at: datetime
    place: str | None = None
    agenda: list[int] = field(default_factory=list)
    attendance: list[int] = field(default_factory=list)
    minutes: str | None = None
    attachments: list[str] = field(default_factory=list)


def record_meeting(uow: UnitOfWork, principal: Principal, data: MeetingInput) -> Meeting:
    """A council meeting: its agenda (topics of the community), attendance and minutes."""
    community = _staff_community(uow, principal, data.community_id)
    topics = set(
        uow.session.scalars(
            select(Topic.id).where(Topic.id.in_(data.agenda), Topic.community_id == community.id)
        )
    )
    if topics != set(data.agenda):
        raise _invalid(
            "unknown_topic",
            "agenda",
            "agenda: topics of this community only",
            "字段 agenda：只能列入本社区的议题",
        )
    members = set(
        uow.session.scalars(
            select(CouncilMember.id).where(
                CouncilMember.id.in_(data.attendance), CouncilMember.community_id == community.id
            )
        )
    )
    if members != set(data.attendance):
        raise _invalid(
            "unknown_member",
            "attendance",
            "attendance: members of this council only",
            "字段 attendance：只能是本社区议事会成员",
        )
    if data.attachments:
        attachments.require_attachments(data.attachments)
    meeting = Meeting(
        community_id=community.id,
        held_at=data.held_at,
        place=data.place,
        agenda=list(data.agenda),
        attendance=list(data.attendance),
        minutes=data.minutes,
        attachments=list(data.attachments),
    )
    uow.session.add(meeting)
    uow.session.flush()
    return meeting


def _staff_community(uow: UnitOfWork, principal: Principal, community_id: int) -> Community:
    community = uow.session.get(Community, community_id)
    if community is None or not principal.may_see_subdistrict(community.subdistrict_id):
        raise NotFound("community", "社区", field="community_id")
    return community


# ---------------------------------------------------------------------------------- events


def _record(
    uow: UnitOfWork,
    topic: Topic,
    action: str,
    before: str | None,
    principal: Principal | None,
    payload: dict[str, Any],
) -> TopicEvent:
    seq = (
        uow.session.scalar(select(func.max(TopicEvent.seq)).where(TopicEvent.topic_id == topic.id))
        or 0
    ) + 1
    event = TopicEvent(
        topic_id=topic.id,
        seq=seq,
        action=action,
        from_status=before,
        to_status=topic.status,
        actor_id=principal.user_id if principal else None,
        actor_role=principal.role.value
        if principal
        else (dl.RESIDENT if action == "propose" else dl.SYSTEM),
        payload={k: v for k, v in payload.items() if v not in (None, [], "")},
        created_at=uow.now,
    )
    uow.session.add(event)
    uow.session.flush()
    return event
