"""The resident's page /r/<token>: progress in plain words, masked data, the rating form with
CSRF, the thank-you state, and clear pages for unknown or expired links."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, new_case, ok, report

CSRF = "test-csrf-token-0123456789"


def with_csrf(client: FlaskClient) -> None:
    with client.session_transaction() as session:
        session["csrf"] = CSRF


def resident_case(client: FlaskClient, **extra: Any) -> dict[str, Any]:
    return ok(report(client, None, reporter_phone="13812345678", **extra), 201)


def awaiting_rating(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    body = resident_case(client)
    case = body["case"]
    d = tokens["dispatcher"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, tokens["staff"], case, "acknowledge"))
    case = ok(act(client, tokens["staff"], case, "report_done", result="已清运"))
    case = ok(act(client, tokens["collector"], case, "verify_ok"))
    return {"case": case, "token": body["public_token"]}


def test_progress_in_plain_words_with_the_phone_masked(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    body = resident_case(client)
    page = client.get(f"/r/{body['public_token']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "已登记，等待受理" in html  # the status in a resident's words
    assert "您反映的问题已登记" in html  # the timeline
    assert "138****5678" in html and "13812345678" not in html
    assert body["case"]["number"] in html
    assert 'name="verdict"' not in html  # nothing to rate yet
    assert 'lang="zh-CN"' in html
    # a secret link: kept by no cache, indexed by no search engine, sent on as no referrer
    assert page.headers["Cache-Control"] == "no-store"
    assert '<meta name="robots" content="noindex">' in html
    assert '<meta name="referrer" content="same-origin">' in html


def test_english_when_chosen(client: FlaskClient, world: World) -> None:
    body = resident_case(client)
    client.set_cookie("minqing_lang", "en")
    html = client.get(f"/r/{body['public_token']}").get_data(as_text=True)
    assert "Registered, waiting to be accepted" in html
    assert "Your report was registered" in html


def test_unknown_link_is_a_clear_404_page(client: FlaskClient, world: World) -> None:
    page = client.get("/r/no-such-token-at-all")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "找不到这个链接" in html and "The link may be mistyped" in html


def test_expired_link_is_a_clear_410_page(app: Flask, client: FlaskClient, world: World) -> None:
    body = resident_case(client)
    from server.extensions import db
    from server.models import Case
    from server.models.base import utcnow

    with app.app_context():
        case = db.session.get(Case, body["case"]["id"])
        assert case is not None
        case.status = "closed"
        case.closed_at = utcnow() - timedelta(days=181)
        db.session.commit()
    page = client.get(f"/r/{body['public_token']}")
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "这个链接已过期" in html and "its link no longer works" in html
    assert client.get(f"/r/{body['public_token']}/qr.png").status_code == 410


def test_rating_form_then_thank_you(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    made = awaiting_rating(client, tokens, world)
    url = f"/r/{made['token']}"
    html = client.get(url).get_data(as_text=True)
    assert "已处理，等待您的评价" in html
    assert "处理结果：已清运" in html
    for verdict in ("satisfied", "basic", "unsatisfied"):
        assert f'value="{verdict}"' in html
    with_csrf(client)
    sent = client.post(
        f"{url}/rating", data={"verdict": "satisfied", "comment": "很快", "csrf_token": CSRF}
    )
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith(f"{url}?rated=1")
    thanks = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "感谢您的评价" in thanks and "<strong>满意</strong>" in thanks
    assert 'name="verdict"' not in thanks
    assert "已办结" in thanks
    from server.extensions import db
    from server.models import Case, Rating

    with app.app_context():
        case = db.session.get(Case, made["case"]["id"])
        assert case is not None and case.status == "closed" and case.rating == "satisfied"
        assert db.session.query(Rating).filter_by(case_id=case.id).one().comment == "很快"
    again = client.post(f"{url}/rating", data={"verdict": "basic", "csrf_token": CSRF})
    assert again.status_code == 409
    assert "该事项当前无需评价" in again.get_data(as_text=True) or "您已评价" in again.get_data(
        as_text=True
    )


def test_unsatisfied_reopens_and_says_so(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    made = awaiting_rating(client, tokens, world)
    with_csrf(client)
    sent = client.post(
        f"/r/{made['token']}/rating", data={"verdict": "unsatisfied", "csrf_token": CSRF}
    )
    assert sent.status_code == 303
    html = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "您不满意，正在重新处理" in html and "我们会重新安排处理" in html


def test_rating_without_csrf_is_refused(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    made = awaiting_rating(client, tokens, world)
    refused = client.post(f"/r/{made['token']}/rating", data={"verdict": "satisfied"})
    assert refused.status_code == 400
    assert "表单已过期" in refused.get_data(as_text=True)
    assert 'href="/login"' not in refused.text  # residents have no account: a way back instead
    assert 'href="/report"' in refused.text
    page = client.get(f"/r/{made['token']}").get_data(as_text=True)
    assert 'name="verdict"' in page  # still awaiting a rating


def test_bad_verdict_and_long_comment_name_the_field(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    made = awaiting_rating(client, tokens, world)
    with_csrf(client)
    url = f"/r/{made['token']}/rating"
    bad = client.post(url, data={"verdict": "great", "csrf_token": CSRF})
    assert bad.status_code == 422
    assert "请选择：满意、基本满意或不满意" in bad.get_data(as_text=True)
    long = client.post(url, data={"verdict": "basic", "comment": "很" * 501, "csrf_token": CSRF})
    assert long.status_code == 422
    html = long.get_data(as_text=True)
    assert "留言最多 500 个字" in html
    assert 'value="basic" required checked' in html  # the choice is kept


def test_result_photos_are_shown_through_the_public_link(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from io import BytesIO

    from conftest import bearer
    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    up = client.post(
        "/api/v1/attachments",
        data={"file": (BytesIO(out.getvalue()), "done.png")},
        headers=bearer(tokens["staff"]),
        content_type="multipart/form-data",
    )
    assert up.status_code in (200, 201), up.get_json()
    sha = up.get_json()["sha256"]
    body = resident_case(client)
    case, d, s = body["case"], tokens["dispatcher"], tokens["staff"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="修好了", photos=[sha]))
    html = client.get(f"/r/{body['public_token']}").get_data(as_text=True)
    src = f"/api/v1/public/cases/{body['public_token']}/photos/{sha}"
    assert f'src="{src}"' in html
    assert client.get(src).status_code == 200


def test_qr_code_of_the_link(client: FlaskClient, world: World) -> None:
    body = resident_case(client)
    png = client.get(f"/r/{body['public_token']}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG")
    assert client.get("/r/unknown-token/qr.png").status_code == 404


def test_collector_case_is_not_a_resident_link(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    # the case id is not its link: only the unguessable token opens the page
    assert client.get(f"/r/{case['id']}").status_code == 404
    assert re.search(r"找不到这个链接", client.get(f"/r/{case['number']}").get_data(as_text=True))
