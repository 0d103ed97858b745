"""/r/<token>: the resident's page for one case — progress, result photos, the rating form.

No account: the unguessable token in the link (SMS, or a QR code on a notice board) is the
key. Everything comes from services.residents, as the public API does.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import current_app, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from server.domain.cases import VERDICT_ZH, VERDICTS
from server.errors import DomainError, Invalid
from server.services.caseloop import residents
from server.services.uow import unit_of_work
from server.web import web_blueprint
from server.web.forms import local_time
from server.web.i18n import t

bp = web_blueprint("web_resident", __name__, error_template="public/error.html")

TOKEN = "<string(maxlength=64):token>"
COMMENT_MAX = 500
QR_BOX_SIZE = 8

# The status in a resident's words (the console's STATUS_ZH is the office's jargon).
STATUS_PLAIN: dict[str, tuple[str, str]] = {
    "reported": ("已登记，等待受理", "Registered, waiting to be accepted"),
    "accepted": ("已受理，正在安排办理单位", "Accepted; arranging who will fix it"),
    "rejected": ("经核实不予立案", "Not taken up after checking"),
    "merged": ("已与同一问题合并处理", "Handled together with the same problem"),
    "dispatched": ("已交给办理单位", "Sent to the unit that will fix it"),
    "in_progress": ("正在处理", "Being fixed"),
    "handled": ("已处理，等待现场核查", "Fixed; being checked on site"),
    "awaiting_rating": ("已处理，等待您的评价", "Fixed; waiting for your rating"),
    "reopened": ("您不满意，正在重新处理", "You were not satisfied; being looked at again"),
    "closed": ("已办结", "Closed"),
}
# The four steps of the loop as residents see them, and the stage each one is.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("collect", "登记受理", "Registered"),
    ("handle", "处理", "Being fixed"),
    ("feedback", "现场核查", "Checked"),
    ("evaluate", "评价", "Rated"),
    ("done", "办结", "Closed"),
)
VERDICT_EN = {"satisfied": "Satisfied", "basic": "Mostly satisfied", "unsatisfied": "Not satisfied"}


@bp.after_request
def _private(response: Response) -> Response:
    # The page holds a CSRF token for this browser and is reached by a secret link: no cache
    # may keep it.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def public_url(token: str) -> str:
    """The link as a resident receives it (MINQING_PUBLIC_URL behind a proxy)."""
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return f"{base.rstrip('/')}/r/{token}"


def _link_page(error: DomainError) -> Any:
    """The resident's own page for an unknown (404) or expired (410) link: plain words."""
    status = 410 if error.code == "link_expired" else 404
    return render_template("public/link_missing.html", expired=status == 410), status


def _verdict_and_comment() -> tuple[str, str | None]:
    verdict = request.form.get("verdict", "")
    if verdict not in VERDICTS:
        raise Invalid(
            "validation_error",
            "verdict: choose 满意, 基本满意 or 不满意",
            "请选择：满意、基本满意或不满意",
            field="verdict",
        )
    comment = request.form.get("comment", "").replace("\x00", "").strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid(
            "validation_error",
            f"comment: at most {COMMENT_MAX} characters",
            f"留言最多 {COMMENT_MAX} 个字",
            field="comment",
        )
    return verdict, comment or None


def _page(
    token: str, *, error: DomainError | None = None, form: dict[str, str] | None = None
) -> Any:
    try:
        case = residents.public_view(token)
    except DomainError as exc:
        if exc.code in ("not_found", "link_expired"):
            return _link_page(exc)
        raise
    zh, en = STATUS_PLAIN.get(case["status"], (case["status_zh"], case["status"]))
    html = render_template(
        "public/resident.html",
        case=case,
        status_text=t(zh, en),
        steps=STEPS,
        step_index=[key for key, _, _ in STEPS].index(case["stage"]),
        photos_result=[p for p in case["photos"] if p["role"] == "result"],
        photos_report=[p for p in case["photos"] if p["role"] == "report"],
        verdict_en=VERDICT_EN,
        local_time=local_time,
        token=token,
        error=error,
        form=form or {},
        verdicts=[(v, VERDICT_ZH[v]) for v in VERDICTS],
        just_reported=bool(request.args.get("new")),
        just_rated=bool(request.args.get("rated")),
        public_url=public_url(token),
    )
    return html, error.status if error else 200


@bp.get(f"/r/{TOKEN}")
def case_page(token: str) -> Any:
    """The case's progress in plain words; the rating form while it awaits a rating."""
    return _page(token)


@bp.post(f"/r/{TOKEN}/rating")
def rate(token: str) -> Any:
    """Rate once: 满意 / 基本满意 close the case, 不满意 sends it back to the dispatcher."""
    form = {k: request.form.get(k, "") for k in ("verdict", "comment")}
    try:
        verdict, comment = _verdict_and_comment()
        with unit_of_work() as uow:
            residents.rate(uow, token, verdict, comment)
    except DomainError as exc:
        if exc.code in ("not_found", "link_expired"):
            return _link_page(exc)
        return _page(token, error=exc, form=form)
    return redirect(url_for("web_resident.case_page", token=token, rated=1), code=303)


@bp.get(f"/r/{TOKEN}/qr.png")
def qr_code(token: str) -> Any:
    """The link as a QR code, to print on a notice or show on another phone."""
    import qrcode

    try:
        residents.public_view(token)  # only for links that exist
    except DomainError as exc:
        if exc.code in ("not_found", "link_expired"):
            return _link_page(exc)
        raise
    image = qrcode.make(public_url(token), box_size=QR_BOX_SIZE, border=2)
    out = BytesIO()
    image.save(out)
    out.seek(0)
    return send_file(out, mimetype="image/png", max_age=3600)


@bp.get("/lookup")
def lookup_form() -> Any:
    """Find my case: its number and the last four digits of the phone given with it."""
    return _lookup_page()


@bp.post("/lookup")
def lookup() -> Any:
    form = {k: request.form.get(k, "")[:40] for k in ("number", "last4")}
    try:
        with unit_of_work() as uow:  # counted even if the lookup then fails
            residents.count_lookup(uow, request.remote_addr or "unknown")
        token = residents.lookup(form["number"], form["last4"])
    except DomainError as exc:
        return _lookup_page(exc, form)
    return redirect(url_for("web_resident.case_page", token=token), code=303)


def _lookup_page(error: DomainError | None = None, form: dict[str, str] | None = None) -> Any:
    html = render_template("public/lookup.html", error=error, form=form or {})
    return html, (error.status if error else 200), (error.headers if error else {})
