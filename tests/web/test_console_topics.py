"""The console's deliberation and notices pages: a dispatcher records a topic, takes it to
consultation, prints a code sheet, hides a comment; publishes a notice and answers a
question. Collectors and other subdistricts are kept out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from conftest import World
from flask.testing import FlaskClient
from helpers import ok, sign_in


def local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M")


def test_a_dispatcher_runs_a_topic_from_the_console(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "dispatcher")
    listing = client.get("/console/topics")
    assert listing.status_code == 200 and "登记新议题" in listing.text
    assert "style=" not in listing.text and not re.search(r"<script(?![^>]*\bsrc=)", listing.text)
    made = client.post(
        "/console/topics",
        data={
            "community_id": world.community_ids["A"],
            "title": "楼道堆物清理",
            "description": "需要全体住户配合",
            "csrf_token": csrf,
        },
    )
    assert made.status_code == 303
    url = made.headers["Location"]
    page = client.get(url).text
    assert "楼道堆物清理" in page and 'id="act-accept"' in page
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None
    assert (
        client.post(
            f"{url}/actions/accept", data={"version": version.group(1), "csrf_token": csrf}
        ).status_code
        == 303
    )
    page = client.get(url).text
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None and 'id="act-open_consultation"' in page
    too_soon = client.post(
        f"{url}/actions/open_consultation",
        data={
            "version": version.group(1),
            "closes_at": local(datetime.now(UTC) + timedelta(hours=3)),
            "csrf_token": csrf,
        },
    )
    assert too_soon.status_code == 422 and "1 至 30 天" in too_soon.text
    opened = client.post(
        f"{url}/actions/open_consultation",
        data={
            "version": version.group(1),
            "closes_at": local(datetime.now(UTC) + timedelta(days=5)),
            "csrf_token": csrf,
        },
    )
    assert opened.status_code == 303
    sheet = client.post(f"{url}/codes", data={"count": "3", "csrf_token": csrf})
    assert sheet.status_code == 200
    codes = re.findall(r"<strong>([A-Z0-9]{5})-([A-Z0-9]{5})</strong>", sheet.text)
    assert len(codes) == 3
    token = re.search(r"/t/([A-Za-z0-9_-]+)", sheet.text)
    assert token is not None
    code = "".join(codes[0])
    ok(
        client.post(
            f"/api/v1/public/topics/{token.group(1)}/comments",
            json={"code": code, "body": "广告广告"},
        ),
        201,
    )
    page = client.get(url).text
    comment_id = re.search(r"/comments/(\d+)/hide", page)
    assert comment_id is not None
    hidden = client.post(
        f"{url}/comments/{comment_id.group(1)}/hide", data={"reason": "广告", "csrf_token": csrf}
    )
    assert hidden.status_code == 303
    assert "已隐藏：广告" in client.get(url).text
    assert "广告广告" not in client.get(f"/t/{token.group(1)}").text
    # others are kept out
    sign_in(client, "collector")
    assert client.get("/console/topics").status_code == 403
    sign_in(client, "dispatcher2")
    assert client.get(url).status_code == 404


def test_a_dispatcher_publishes_a_notice_and_answers(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "dispatcher")
    now = datetime.now(UTC)
    saved = client.post(
        "/console/notices",
        data={
            "community_id": world.community_ids["A"],
            "category": "service",
            "title": "冬季供暖服务公示",
            "body": "供暖时间 12 月 1 日起",
            "published_from": local(now - timedelta(hours=1)),
            "published_until": local(now + timedelta(days=10)),
            "csrf_token": csrf,
        },
    )
    assert saved.status_code == 303
    listed = ok(client.get("/api/v1/public/notices"))["items"]
    assert [n["title"] for n in listed] == ["冬季供暖服务公示"]
    assert (
        client.post(
            f"/api/v1/public/notices/{listed[0]['id']}/questions", json={"body": "几点开始？"}
        ).status_code
        == 202
    )
    page = client.get("/console/notices").text
    qid = re.search(r"/notices/questions/(\d+)/answer", page)
    assert qid is not None and "[服务] 冬季供暖服务公示" in page
    assert (
        client.post(
            f"/console/notices/questions/{qid.group(1)}/answer",
            data={"answer": "早 6 点", "csrf_token": csrf},
        ).status_code
        == 303
    )
    assert (
        ok(client.get(f"/api/v1/public/notices/{listed[0]['id']}"))["questions"][0]["answer"]
        == "早 6 点"
    )
