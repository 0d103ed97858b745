"""/t/<token>: a deliberation topic as residents see it — the 五议 step, the views counted
live, the decision, the linked cases, comments; forms to give a view, comment and evaluate
with the one-time code from the slip posted in the compound. No account, no scripts.

/propose: a resident raises a topic (提议) — community, title, description, the place (the
phone's location, a tap on the grid map, or an address) and a photo — rate-limited per
address like the report page."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from geo.crs import to_wgs84
from server.domain.deliberation import STATUS_ZH, VERDICT_ZH, VERDICTS, VIEW_ZH, VIEWS, TopicStatus
from server.errors import DomainError, Invalid
from server.services.civic import deliberation
from server.services.territory import org
from server.services.uow import unit_of_work
from server.web import web_blueprint
from server.web.forms import local_time
from server.web.public import read_photo, read_point, read_text

bp = web_blueprint("web_topics", __name__, error_template="public/error.html")

TOKEN = "<string(maxlength=64):token>"
STATUS_EN = {
    "proposed": "Proposed",
    "declined": "Not taken up",
    "reviewing": "Committees reviewing",
    "consulting": "Residents consulted",
    "deciding": "Awaiting the council's decision",
    "implementing": "Being carried out",
    "evaluating": "Residents evaluating",
    "closed": "Closed",
}
# The five steps of 五议 and the statuses each one covers.
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("提议", "Proposal", ("proposed", "declined")),
    ("合议", "Review", ("reviewing",)),
    ("群议", "Consultation", ("consulting",)),
    ("决议", "Decision", ("deciding", "implementing")),
    ("评议", "Evaluation", ("evaluating", "closed")),
)
VIEW_EN = {"support": "Support", "oppose": "Oppose", "other": "Other opinion"}
VERDICT_EN = {"satisfied": "Satisfied", "basic": "Mostly satisfied", "unsatisfied": "Not satisfied"}
DONE = {
    "view": ("已记录您的意见，谢谢！", "Your view was recorded. Thank you!"),
    "comment": ("评论已发表。", "Your comment was posted."),
    "evaluation": ("已记录您的评议，谢谢！", "Your evaluation was recorded. Thank you!"),
}


@bp.after_request
def _private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _field(name: str, label_zh: str, max_len: int, *, required: bool = True) -> str | None:
    value = request.form.get(name, "").replace("\x00", "").strip()
    if not value and required:
        raise Invalid("validation_error", f"{name}: required", f"请填写{label_zh}", field=name)
    if len(value) > max_len:
        raise Invalid(
            "validation_error",
            f"{name}: at most {max_len} characters",
            f"{label_zh}最多 {max_len} 个字",
            field=name,
        )
    return value or None


def _choice(name: str, allowed: tuple[str, ...], label_zh: str) -> str:
    value = request.form.get(name, "")
    if value not in allowed:
        raise Invalid("validation_error", f"{name}: choose one", f"请选择{label_zh}", field=name)
    return value


def _page(
    token: str, *, error: DomainError | None = None, form: dict[str, str] | None = None
) -> Any:
    with unit_of_work() as uow:
        topic = deliberation.present(uow, deliberation.public_topic(uow, token), None)
        return _render(uow, token, topic, error, form)


def _render(
    uow: Any,
    token: str,
    topic: dict[str, Any],
    error: DomainError | None,
    form: dict[str, str] | None,
) -> Any:
    status = topic["status"]
    html = render_template(
        "public/topic.html",
        topic=topic,
        token=token,
        status_zh=STATUS_ZH[TopicStatus(status)],
        status_en=STATUS_EN[status],
        steps=STEPS,
        step_index=next(i for i, (_, _, sts) in enumerate(STEPS) if status in sts),
        views=[(v, VIEW_ZH[v], VIEW_EN[v]) for v in VIEWS],
        verdicts=[(v, VERDICT_ZH[v], VERDICT_EN[v]) for v in VERDICTS],
        can_view="view" in topic["allowed_actions"],
        can_comment="comment" in topic["allowed_actions"],
        can_evaluate="evaluate" in topic["allowed_actions"],
        photos=[f for f in deliberation.file_kinds(uow, topic["photos"]) if f["image"]],
        just_proposed=bool(request.args.get("new")),
        done=DONE.get(request.args.get("done", "")),
        local_time=local_time,
        error=error,
        form=form or {},
    )
    return html, error.status if error else 200


@bp.get(f"/t/{TOKEN}")
def topic_page(token: str) -> Any:
    return _page(token)


def _write(token: str, kind: str, work: Any) -> Any:
    form = {k: request.form.get(k, "") for k in ("code", "choice", "body", "name", "verdict")}
    form["code"] = ""  # a code is never sent back into the page
    try:
        with unit_of_work() as uow:  # counted even if the write is then refused
            deliberation.limit_public_write(uow, request.remote_addr or "unknown", "code", 10)
        with unit_of_work() as uow:
            work(uow)
    except DomainError as exc:
        if exc.code == "not_found" and exc.field is None:
            raise
        return _page(token, error=exc, form=form)
    return redirect(url_for("web_topics.topic_page", token=token, done=kind) + f"#done-{kind}")


@bp.post(f"/t/{TOKEN}/view")
def give_view(token: str) -> Any:
    def work(uow: Any) -> None:
        code = _field("code", "议事码", 32)
        choice = _choice("choice", VIEWS, "您的意见")
        assert code is not None
        deliberation.give_view(uow, token, code, choice)

    return _write(token, "view", work)


@bp.post(f"/t/{TOKEN}/comment")
def comment(token: str) -> Any:
    def work(uow: Any) -> None:
        code = _field("code", "议事码", 32)
        body = _field("body", "评论内容", 1000)
        name = _field("name", "称呼", 50, required=False)
        assert code is not None and body is not None
        deliberation.comment(uow, token, code, body, name)

    return _write(token, "comment", work)


@bp.post(f"/t/{TOKEN}/evaluation")
def evaluate(token: str) -> Any:
    def work(uow: Any) -> None:
        code = _field("code", "议事码", 32)
        verdict = _choice("verdict", VERDICTS, "评议结果")
        remark = _field("comment", "留言", 500, required=False)
        assert code is not None
        deliberation.evaluate(uow, token, code, verdict, remark)

    return _write(token, "evaluation", work)


@bp.get(f"/t/{TOKEN}/qr.png")
def topic_qr(token: str) -> Any:
    """The topic's link as a QR code, printed on the code slips posted in the compound."""
    from io import BytesIO

    import qrcode

    with unit_of_work() as uow:
        deliberation.public_topic(uow, token)  # only for links that exist
    image = qrcode.make(
        url_for("web_topics.topic_page", token=token, _external=True), box_size=6, border=2
    )
    out = BytesIO()
    image.save(out)
    out.seek(0)
    return send_file(out, mimetype="image/png", max_age=3600)


