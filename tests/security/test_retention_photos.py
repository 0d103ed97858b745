"""Retention (PIPL): photos of people are kept only as long as their case needs them.

A photo flagged `personal` goes MINQING_PERSON_PHOTO_DAYS (30) after every case and topic
holding it ended: its files are deleted, its row stays with `removed_at`, its URLs answer 410
`photo_removed`, pages show a placeholder and phones pull its cases without it."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, act, assert_error, ok, report, sign_in
from phones import Phone
from PIL import Image
from sqlalchemy import text


def _upload(client: FlaskClient, token: str, colour: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    response = client.post(
        "/api/v1/attachments",
        headers=bearer(token),
        data={"file": (io.BytesIO(buffer.getvalue()), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["sha256"])


def _bytes(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _flag(client: FlaskClient, token: str, sha: str, personal: Any = True) -> Any:
    return client.patch(
        f"/api/v1/attachments/{sha}", json={"personal": personal}, headers=bearer(token)
    )


def _case(client: FlaskClient, token: str, photos: list[str]) -> str:
    return str(ok(report(client, token, photos=photos), 201)["case"]["id"])


def _end(app: Flask, case_id: str, days_ago: int, status: str = "closed") -> None:
    from server.extensions import db
    from server.models.base import utcnow

    with app.app_context():
        db.session.execute(
            text("UPDATE cases SET status = :s, closed_at = :t WHERE id = :i"),
            {"s": status, "t": utcnow() - timedelta(days=days_ago), "i": case_id},
        )
        db.session.commit()


def _age_uploads(app: Flask, days: int) -> None:
    from server.extensions import db
    from server.models.base import utcnow

    with app.app_context():
        db.session.execute(
            text("UPDATE attachments SET created_at = :t"), {"t": utcnow() - timedelta(days=days)}
        )
        db.session.commit()


def _apply(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["retention", "apply"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def _get(client: FlaskClient, token: str, sha: str, suffix: str = "") -> Any:
    return client.get(f"/api/v1/attachments/{sha}{suffix}", headers=bearer(token))


def _files_of(app: Flask, sha: str) -> list[bool]:
    from server.services.files import attachments

    with app.app_context():
        return [
            attachments.path_for(sha, "original").exists(),
            attachments.path_for(sha, "public", mime="image/jpeg").exists(),
        ]


def test_personal_photos_leave_only_when_every_case_holding_them_ended_long_ago(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], phone: Phone
) -> None:
    collector = tokens["collector"]
    old, open_, plain, shared, recent = (
        _upload(client, collector, c) for c in ("red", "green", "blue", "white", "yellow")
    )
    for sha in (old, open_, shared, recent):
        body = ok(_flag(client, collector, sha))
        assert body["personal"] is True and body["removed_at"] is None
    closed_long_ago = _case(client, collector, [old, plain, shared])
    still_open = _case(client, collector, [open_, shared])
    closed_recently = _case(client, collector, [recent])
    _end(app, closed_long_ago, 31)
    _end(app, closed_recently, 10, status="rejected")
    _age_uploads(app, 40)
    phone.pull()

    assert "person_photos_removed  1" in _apply(app)

    assert_error(_get(client, collector, old), 410, "photo_removed", "sha256")
    assert_error(_get(client, tokens["dispatcher"], old, "/thumbnail"), 410, "photo_removed")
    assert _files_of(app, old) == [False, False]
    for kept in (open_, plain, shared, recent):
        assert _get(client, collector, kept).status_code == 200, kept
        assert _files_of(app, kept) == [True, True]
    # the row stays, with when it went; the flag can no longer change
    assert_error(_flag(client, collector, old, False), 410, "photo_removed")
    # the case says which photo went
    shown = ok(client.get(f"/api/v1/cases/{closed_long_ago}", headers=bearer(collector)))
    removed = {p["sha256"]: p["removed"] for p in shown["photos"]}
    assert removed == {old: True, plain: False, shared: False}
    # the console page shows a placeholder instead of a broken image
    sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{closed_long_ago}").get_data(as_text=True)
    assert "已删除（个人信息保护）" in page
    assert f"/photos/{old}/thumbnail" not in page and f"/photos/{plain}/thumbnail" in page
    # phones pull the case again, without the removed photo, and drop their copy
    pulled = phone.pull()["changes"]["cases"]
    again = {r["id"]: r for r in pulled["updated"] + pulled["created"]}
    assert closed_long_ago in again
    assert old not in again[closed_long_ago]["photos"]
    assert plain in again[closed_long_ago]["photos"]
    # the same bytes cannot come back through an upload
    response = client.put(
        f"/api/v1/attachments/{old}", data=_bytes("red"), headers=bearer(collector)
    )
    assert_error(response, 410, "photo_removed", "file")
    # idempotent; the shared photo goes once its open case ended long ago too
    assert "person_photos_removed  0" in _apply(app)
    _end(app, still_open, 31)
    assert "person_photos_removed  2" in _apply(app)
    assert _get(client, collector, shared).status_code == 410
    assert _get(client, collector, plain).status_code == 200


def test_a_photo_of_an_open_topic_stays(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.extensions import db
    from server.models import Topic

    collector = tokens["collector"]
    in_topic, alone = (_upload(client, collector, c) for c in ("red", "green"))
    for sha in (in_topic, alone):
        ok(_flag(client, collector, sha))
    _end(app, _case(client, collector, [in_topic]), 60)
    with app.app_context():
        db.session.add(
            Topic(
                public_token="t" * 40,
                subdistrict_id=world.subdistrict_id,
                community_id=world.community_ids["A"],
                title="加装电梯",
                description="居民议事",
                photos=[in_topic],
                source="dispatcher",
                status="consulting",
            )
        )
        db.session.commit()
    _age_uploads(app, 40)
    assert "person_photos_removed  1" in _apply(app)  # the photo held by nothing
    assert _get(client, collector, alone).status_code == 410
    assert _get(client, collector, in_topic).status_code == 200
    with app.app_context():
        db.session.execute(
            text("UPDATE topics SET status = 'closed', closed_at = :t"),
            {"t": db.session.execute(text("SELECT min(created_at) FROM attachments")).scalar()},
        )
        db.session.commit()
    assert "person_photos_removed  1" in _apply(app)
    assert _get(client, collector, in_topic).status_code == 410


def test_who_may_flag_a_photo(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    photo = _upload(client, tokens["collector"], "red")
    case = ok(report(client, tokens["collector"], photos=[photo]), 201)["case"]
    # those who may not see it: not found, as when reading it
    for who in ("collector2", "collector3", "staff", "dispatcher2"):
        assert_error(_flag(client, tokens[who], photo), 404, "not_found")
    # its uploader, a dispatcher and an admin of the subdistrict may
    assert ok(_flag(client, tokens["collector"], photo))["personal"] is True
    assert ok(_flag(client, tokens["dispatcher"], photo, False))["personal"] is False
    assert ok(_flag(client, tokens["admin"], photo))["personal"] is True
    # the handling unit sees the photo once the case is theirs, but may not flag it
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
    assert _get(client, tokens["staff"], photo).status_code == 200
    assert_error(_flag(client, tokens["staff"], photo, False), 403, "forbidden", "personal")
    # the body is checked, with the field named
    for body in ({}, {"personal": "yes"}, {"personal": None}):
        response = client.patch(
            f"/api/v1/attachments/{photo}", json=body, headers=bearer(tokens["dispatcher"])
        )
        assert response.status_code == 422, body
        assert "personal" in response.get_data(as_text=True)
    assert_error(_flag(client, tokens["dispatcher"], "f" * 64), 404, "not_found")
    assert client.patch(f"/api/v1/attachments/{photo}", json={"personal": True}).status_code == 401


def test_a_dispatcher_flags_a_photo_on_the_case_page(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    photo = _upload(client, tokens["collector"], "red")
    case_id = _case(client, tokens["collector"], [photo])
    csrf = sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert f"/console/photos/{photo}/personal" in page and "标记为含人像" in page
    response = client.post(
        f"/console/photos/{photo}/personal",
        data={"personal": "1", "case_id": case_id, "csrf_token": csrf},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/console/cases/{case_id}#h-photos")
    shown = ok(client.get(f"/api/v1/cases/{case_id}", headers=bearer(tokens["dispatcher"])))
    assert shown["photos"][0]["personal"] is True
    assert "取消人像标记" in client.get(f"/console/cases/{case_id}").get_data(as_text=True)
    # without the form's token: refused, nothing changes
    client.post(f"/console/photos/{photo}/personal", data={"personal": "0", "case_id": case_id})
    shown = ok(client.get(f"/api/v1/cases/{case_id}", headers=bearer(tokens["dispatcher"])))
    assert shown["photos"][0]["personal"] is True
    # a collector who did not take it may not, even through the page
    csrf = sign_in(client, "collector2")
    response = client.post(
        f"/console/photos/{photo}/personal",
        data={"personal": "0", "case_id": case_id, "csrf_token": csrf},
    )
    assert response.status_code == 404


def _put(client: FlaskClient, token: str, colour: str) -> str:
    import hashlib

    data = _bytes(colour)
    sha = hashlib.sha256(data).hexdigest()
    response = client.put(f"/api/v1/sync/attachments/{sha}", data=data, headers=bearer(token))
    assert response.status_code == 201, response.get_data(as_text=True)
    return sha


def _raw(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": record_id, "_status": "created", "_changed": "", **fields}


def _pulled(body: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    changes = body["changes"][table]
    return {r["id"]: r for r in changes["created"] + changes["updated"]}


def test_every_record_listing_a_removed_photo_reaches_the_phones_again(
    app: Flask,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    make_phone: Any,
) -> None:
    """Logs, cases and on-site checks listing a removed photo are marked changed in the
    sweep's transaction (set-wise): the next pull of every phone in scope — the one that
    pushed them too — carries them without the hash; records not listing it stay put."""
    import json
    import time

    from server.services.people.users import assign_grids
    from server.services.uow import unit_of_work

    with app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector2", [world.grid_codes["A1"]])
    owner, colleague = make_phone("collector"), make_phone("collector2")
    collector = tokens["collector"]
    person, street = _put(client, collector, "red"), _put(client, collector, "blue")
    ok(_flag(client, collector, person))
    now = int(time.time() * 1000)
    spot = {"lon": A1[0], "lat": A1[1], "crs": "wgs84"}
    log = {"patrol_id": None, "grid_id": None, "category_id": None, "case_id": None}
    body = owner.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    logs = [
        _raw("log-person-1", **log, **spot, text="有人", photos=json.dumps([person, street])),
        _raw("log-person-2", **log, **spot, text="有人", photos=json.dumps([person])),
        _raw("log-street-1", **log, **spot, text="街景", photos=json.dumps([street])),
        _raw("log-none-001", **log, **spot, text="无图", photos="[]"),
    ]
    for raw in logs:
        raw["logged_at"] = now - 60_000
    case = _raw(
        "case-person-1",
        category_id=category,
        description="占道",
        photos=json.dumps([person, street]),
        reported_at=now - 120_000,
        collector_note=None,
        **spot,
    )
    assert ok(owner.push({"patrol_logs": _created(logs), "cases": _created([case])})) == {}
    # a handled case checked on site with the photo (a case action listing it)
    checked = ok(report(client, tokens["dispatcher"], description="井盖"), 201)["case"]
    d, s = tokens["dispatcher"], tokens["staff"]
    checked = ok(act(client, d, checked, "accept"))
    checked = ok(act(client, d, checked, "dispatch", unit_id=world.unit_id))
    checked = ok(act(client, s, checked, "acknowledge"))
    ok(act(client, s, checked, "report_done", result="已修"))
    owner.pull()
    action = _raw(
        "action-person-1",
        case_id=checked["id"],
        action="verify_ok",
        note="已修好",
        photos=json.dumps([person]),
        acted_at=now,
        outcome=None,
    )
    assert ok(owner.push({"case_actions": _created([action])})) == {}
    for phone in (owner, colleague):
        phone.pull()
    # before the sweep: nothing new for either phone
    for phone in (owner, colleague):
        quiet = phone.pull()["changes"]
        assert not any(quiet[t]["created"] or quiet[t]["updated"] for t in quiet), quiet
    _end(app, "case-person-1", 31)
    _end(app, checked["id"], 31)
    _age_uploads(app, 40)

    assert "person_photos_removed  1" in _apply(app)

    for phone in (owner, colleague):
        after = phone.pull()
        got_logs = _pulled(after, "patrol_logs")
        assert set(got_logs) == {"log-person-1", "log-person-2"}, phone.device_id
        assert json.loads(got_logs["log-person-1"]["photos"]) == [street]
        assert json.loads(got_logs["log-person-2"]["photos"]) == []
        got_cases = _pulled(after, "cases")
        assert set(got_cases) == {"case-person-1", checked["id"]}
        assert json.loads(got_cases["case-person-1"]["photos"]) == [street]
        assert json.loads(got_cases[checked["id"]]["photos"]) == []
        got_actions = _pulled(after, "case_actions")
        assert set(got_actions) == {"action-person-1"}
        assert json.loads(got_actions["action-person-1"]["photos"]) == []
        # once: the next pull is quiet again
        quiet = phone.pull()["changes"]
        assert not any(quiet[t]["created"] or quiet[t]["updated"] for t in quiet), quiet
    # the server's rows keep what was sent; only the pulls leave the removed hash out
    from server.extensions import db
    from server.models import PatrolLog

    with app.app_context():
        assert db.session.get(PatrolLog, "log-person-2").photos == [person]


def test_a_failed_sweep_marks_nothing_changed(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], make_phone: Any
) -> None:
    """The change-log touch is part of the removal's transaction: rolled back with it."""
    import json
    import time

    from server.services.files import photo_removal
    from server.services.uow import unit_of_work

    owner = make_phone("collector")
    person = _put(client, tokens["collector"], "red")
    spot = {"lon": A1[0], "lat": A1[1], "crs": "wgs84"}
    owner.pull()
    raw = _raw(
        "log-person-9",
        patrol_id=None,
        grid_id=None,
        category_id=None,
        case_id=None,
        text="有人",
        photos=json.dumps([person]),
        logged_at=int(time.time() * 1000) - 60_000,
        **spot,
    )
    assert ok(owner.push({"patrol_logs": _created([raw])})) == {}
    owner.pull()
    with app.app_context():
        try:
            with unit_of_work() as uow:
                photo_removal.remove(uow, [person])
                raise RuntimeError("the sweep failed")
        except RuntimeError:
            pass
    assert owner.pull()["changes"]["patrol_logs"]["updated"] == []
    # a savepoint rolled back forgets the set-wise touch it asked for; its transaction commits
    from sqlalchemy import select

    from server.models import PatrolLog
    from sync.tracking import touch_selected

    with app.app_context(), unit_of_work() as uow, pytest.raises(RuntimeError), uow.savepoint():
        touch_selected(uow.session, "patrol_logs", select(PatrolLog.id, PatrolLog.grid_id))
        raise RuntimeError("one record refused")
    assert owner.pull()["changes"]["patrol_logs"]["updated"] == []
    with app.app_context(), unit_of_work() as uow:
        photo_removal.remove(uow, [person])
    [again] = owner.pull()["changes"]["patrol_logs"]["updated"]
    assert again["id"] == "log-person-9" and json.loads(again["photos"]) == []


