"""Deliberation in the console (dispatchers, admins): topics and their 五议 actions, voting
code batches to print, comment moderation; and 阳光五务 notices with residents' questions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for

from server.domain.deliberation import ACTION_ZH, EDGES, STATUS_ZH, TopicAction, TopicStatus
from server.domain.notices import CATEGORIES, CATEGORY_ZH
from server.domain.roles import Role
from server.errors import DomainError
from server.models.base import utcnow
from server.services.civic import deliberation, notices
from server.services.territory import org
from server.services.uow import unit_of_work
from server.web import forms, render_error
from server.web.console import bp
from server.web.i18n import t
from server.web.session import page, signed_in

STAFF = (Role.DISPATCHER, Role.ADMIN)
# why a case or a group of cases may need a topic: (default title, the reason shown)
SUGGESTED_TITLE = {
    "reopened": ("{community}：{category}问题居民不满意", "居民评价不满意，已重新处理"),
    "escalated": ("{community}：{category}问题超期未解决", "超期升级，单一部门难以解决"),
    "recurring": ("{community}：{category}问题反复出现（{n} 件）", "同一社区同类事项多次反映"),
}
MEMBER_KINDS = (
    ("committee", "委员会成员", "Committee member"),
    ("resident_rep", "居民代表", "Residents' representative"),
    ("unit_rep", "驻地单位代表", "Local organisation's representative"),
)


def _refused(exc: DomainError, back: str) -> Any:
    shown = forms.show_refused(exc)  # the form's page again, filled in (server/web/forms.py)
    if shown is not None:
        return shown
    body, status = render_error(exc.status, exc.message_zh, exc.message, exc.code, back_url=back)
    return body, status, exc.headers


@bp.get("/topics", endpoint="topics")
@page(*STAFF)
def topic_list() -> Any:
    principal = signed_in()
    status = forms.choice(request.args, "status", [s.value for s in TopicStatus])
    with unit_of_work() as uow:
        rows = deliberation.list_topics(uow, principal, status=[status] if status else None)
        shown = [deliberation.present(uow, r, principal) for r in rows]
        ideas = [
            {
                "reason": s.reason,
                "community_id": s.community_id,
                "community": s.community_name,
                "category": s.category_name,
                "cases": [{"id": c.id, "number": c.number, "status": c.status} for c in s.cases],
                "title": SUGGESTED_TITLE[s.reason][0].format(
                    community=s.community_name, category=s.category_name, n=len(s.cases)
                ),
            }
            for s in deliberation.suggestions(uow, principal)
        ]
    return render_template(
        "console/topics.html",
        topics=shown,
        suggestions=ideas,
        suggestion_reasons={k: v[1] for k, v in SUGGESTED_TITLE.items()},
        status=status,
        statuses=[(s.value, STATUS_ZH[s]) for s in TopicStatus],
        communities=[(c.id, c.name) for c in org.list_communities(principal)],
    )


@bp.post("/topics", endpoint="topic_propose")
@page(*STAFF)
def topic_propose() -> Any:
    principal = signed_in()
    form = request.form
    try:
        community = forms.integer(form, "community_id", required=True)
        title = forms.text(form, "title", required=True, max_length=120)
        description = forms.text(form, "description", required=True, max_length=4000)
        assert community is not None and title is not None and description is not None
        data = deliberation.ProposeInput(
            community_id=community,
            title=title,
            description=description,
            address=forms.text(form, "address", max_length=200),
            case_ids=[c[:64] for c in form.getlist("case_ids") if c][:100],
        )
        with unit_of_work() as uow:
            topic = deliberation.propose(uow, principal, data)
    except DomainError as exc:
        return _refused(exc, url_for("console.topics"))
    flash(t("议题已登记。", "Topic recorded."), "ok")
    return redirect(url_for("console.topic_page", topic_id=topic.id), 303)


@bp.get("/topics/<int(max=2147483647):topic_id>", endpoint="topic_page")
@page(*STAFF)
def topic_page(topic_id: int) -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        topic = deliberation.visible_topic(uow, principal, topic_id)
        shown = deliberation.present(uow, topic, principal)
        members = deliberation.members_of(uow, principal, topic.community_id)
        member_options = [(m.id, m.name) for m in members]
        kind_zh = {k: zh for k, zh, _ in MEMBER_KINDS}
        member_rows = [
            {"name": m.name, "kind": kind_zh.get(m.kind, m.kind), "organisation": m.organisation}
            for m in members
        ]
        files = deliberation.file_kinds(uow, topic.photos or [])
        meetings = [
            {
                "id": m.id,
                "held_at": m.held_at,
                "place": m.place,
                "minutes": m.minutes,
                "present": [name for mid, name in member_options if mid in (m.attendance or [])],
                "files": deliberation.file_kinds(uow, m.attachments or []),
            }
            for m in deliberation.meetings_of_topic(uow, topic)
        ]
    week = forms.local_time(utcnow() + timedelta(days=7), "%Y-%m-%dT%H:%M")
    actions = [
        {"name": a, "label": ACTION_ZH[TopicAction(a)], "needs": EDGES[TopicAction(a)].needs}
        for a in shown["allowed_actions"]
    ]
    return render_template(
        "console/topic.html",
        topic=shown,
        status_zh=STATUS_ZH[TopicStatus(shown["status"])],
        actions=actions,
        members=member_options,
        member_rows=member_rows,
        member_kinds=[(k, t(zh, en)) for k, zh, en in MEMBER_KINDS],
        files=files,
        meetings=meetings,
        meeting_options=[(m["id"], forms.local_time(m["held_at"])) for m in meetings],
        now_local=forms.local_time(utcnow(), "%Y-%m-%dT%H:%M"),
        units=[(u.id, u.name) for u in org.list_units(principal)],
        default_closes=week,
        public_url=url_for("web_topics.topic_page", token=shown["public_token"], _external=True),
    )


@bp.post("/topics/<int(max=2147483647):topic_id>/actions/<action>", endpoint="topic_action")
@page(*STAFF)
def topic_action(topic_id: int, action: str) -> Any:
    principal = signed_in()
    form = request.form
    back = url_for("console.topic_page", topic_id=topic_id)
    try:
        version = forms.integer(form, "version", required=True)
        assert version is not None
        data = deliberation.ActionInput(
            version=version,
            reason=forms.text(form, "reason", max_length=2000),
            member_id=forms.integer(form, "member_id"),
            opinion=forms.text(form, "opinion", max_length=2000),
            closes_at=forms.local_moment(form, "closes_at"),
            votes_for=forms.integer(form, "votes_for", minimum=0),
            votes_against=forms.integer(form, "votes_against", minimum=0),
            votes_abstain=forms.integer(form, "votes_abstain", minimum=0),
            minutes=forms.text(form, "minutes", max_length=20000),
            category=forms.text(form, "category", max_length=32),
            description=forms.text(form, "description", max_length=2000),
            unit_id=forms.integer(form, "unit_id"),
            deadline=forms.local_moment(form, "deadline"),
            meeting_id=forms.integer(form, "meeting_id"),
        )
        with unit_of_work() as uow:
            deliberation.act(uow, principal, topic_id, action[:32], data)
    except DomainError as exc:
        return _refused(exc, back)
    label = (
        ACTION_ZH.get(TopicAction(action)) if action in TopicAction._value2member_map_ else action
    )
    flash(t(f"已完成：{label}", f"Done: {action}"), "ok")
    return redirect(back, 303)


def _upload() -> bytes:
    """The uploaded file's bytes; 422 naming `file` when none was chosen."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None and upload.filename else b""
    if not data:
        raise DomainError(
            "validation_error",
            "file: choose a file",
            "请选择要上传的文件",
            field="file",
            status=422,
        )
    return data