@bp.get(f"/t/{TOKEN}/photos/<string(length=64):sha256>")
def topic_photo(token: str, sha256: str) -> Any:
    """A photo of the topic (the public copy, EXIF removed); documents stay with staff."""
    with unit_of_work() as uow:
        topic = deliberation.public_topic(uow, token)
        stored = deliberation.topic_file(uow, None, topic, sha256)
    response = send_file(stored.path, mimetype=stored.mime, max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# ---------------------------------------------------------------------------- proposals

PROPOSE_FIELDS = ("community_id", "title", "description", "address", "name", "lon", "lat", "crs")


def _proposal_page(error: DomainError | None = None) -> Any:
    form = {k: request.form.get(k, "") for k in PROPOSE_FIELDS}
    if not form["community_id"]:
        form["community_id"] = request.args.get("community", "")
    html = render_template(
        "public/propose.html",
        communities=[(c.id, c.name) for c in org.list_communities(None)],
        error=error,
        form=form,
    )
    return html, (error.status if error else 200), (error.headers if error else {})


def _community() -> int:
    raw = request.form.get("community_id", "").strip()
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid(
            "validation_error", "community_id: choose one", "请选择社区", field="community_id"
        )
    return int(raw)


def _place() -> tuple[float | None, float | None]:
    """The place in WGS84 when one was chosen; a topic may name only an address."""
    if not request.form.get("lon", "").strip() and not request.form.get("lat", "").strip():
        return None, None
    lon, lat, crs = read_point()
    return to_wgs84(lon, lat, crs)


@bp.get("/propose")
def propose_form() -> Any:
    """The proposal form: plain words, large controls, works without the map."""
    return _proposal_page()


@bp.post("/propose")
def propose() -> Any:
    """Raise the topic; the resident lands on its public page (/t/<token>) to keep."""
    try:
        community_id = _community()
        title = read_text("title", "议题标题", max_len=120)
        description = read_text("description", "议题内容", max_len=4000)
        lon, lat = _place()
        data = deliberation.ProposeInput(
            community_id=community_id,
            title=title or "",
            description=description or "",
            address=read_text("address", "地址", required=False, max_len=200),
            lon=lon,
            lat=lat,
            proposer_name=read_text("name", "称呼", required=False, max_len=50),
        )
        photo = read_photo()
        with unit_of_work() as uow:  # counted even if the proposal is then refused
            deliberation.limit_public_write(uow, request.remote_addr or "unknown", "topic")
        with unit_of_work() as uow:
            topic = deliberation.propose_with_photo(uow, data, photo)
            token = topic.public_token
    except DomainError as exc:
        return _proposal_page(exc)
    return redirect(url_for("web_topics.topic_page", token=token, new=1), code=303)