def _created(raws: list[dict[str, Any]]) -> dict[str, Any]:
    return {"created": raws, "updated": [], "deleted": []}


def _post_photo(client: FlaskClient, token: str, colour: str, **form: Any) -> Any:
    return client.post(
        "/api/v1/attachments",
        headers=bearer(token),
        data={"file": (io.BytesIO(_bytes(colour)), "p.jpg"), **form},
        content_type="multipart/form-data",
    )


def _stored(app: Flask, sha: str) -> Any:
    from server.extensions import db
    from server.models import Attachment

    with app.app_context():
        row = db.session.get(Attachment, sha)
        return None if row is None else bool(row.personal)


def test_the_uploader_says_a_photo_shows_people_when_uploading(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    import hashlib

    collector, colleague = tokens["collector"], tokens["collector2"]
    # multipart: the optional field `personal`
    flagged = ok(_post_photo(client, collector, "red", personal="true"), 201)
    assert flagged["personal"] is True
    plain = ok(_post_photo(client, collector, "blue"), 201)
    assert plain["personal"] is False
    assert ok(_post_photo(client, collector, "green", personal="0"), 201)["personal"] is False
    # a bad value: 400 naming the field, bilingual, nothing stored
    for bad in ("yes please", "2", "null"):
        response = _post_photo(client, collector, "white", personal=bad)
        body = assert_error(response, 400, "validation_error", "personal")
        assert "personal" in body["message"] and "personal" in body["message_zh"]
    assert _stored(app, hashlib.sha256(_bytes("white")).hexdigest()) is None
    # raw uploads (the field app's): ?personal=
    data = _bytes("yellow")
    sha = hashlib.sha256(data).hexdigest()
    bad = client.put(
        f"/api/v1/sync/attachments/{sha}?personal=maybe", data=data, headers=bearer(collector)
    )
    assert_error(bad, 400, "validation_error", "personal")
    assert _stored(app, sha) is None
    put = client.put(
        f"/api/v1/sync/attachments/{sha}?personal=1", data=data, headers=bearer(collector)
    )
    assert put.status_code == 201 and put.get_json()["personal"] is True
    other = _bytes("black")
    put = client.put(
        f"/api/v1/attachments/{hashlib.sha256(other).hexdigest()}?personal=true",
        data=other,
        headers=bearer(collector),
    )
    assert put.status_code == 201 and put.get_json()["personal"] is True
    # the same bytes again: its uploader's flag counts, someone else's does not
    assert ok(_post_photo(client, colleague, "blue", personal="1"))["personal"] is False
    assert ok(_post_photo(client, collector, "blue", personal="1"))["personal"] is True
    # an upload never clears the flag
    assert ok(_post_photo(client, collector, "blue", personal="false"))["personal"] is True
    assert _stored(app, plain["sha256"]) is True


def test_the_console_upload_form_flags_photos_showing_people(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    d, s = tokens["dispatcher"], tokens["staff"]
    case = ok(report(client, d, description="占道经营"), 201)["case"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    csrf = sign_in(client, "staff")
    page = client.get(f"/console/cases/{case['id']}").get_data(as_text=True)
    assert 'name="personal"' in page and "照片含有人物（个人信息）" in page
    # a forged value is refused, naming the field, and stores nothing
    refused = client.post(
        f"/console/cases/{case['id']}/actions/report_done",
        data={
            "version": str(case["version"]),
            "result": "已清理",
            "photos": (io.BytesIO(_bytes("purple")), "p.jpg"),
            "personal": "sometimes",
            "csrf_token": csrf,
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and "personal" in refused.get_data(as_text=True)
    import hashlib

    assert _stored(app, hashlib.sha256(_bytes("purple")).hexdigest()) is None
    done = client.post(
        f"/console/cases/{case['id']}/actions/report_done",
        data={
            "version": str(case["version"]),
            "result": "已清理",
            "photos": (io.BytesIO(_bytes("orange")), "p.jpg"),
            "personal": "1",
            "csrf_token": csrf,
        },
        content_type="multipart/form-data",
    )
    assert done.status_code in (302, 303), done.get_data(as_text=True)
    shown = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(d)))
    [photo] = [p for p in shown["photos"] if p["role"] == "result"]
    assert photo["personal"] is True
