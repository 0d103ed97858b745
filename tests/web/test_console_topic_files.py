"""Console attachments on deliberation topics: a dispatcher uploads a photo and a PDF to a
topic, records a council meeting with its minutes and a file, adds another file to the
minutes, names the meeting in the decision; the files are served to staff who may see the
topic only, and the topic's photos (never its documents) on the public page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from test_console_topics import local, sign_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(colour: tuple[int, int, int] = (30, 90, 200)) -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, format="PNG")
    return out.getvalue()


def new_topic(client: FlaskClient, world: World, csrf: str) -> str:
    made = client.post(
        "/console/topics",
        data={
            "community_id": world.community_ids["A"],
            "title": "公共绿地改停车位",
            "description": "征求全体居民意见",
            "csrf_token": csrf,
        },
    )
    assert made.status_code == 303
    return str(made.headers["Location"])


def upload(client: FlaskClient, url: str, csrf: str, data: bytes, name: str) -> Any:
    return client.post(
        url,
        data={"csrf_token": csrf, "file": (BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _topic(app: Flask, topic_id: int) -> Any:
    from server.extensions import db
    from server.models import Meeting, Topic, TopicEvent

    with app.app_context():
        topic = db.session.get(Topic, topic_id)
        events = db.session.query(TopicEvent).filter_by(topic_id=topic_id).order_by("seq").all()
        meetings = db.session.query(Meeting).all()
        db.session.expunge_all()
        return topic, events, meetings


def test_files_on_a_topic_and_its_meeting_minutes(
    app: Flask, client: FlaskClient, world: World
) -> None:
    import hashlib

    csrf = sign_in(client, "dispatcher")
    url = new_topic(client, world, csrf)
    topic_id = int(url.rsplit("/", 1)[1])
    photo, pdf = png(), PDF
    assert upload(client, f"{url}/files", csrf, photo, "green.png").status_code == 303
    assert upload(client, f"{url}/files", csrf, pdf, "plan.pdf").status_code == 303
    again = upload(client, f"{url}/files", csrf, photo, "green.png")  # the same file: once
    assert again.status_code == 303
    refused = upload(client, f"{url}/files", csrf, b"%PDF-1.4 cut off", "broken.pdf")
    assert refused.status_code == 415
    empty = client.post(
        f"{url}/files", data={"csrf_token": csrf}, content_type="multipart/form-data"
    )
    assert empty.status_code == 422 and "请选择要上传的文件" in empty.text

    photo_sha, pdf_sha = hashlib.sha256(photo).hexdigest(), hashlib.sha256(pdf).hexdigest()
    topic, events, _ = _topic(app, topic_id)
    assert topic.photos == [photo_sha, pdf_sha]
    attach = [e for e in events if e.action == "attach"]
    assert [e.payload["file"] for e in attach] == [photo_sha, pdf_sha]
    assert attach[1].payload["mime"] == "application/pdf"

    page = client.get(url).text
    assert f"/files/{photo_sha}" in page and f"/files/{pdf_sha}" in page and "(PDF)" in page
    got = client.get(f"{url}/files/{pdf_sha}")
    assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data == pdf
    assert client.get(f"{url}/files/{photo_sha}").mimetype == "image/png"
    assert client.get(f"{url}/files/{'a' * 64}").status_code == 404

    # a council meeting with its minutes and a file
    minutes_png = png((200, 20, 20))
    recorded = client.post(
        f"{url}/meetings",
        data={
            "csrf_token": csrf,
            "held_at": local(datetime.now(UTC)),
            "place": "社区议事厅",
            "minutes": "到会 9 人，同意进入群议",
            "file": (BytesIO(minutes_png), "minutes.png"),
        },
        content_type="multipart/form-data",
    )
    assert recorded.status_code == 303, recorded.text[:2000]
    _, events, meetings = _topic(app, topic_id)
    (meeting,) = meetings
    assert meeting.agenda == [topic_id] and meeting.place == "社区议事厅"
    assert meeting.attachments == [hashlib.sha256(minutes_png).hexdigest()]
    more = upload(client, f"{url}/meetings/{meeting.id}/files", csrf, PDF + b"\n", "m.pdf")
    assert more.status_code == 303
    _, events, meetings = _topic(app, topic_id)
    assert len(meetings[0].attachments) == 2
    assert events[-1].action == "attach" and events[-1].payload["meeting_id"] == meeting.id
    page = client.get(url).text
    assert "社区议事厅" in page and "到会 9 人" in page and "纪要附件 2" in page
    for sha in meetings[0].attachments:
        assert client.get(f"{url}/files/{sha}").status_code == 200

    # the public page shows the photo, never the documents or the minutes
    token = topic.public_token
    public = client.get(f"/t/{token}").text
    assert f"/t/{token}/photos/{photo_sha}" in public and pdf_sha not in public
    assert client.get(f"/t/{token}/photos/{photo_sha}").status_code == 200
    assert client.get(f"/t/{token}/photos/{pdf_sha}").status_code == 404
    assert client.get(f"/t/{token}/photos/{meetings[0].attachments[0]}").status_code == 404

    # staff of another subdistrict and collectors get nothing
    sign_in(client, "dispatcher2")
    assert client.get(f"{url}/files/{photo_sha}").status_code == 404
    other = sign_in(client, "dispatcher2")
    assert upload(client, f"{url}/files", other, png((1, 2, 3)), "x.png").status_code == 404
    sign_in(client, "collector")
    assert client.get(f"{url}/files/{photo_sha}").status_code in (403, 404)
    # the history still verifies
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_the_decision_names_the_meeting_that_voted(
    app: Flask, client: FlaskClient, world: World
) -> None:
    csrf = sign_in(client, "dispatcher")
    url = new_topic(client, world, csrf)

    def version() -> str:
        found = re.search(r'name="version" value="(\d+)"', client.get(url).text)
        assert found is not None
        return found.group(1)

    for action, extra in (
        ("accept", {}),
        ("open_consultation", {"closes_at": local(datetime.now(UTC) + timedelta(days=3))}),
        ("close_consultation", {}),
    ):
        done = client.post(
            f"{url}/actions/{action}", data={"version": version(), "csrf_token": csrf, **extra}
        )
        assert done.status_code == 303, done.text[:1000]
    held = client.post(
        f"{url}/meetings",
        data={"csrf_token": csrf, "held_at": local(datetime.now(UTC)), "minutes": "表决"},
        content_type="multipart/form-data",
    )
    assert held.status_code == 303
    page = client.get(url).text
    assert 'id="f-meeting-decide"' in page
    _, _, (meeting,) = _topic(app, int(url.rsplit("/", 1)[1]))
    decided = client.post(
        f"{url}/actions/decide",
        data={
            "version": version(),
            "csrf_token": csrf,
            "votes_for": "7",
            "votes_against": "2",
            "votes_abstain": "0",
            "minutes": "同意改建 20 个车位",
            "meeting_id": str(meeting.id),
        },
    )
    assert decided.status_code == 303, decided.text[:1000]
    _, events, _ = _topic(app, int(url.rsplit("/", 1)[1]))
    assert events[-1].action == "decide" and events[-1].payload["meeting_id"] == meeting.id


def test_the_code_sheet_prints_the_topic_qr_code(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "dispatcher")
    url = new_topic(client, world, csrf)
    sheet = client.post(f"{url}/codes", data={"count": "2", "csrf_token": csrf})
    assert sheet.status_code == 200
    found = re.search(r'src="(/t/([^/"]+)/qr\.png)"', sheet.text)
    assert found is not None and sheet.text.count('class="slip-qr"') == 2
    image = client.get(found.group(1))
    assert image.status_code == 200 and image.mimetype == "image/png"
    decoded = Image.open(BytesIO(image.data))
    assert decoded.size[0] >= 100
    assert client.get(f"/t/{'x' * 32}/qr.png").status_code == 404