@bp.post("/topics/<int(max=2147483647):topic_id>/files", endpoint="topic_attach")
@page(*STAFF)
def topic_attach(topic_id: int) -> Any:
    """A photo or PDF document added to the topic."""
    principal = signed_in()
    back = url_for("console.topic_page", topic_id=topic_id)
    try:
        data = _upload()
        with unit_of_work() as uow:
            deliberation.attach_to_topic(uow, principal, topic_id, data)
    except DomainError as exc:
        return _refused(exc, back)
    flash(t("附件已上传。", "File attached."), "ok")
    return redirect(back + "#h-files", 303)


@bp.get(
    "/topics/<int(max=2147483647):topic_id>/files/<string(length=64):sha256>",
    endpoint="topic_file",
)
@page(*STAFF)
def topic_file(topic_id: int, sha256: str) -> Any:
    """A file of the topic or of a meeting that had it on the agenda (EXIF-free copy)."""
    principal = signed_in()
    with unit_of_work() as uow:
        topic = deliberation.visible_topic(uow, principal, topic_id)
        stored = deliberation.topic_file(uow, principal, topic, sha256)
    response = send_file(stored.path, mimetype=stored.mime, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.post("/topics/<int(max=2147483647):topic_id>/meetings", endpoint="topic_meeting")
@page(*STAFF)
def topic_meeting(topic_id: int) -> Any:
    """A council meeting with this topic on its agenda: when, where, who came, the minutes
    (纪要) and optionally a file of them."""
    principal = signed_in()
    back = url_for("console.topic_page", topic_id=topic_id)
    form = request.form
    try:
        held_at = forms.local_moment(form, "held_at", required=True)
        assert held_at is not None
        attendance = [
            forms.integer({"attendance": v}, "attendance") for v in form.getlist("attendance")
        ]
        upload = request.files.get("file")
        data = upload.read() if upload is not None and upload.filename else b""
        with unit_of_work() as uow:
            topic = deliberation.visible_topic(uow, principal, topic_id)
            meeting = deliberation.record_meeting(
                uow,
                principal,
                deliberation.MeetingInput(
                    community_id=topic.community_id,
                    held_at=held_at,
                    place=forms.text(form, "place", max_length=200),
                    agenda=[topic.id],
                    attendance=[a for a in attendance if a is not None],
                    minutes=forms.text(form, "minutes", max_length=20000),
                ),
            )
            if data:
                deliberation.attach_to_meeting(uow, principal, meeting.id, data)
    except DomainError as exc:
        return _refused(exc, back)
    flash(t("会议已记录。", "Meeting recorded."), "ok")
    return redirect(back + "#h-meetings", 303)


@bp.post(
    "/topics/<int(max=2147483647):topic_id>/meetings/<int(max=2147483647):meeting_id>/files",
    endpoint="meeting_attach",
)
@page(*STAFF)
def meeting_attach(topic_id: int, meeting_id: int) -> Any:
    """A file (photo or PDF) added to a meeting's minutes."""
    principal = signed_in()
    back = url_for("console.topic_page", topic_id=topic_id)
    try:
        data = _upload()
        with unit_of_work() as uow:
            deliberation.attach_to_meeting(uow, principal, meeting_id, data)
    except DomainError as exc:
        return _refused(exc, back)
    flash(t("纪要附件已上传。", "File added to the minutes."), "ok")
    return redirect(back + "#h-meetings", 303)


@bp.post("/topics/<int(max=2147483647):topic_id>/members", endpoint="topic_member")
@page(*STAFF)
def topic_member(topic_id: int) -> Any:
    """A member added to the council of the topic's community (协商议事会成员)."""
    principal = signed_in()
    back = url_for("console.topic_page", topic_id=topic_id)
    form = request.form
    try:
        name = forms.text(form, "name", required=True, max_length=50)
        kind = forms.choice(form, "kind", [k for k, _, _ in MEMBER_KINDS], required=True)
        assert name is not None and kind is not None
        with unit_of_work() as uow:
            topic = deliberation.visible_topic(uow, principal, topic_id)
            deliberation.add_member(
                uow,
                principal,
                topic.community_id,
                name,
                kind,
                forms.text(form, "organisation", max_length=100),
            )
    except DomainError as exc:
        return _refused(exc, back)
    flash(t("议事会成员已添加。", "Council member added."), "ok")
    return redirect(back + "#h-council", 303)


@bp.post("/topics/<int(max=2147483647):topic_id>/codes", endpoint="topic_codes")
@page(*STAFF)
def topic_codes(topic_id: int) -> Any:
    """A batch of codes, shown once as a sheet to print and cut into slips."""
    principal = signed_in()
    try:
        count = forms.integer(request.form, "count", required=True)
        assert count is not None
        with unit_of_work() as uow:
            codes = deliberation.generate_codes(uow, principal, topic_id, count)
            topic = deliberation.visible_topic(uow, principal, topic_id)
            title, token = topic.title, topic.public_token
    except DomainError as exc:
        return _refused(exc, url_for("console.topic_page", topic_id=topic_id))
    url = url_for("web_topics.topic_page", token=token, _external=True)
    qr = url_for("web_topics.topic_qr", token=token)
    return render_template("console/topic_codes.html", title=title, codes=codes, url=url, qr=qr)


@bp.post(
    "/topics/<int(max=2147483647):topic_id>/comments/<int(max=2147483647):comment_id>/hide",
    endpoint="topic_hide",
)
@page(*STAFF)
def topic_hide(topic_id: int, comment_id: int) -> Any:
    principal = signed_in()
    back = url_for("console.topic_page", topic_id=topic_id)
    try:
        reason = forms.text(request.form, "reason", required=True, max_length=500)
        assert reason is not None
        with unit_of_work() as uow:
            deliberation.hide_comment(uow, principal, topic_id, comment_id, reason)
    except DomainError as exc:
        return _refused(exc, back)
    flash(t("评论已隐藏。", "Comment hidden."), "ok")
    return redirect(back, 303)


@bp.get("/notices", endpoint="notices")
@page(*STAFF)
def notice_list() -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        rows = [notices.present(uow, n, staff=True) for n in notices.list_for_staff(uow, principal)]
    now = utcnow()
    return render_template(
        "console/notices.html",
        notices=rows,
        categories=[(c, CATEGORY_ZH[c]) for c in CATEGORIES],
        communities=[(c.id, c.name) for c in org.list_communities(principal)],
        default_from=forms.local_time(now, "%Y-%m-%dT%H:%M"),
        default_until=forms.local_time(now + timedelta(days=30), "%Y-%m-%dT%H:%M"),
    )


@bp.post("/notices", endpoint="notice_publish")
@page(*STAFF)
def notice_publish() -> Any:
    principal = signed_in()
    form = request.form
    try:
        community = forms.integer(form, "community_id", required=True)
        category = forms.choice(form, "category", CATEGORIES, required=True)
        title = forms.text(form, "title", required=True, max_length=120)
        body = forms.text(form, "body", required=True, max_length=20000)
        start = forms.local_moment(form, "published_from", required=True)
        end = forms.local_moment(form, "published_until", required=True)
        assert community and category and title and body and start and end
        with unit_of_work() as uow:
            notices.publish(
                uow,
                principal,
                notices.NoticeInput(
                    community_id=community,
                    category=category,
                    title=title,
                    body=body,
                    published_from=start,
                    published_until=end,
                ),
            )
    except DomainError as exc:
        return _refused(exc, url_for("console.notices"))
    flash(t("公告已保存，将在公示期内公开。", "Notice saved; shown during its period."), "ok")
    return redirect(url_for("console.notices"), 303)


@bp.post("/notices/questions/<int(max=2147483647):question_id>/answer", endpoint="notice_answer")
@page(*STAFF)
def notice_answer(question_id: int) -> Any:
    principal = signed_in()
    try:
        text = forms.text(request.form, "answer", required=True, max_length=4000)
        assert text is not None
        with unit_of_work() as uow:
            notices.answer(uow, principal, question_id, text)
    except DomainError as exc:
        return _refused(exc, url_for("console.notices"))
    flash(t("已公开答复。", "Answered publicly."), "ok")
    return redirect(url_for("console.notices"), 303)
