"""阳光五务 use cases: publish a notice for a period, withdraw it, residents' questions and
their public answers. None commits; the edges open the unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.domain.masking import mask_name
from server.domain.notices import CATEGORY_ZH, check_publication, is_published
from server.errors import Conflict, Invalid, NotFound
from server.models import Community, Notice, NoticeQuestion
from server.services.files import attachments
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork


@dataclass
class NoticeInput:
    community_id: int
    category: str
    title: str
    body: str
    published_from: datetime
    published_until: datetime
    attachments: list[str] = field(default_factory=list)


def publish(uow: UnitOfWork, principal: Principal, data: NoticeInput) -> Notice:
    """A notice of a community in one of the five categories, public for its period."""
    community = uow.session.get(Community, data.community_id)
    if community is None or not principal.may_see_subdistrict(community.subdistrict_id):
        raise NotFound("community", "社区", field="community_id")
    try:
        check_publication(data.published_from, data.published_until)
    except ValueError as exc:
        raise Invalid(
            "invalid_period",
            str(exc),
            "公示截止时间应晚于开始时间，且公示期不超过一年",
            field="published_until",
        ) from exc
    if data.attachments:
        attachments.require_attachments(data.attachments)
    notice = Notice(
        subdistrict_id=community.subdistrict_id,
        community_id=community.id,
        category=data.category,
        title=data.title.strip(),
        body=data.body.strip(),
        attachments=list(data.attachments),
        published_from=data.published_from,
        published_until=data.published_until,
        created_by_id=principal.user_id,
    )
    uow.session.add(notice)
    uow.session.flush()
    return notice


def withdraw(uow: UnitOfWork, principal: Principal, notice_id: int, reason: str) -> Notice:
    notice = staff_notice(uow, principal, notice_id)
    if notice.withdrawn_at is None:
        notice.withdrawn_at = uow.now
        notice.withdrawn_reason = reason.strip()
    return notice


def staff_notice(uow: UnitOfWork, principal: Principal, notice_id: int) -> Notice:
    notice = uow.session.get(Notice, notice_id)
    if notice is None or not principal.may_see_subdistrict(notice.subdistrict_id):
        raise NotFound("notice", "公告")
    return notice


def list_for_staff(
    uow: UnitOfWork, principal: Principal, community: int | None = None
) -> list[Notice]:
    query = select(Notice).order_by(Notice.published_from.desc(), Notice.id.desc()).limit(200)
    if principal.subdistrict_id is not None:
        query = query.where(Notice.subdistrict_id == principal.subdistrict_id)
    if community is not None:
        query = query.where(Notice.community_id == community)
    return list(uow.session.scalars(query))


def published(
    uow: UnitOfWork, *, community: int | None = None, category: str | None = None
) -> list[Notice]:
    """Notices in their publication period right now, newest first."""
    query = (
        select(Notice)
        .where(
            Notice.published_from <= uow.now,
            Notice.published_until > uow.now,
            Notice.withdrawn_at.is_(None),
        )
        .order_by(Notice.published_from.desc(), Notice.id.desc())
        .limit(200)
    )
    if community is not None:
        query = query.where(Notice.community_id == community)
    if category is not None:
        query = query.where(Notice.category == category)
    return list(uow.session.scalars(query))


def public_notice(uow: UnitOfWork, notice_id: int) -> Notice:
    notice = uow.session.get(Notice, notice_id)
    if notice is None or not is_published(
        uow.now, notice.published_from, notice.published_until, notice.withdrawn_at
    ):
        raise NotFound("notice", "公告")
    return notice


def ask(uow: UnitOfWork, notice_id: int, body: str, asker_name: str | None) -> NoticeQuestion:
    """A resident's question on a published notice; shown publicly once answered."""
    notice = public_notice(uow, notice_id)
    question = NoticeQuestion(
        notice_id=notice.id,
        body=body.strip(),
        asker_name=(asker_name or "").strip() or None,
        created_at=uow.now,
    )
    uow.session.add(question)
    uow.session.flush()
    return question


def _question(uow: UnitOfWork, principal: Principal, question_id: int) -> NoticeQuestion:
    question = uow.session.get(NoticeQuestion, question_id)
    if question is None:
        raise NotFound("question", "提问")
    staff_notice(uow, principal, question.notice_id)
    return question


def answer(uow: UnitOfWork, principal: Principal, question_id: int, text: str) -> NoticeQuestion:
    question = _question(uow, principal, question_id)
    if question.answered_at is not None:
        raise Conflict("already_answered", "the question is answered", "该提问已答复")
    question.answer = text.strip()
    question.answered_at = uow.now
    question.answered_by_id = principal.user_id
    return question


def hide_question(
    uow: UnitOfWork, principal: Principal, question_id: int, reason: str
) -> NoticeQuestion:
    """Moderation: hidden with a reason, never deleted."""
    question = _question(uow, principal, question_id)
    if question.hidden_at is None:
        question.hidden_at = uow.now
        question.hidden_reason = reason.strip()
    return question


def questions_of(uow: UnitOfWork, notice_id: int, *, staff: bool) -> list[NoticeQuestion]:
    query = select(NoticeQuestion).where(NoticeQuestion.notice_id == notice_id)
    if not staff:
        query = query.where(
            NoticeQuestion.answered_at.is_not(None), NoticeQuestion.hidden_at.is_(None)
        )
    return list(uow.session.scalars(query.order_by(NoticeQuestion.id)))


def present(uow: UnitOfWork, notice: Notice, *, staff: bool) -> dict[str, Any]:
    community = uow.session.get(Community, notice.community_id)
    assert community is not None
    body: dict[str, Any] = {
        "id": notice.id,
        "community": {"id": community.id, "name": community.name},
        "category": notice.category,
        "category_zh": CATEGORY_ZH[notice.category],
        "title": notice.title,
        "body": notice.body,
        "attachments": notice.attachments,
        "published_from": notice.published_from,
        "published_until": notice.published_until,
        "published": is_published(
            uow.now, notice.published_from, notice.published_until, notice.withdrawn_at
        ),
        "questions": [
            {
                "id": q.id,
                "body": q.body,
                "asker": q.asker_name if staff else mask_name(q.asker_name),
                "answer": q.answer,
                "answered_at": q.answered_at,
                "hidden_reason": q.hidden_reason if staff else None,
                "at": q.created_at,
            }
            for q in questions_of(uow, notice.id, staff=staff)
        ],
    }
    if staff:
        body["withdrawn_at"] = notice.withdrawn_at
        body["withdrawn_reason"] = notice.withdrawn_reason
    return body
