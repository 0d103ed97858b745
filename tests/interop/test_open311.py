"""Open311 GeoReport v2 at /open311/v2: every endpoint in JSON and XML (XML validated against
schemas written from the spec), filters and caps, keys and their limits, no personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import georeport_xsd as xsd
import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, act, ok, report
from sqlalchemy import func, select, update

BASE = "/open311/v2"


def sd_code(app: Flask, sd_id: int) -> str:
    from server.extensions import db
    from server.models import Subdistrict

    with app.app_context():
        sd = db.session.get(Subdistrict, sd_id)
        assert sd is not None
        return sd.code


@pytest.fixture
def jid(app: Flask, world: World) -> str:
    return sd_code(app, world.subdistrict_id)


def issue_key(client: FlaskClient, token: str, per_hour: int = 60) -> str:
    body = ok(
        client.post(
            "/api/v1/open311/clients",
            json={"name": "随手拍 App", "requests_per_hour": per_hour},
            headers=bearer(token),
        ),
        201,
    )
    assert body["api_key"].startswith("mq311_")
    assert body["client"]["key_prefix"] == body["api_key"][:12]
    return str(body["api_key"])


def post_request(client: FlaskClient, fmt: str = "json", **form: Any) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def errors(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, list) and body[0]["code"] == status, body
    return str(body[0]["description"])


# ---------------------------------------------------------------------------------- reading


def test_discovery_json_and_xml(client: FlaskClient, world: World) -> None:
    body = ok(client.get(f"{BASE}/discovery.json"))
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    response = client.get(f"{BASE}/discovery.xml")
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = xsd.validate(xsd.DISCOVERY, response.data)
    assert root.findtext("endpoints/endpoint/url") == "http://localhost/open311/v2"


def test_services_need_the_jurisdiction_when_there_are_several(
    client: FlaskClient, world: World, jid: str
) -> None:
    assert "jurisdiction_id" in errors(client.get(f"{BASE}/services.json"), 400)
    assert "jurisdiction_id" in errors(
        client.get(f"{BASE}/services.json?jurisdiction_id=999999999"), 404
    )
    response = client.get(f"{BASE}/services.xml")
    xsd.validate(xsd.ERRORS, response.data)
    services = ok(client.get(f"{BASE}/services.json?jurisdiction_id={jid}"))
    assert services == [
        {
            "service_code": "sanitation",
            "service_name": "环境卫生",
            "description": "环境卫生 / Sanitation",
            "metadata": True,
            "type": "realtime",
            "keywords": "Sanitation",
            "group": "",
        }
    ]
    root = xsd.validate(xsd.SERVICES, client.get(f"{BASE}/services.xml?jurisdiction_id={jid}").data)
    assert [s.findtext("service_code") for s in root.iter("service")] == ["sanitation"]
    assert root.findtext("service/metadata") == "true"


def test_service_definition(client: FlaskClient, world: World, jid: str) -> None:
    body = ok(client.get(f"{BASE}/services/sanitation.json?jurisdiction_id={jid}"))
    assert body["service_code"] == "sanitation"
    (attribute,) = body["attributes"]
    assert attribute["code"] == "priority" and attribute["datatype"] == "singlevaluelist"
    assert [v["key"] for v in attribute["values"]] == ["low", "normal", "high", "urgent"]
    root = xsd.validate(
        xsd.SERVICE_DEFINITION,
        client.get(f"{BASE}/services/sanitation.xml?jurisdiction_id={jid}").data,
    )
    assert len(root.findall("attributes/attribute/values/value")) == 4
    errors(client.get(f"{BASE}/services/nope.json?jurisdiction_id={jid}"), 404)
    # an unknown format suffix is no route at all
    assert client.get(f"{BASE}/services/sanitation.yaml?jurisdiction_id={jid}").status_code == 404


def _life(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    """Three cases: open (dispatched), closed (rejected), and one with a phone in its text."""
    dispatcher = tokens["dispatcher"]
    first = ok(report(client, tokens["collector"], description="路灯不亮"), 201)["case"]
    first = ok(act(client, dispatcher, first, "accept"))
    first = ok(act(client, dispatcher, first, "dispatch", unit_id=world.unit_id))
    second = ok(report(client, tokens["collector"], description="重复上报"), 201)["case"]
    second = ok(act(client, dispatcher, second, "reject", reason="不属实"))
    third = ok(
        report(
            client,
            dispatcher,
            description="井盖缺失，联系人电话 13812345678，邮箱 a.b@example.com",
            reporter_name="王小明",
            reporter_phone="13912345678",
            address="文昌路 18 号",
        ),
        201,
    )["case"]
    return {"open": first, "closed": second, "phone": third}


def test_requests_map_status_and_hide_personal_data(
    client: FlaskClient, world: World, tokens: dict[str, str], jid: str
) -> None:
    cases = _life(client, tokens, world)
    body = ok(client.get(f"{BASE}/requests.json?jurisdiction_id={jid}"))
    by_id = {r["service_request_id"]: r for r in body}
    assert set(by_id) == {c["number"] for c in cases.values()}
    opened = by_id[cases["open"]["number"]]
    assert opened["status"] == "open"
    assert opened["agency_responsible"] == "城管中队"
    assert opened["status_notes"].startswith("已交由办理单位处理 / ")
    assert opened["expected_datetime"].endswith("+08:00")
    assert datetime.fromisoformat(opened["expected_datetime"]) == datetime.fromisoformat(
        cases["open"]["deadline_at"]
    ).replace(microsecond=0)
    assert opened["lat"] == pytest.approx(A1[1]) and opened["long"] == pytest.approx(A1[0])
    assert "extended_attributes" not in opened
    closed = by_id[cases["closed"]["number"]]
    assert closed["status"] == "closed" and "不予立案" in closed["status_notes"]
    assert closed["agency_responsible"] == ""
    phone = by_id[cases["phone"]["number"]]
    text = str(body)
    for personal in ("13812345678", "13912345678", "王小明", "a.b@example.com"):
        assert personal not in text
    assert phone["description"] == "井盖缺失，联系人电话 [phone]，邮箱 [email]"
    assert phone["address"] == "文昌路 18 号"
    # XML, with the same content
    response = client.get(f"{BASE}/requests.xml?jurisdiction_id={jid}&extensions=true")
    root = xsd.validate(xsd.REQUESTS, response.data)
    assert {r.findtext("service_request_id") for r in root.iter("request")} == set(by_id)
    assert "13912345678" not in response.get_data(as_text=True)
    # status filter, both ways
    only_closed = ok(client.get(f"{BASE}/requests.json?jurisdiction_id={jid}&status=closed"))
    assert [r["service_request_id"] for r in only_closed] == [cases["closed"]["number"]]
    both = ok(client.get(f"{BASE}/requests.json?jurisdiction_id={jid}&status=open,closed"))
    assert len(both) == 3
    errors(client.get(f"{BASE}/requests.json?jurisdiction_id={jid}&status=pending"), 400)
    # the other subdistrict sees none of them
    other = sd_code(client.application, world.other_subdistrict_id)
    assert ok(client.get(f"{BASE}/requests.json?jurisdiction_id={other}")) == []


def test_one_request_with_extensions(
    client: FlaskClient, world: World, tokens: dict[str, str], jid: str
) -> None:
    cases = _life(client, tokens, world)
    number = cases["open"]["number"]
    (body,) = ok(client.get(f"{BASE}/requests/{number}.json?jurisdiction_id={jid}&extensions=true"))
    ext = body["extended_attributes"]
    assert ext["status"] == "dispatched" and ext["stage"] == "handle" and ext["stage_zh"] == "办理"
    assert ext["rework_count"] == 0 and ext["grid_code"] == world.grid_codes["A1"]
    root = xsd.validate(
        xsd.REQUESTS, client.get(f"{BASE}/requests/{number}.xml?jurisdiction_id={jid}").data
    )
    assert root.findtext("request/status") == "open"
    errors(client.get(f"{BASE}/requests/QJ-00000000-0000.json?jurisdiction_id={jid}"), 404)
    other = sd_code(client.application, world.other_subdistrict_id)
    errors(client.get(f"{BASE}/requests/{number}.json?jurisdiction_id={other}"), 404)


def test_filters_window_caps_and_pages(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], jid: str
) -> None:
    from server.extensions import db
    from server.models import Case

    cases = _life(client, tokens, world)
    old = cases["closed"]["id"]
    with app.app_context():  # reported 120 days ago: outside the default window
        db.session.execute(
            update(Case)
            .where(Case.id == old)
            .values(reported_at=datetime.now(UTC) - timedelta(days=120))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    url = f"{BASE}/requests.json?jurisdiction_id={jid}"
    assert len(ok(client.get(url))) == 2
    # ids override every other filter, the window included
    ids = f"{cases['closed']['number']},{cases['open']['number']}"
    got = ok(client.get(f"{url}&service_request_id={ids}&status=open"))
    assert {r["service_request_id"] for r in got} == set(ids.split(","))
    start = (datetime.now(UTC) - timedelta(days=130)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime.now(UTC) - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = ok(client.get(f"{url}&start_date={start}&end_date={end}"))
    assert [r["service_request_id"] for r in got] == [cases["closed"]["number"]]
    got = ok(client.get(f"{url}&start_date={start}"))  # start + 90 days
    assert [r["service_request_id"] for r in got] == [cases["closed"]["number"]]
    too_long = (datetime.now(UTC) - timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "90" in errors(client.get(f"{url}&start_date={too_long}&end_date={now}"), 400)
    errors(client.get(f"{url}&start_date={end}&end_date={start}"), 400)
    errors(client.get(f"{url}&start_date=yesterday"), 400)
    assert ok(client.get(f"{url}&service_code=sanitation")) and not ok(
        client.get(f"{url}&service_code=nope")
    )
    # pagination extension: newest first, page_size ≤ 1000
    first = ok(client.get(f"{url}&page_size=1"))
    second = ok(client.get(f"{url}&page_size=1&page=2"))
    assert first[0]["service_request_id"] == cases["phone"]["number"]
    assert second[0]["service_request_id"] == cases["open"]["number"]
    assert ok(client.get(f"{url}&page_size=1&page=3")) == []
    errors(client.get(f"{url}&page_size=1001"), 400)


# ---------------------------------------------------------------------------------- filing


def test_post_request_with_a_key_resolves_by_token(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], jid: str
) -> None:
    from server.extensions import db
    from server.models import Case, CaseEvent, Open311Request

    key = issue_key(client, tokens["admin"])
    response = post_request(
        client,
        "xml",
        api_key=key,
        jurisdiction_id=jid,
        service_code="sanitation",
        lat=str(A1[1]),
        long=str(A1[0]),
        address_string="文昌路 20 号",
        description="垃圾堆放，请联系 13700001111",
        first_name="李",
        last_name="雷",
        phone="13700001111",
        email="li@example.com",
        media_url="https://img.example.com/p/1.jpg",
        **{"attribute[priority]": "high"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    root = xsd.validate(xsd.CREATED, response.data)
    number, token = root.findtext("request/service_request_id"), root.findtext("request/token")
    assert number and token
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.number == number))
        assert case is not None
        assert case.source == "resident" and case.reporter_role == "resident"
        assert case.channel == "open311"  # the road it came by, beside who raised it
        assert case.priority == "high" and case.reporter_name == "李 雷"
        assert case.reporter_phone == "13700001111" and case.address == "文昌路 20 号"
        event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id))
        assert event is not None and event.payload["channel"] == "open311"
        filed = db.session.get(Open311Request, token)
        assert filed is not None and filed.case_id == case.id
    # the token resolves to the id, in both formats
    assert ok(client.get(f"{BASE}/tokens/{token}.json")) == [
        {"service_request_id": number, "token": token}
    ]
    root = xsd.validate(xsd.CREATED, client.get(f"{BASE}/tokens/{token}.xml").data)
    assert root.findtext("request/service_request_id") == number
    errors(client.get(f"{BASE}/tokens/unknown-token.json"), 404)
    # and the request reads back without the personal data, with its media_url
    (body,) = ok(client.get(f"{BASE}/requests/{number}.json?jurisdiction_id={jid}"))
    assert body["status"] == "open" and body["media_url"] == "https://img.example.com/p/1.jpg"
    assert body["description"] == "垃圾堆放，请联系 [phone]"
    assert "13700001111" not in str(body) and "李" not in str(body)
    # the dispatcher sees it in the queue like any resident's report, with its channel
    queue = ok(client.get("/api/v1/cases?source=resident", headers=bearer(tokens["dispatcher"])))
    assert [(c["number"], c["channel"]) for c in queue["items"]] == [(number, "open311")]


def test_post_refusals(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], jid: str
) -> None:
    from server.extensions import db
    from server.models import Case

    key = issue_key(client, tokens["admin"])
    base = {"api_key": key, "jurisdiction_id": jid, "service_code": "sanitation"}
    at = {"lat": str(A1[1]), "long": str(A1[0])}
    assert "api_key" in errors(post_request(client, **{**base, "api_key": "", **at}), 403)
    assert "api_key" in errors(post_request(client, **{**base, "api_key": "mq311_x", **at}), 403)
    response = post_request(client, "xml", **{**base, "api_key": "nope", **at})
    assert response.status_code == 403
    xsd.validate(xsd.ERRORS, response.data)
    # neither a point nor an address: the spec's error list names the field and says why
    # (an address alone is filed, unlocated: tests/interop/test_unlocated.py)
    described = errors(post_request(client, **base), 400)
    assert described.startswith("location_required [lat]:") and "address_string" in described
    as_xml = post_request(client, "xml", **base, address_string="  ")
    assert as_xml.status_code == 400
    xsd.validate(xsd.ERRORS, as_xml.data)
    assert "location_required [long]" in errors(post_request(client, **base, lat=str(A1[1])), 400)
    half = post_request(client, **base, lat=str(A1[1]), address_string="文昌路 20 号")
    assert "location_required [long]" in errors(half, 400)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
    errors(post_request(client, **{**base, "service_code": "nope", **at}), 404)
    errors(post_request(client, **{**base, "lat": "north", "long": str(A1[0])}), 400)
    errors(post_request(client, **{**base, "lat": "95", "long": str(A1[0])}), 400)
    assert "outside" in errors(post_request(client, **base, lat="40.0", long="116.4"), 400)
    errors(post_request(client, **base, **at, media_url="file:///etc/passwd"), 400)
    errors(post_request(client, **base, **at, phone="call me"), 400)
    errors(post_request(client, **base, **at, **{"attribute[priority]": "asap"}), 400)
    other = sd_code(app, world.other_subdistrict_id)  # this admin's key is for SD only
    errors(post_request(client, **{**base, "jurisdiction_id": other}, **at), 403)
    with app.app_context():
        assert db.session.scalar(select(Case.id)) is None  # nothing half-written


def test_each_client_has_its_own_hourly_budget_and_can_be_revoked(
    client: FlaskClient, world: World, tokens: dict[str, str], jid: str
) -> None:
    slow = issue_key(client, tokens["admin"], per_hour=2)
    other = issue_key(client, tokens["admin"], per_hour=5)
    form = {"jurisdiction_id": jid, "service_code": "sanitation", "lat": str(A1[1])}
    form["long"] = str(A1[0])
    assert post_request(client, api_key=slow, **form).status_code == 201
    assert post_request(client, api_key=slow, **form).status_code == 201
    refused = post_request(client, api_key=slow, **form)
    errors(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert post_request(client, api_key=other, **form).status_code == 201
    listed = ok(client.get("/api/v1/open311/clients", headers=bearer(tokens["admin"])))
    assert [(c["requests_per_hour"], c["requests_filed"]) for c in listed["items"]] == [
        (2, 2),
        (5, 1),
    ]
    other_id = listed["items"][1]["id"]
    # admins only, and only their subdistrict's clients
    assert (
        client.get("/api/v1/open311/clients", headers=bearer(tokens["dispatcher"])).status_code
        == 403
    )
    assert (
        client.delete(
            f"/api/v1/open311/clients/{other_id}", headers=bearer(tokens["collector"])
        ).status_code
        == 403
    )
    assert ok(client.get("/api/v1/open311/clients", headers=bearer(tokens["cityadmin"])))["items"]
    revoked = ok(
        client.delete(f"/api/v1/open311/clients/{other_id}", headers=bearer(tokens["admin"]))
    )
    assert revoked["active"] is False and revoked["revoked_at"]
    too_big = client.delete(
        f"/api/v1/open311/clients/{2**31}", headers=bearer(tokens["admin"])
    )  # past a 32-bit id: not found, never a 500 (schemathesis found it on PostGIS)
    assert too_big.status_code == 404
    errors(post_request(client, api_key=other, **form), 403)
    # the budget can be changed: the slow client gets room again at once
    slow_id = listed["items"][0]["id"]
    raised = client.patch(
        f"/api/v1/open311/clients/{slow_id}",
        json={"requests_per_hour": 3},
        headers=bearer(tokens["admin"]),
    )
    assert ok(raised)["requests_per_hour"] == 3
    assert post_request(client, api_key=slow, **form).status_code == 201
    errors(post_request(client, api_key=slow, **form), 429)
    bad = client.patch(
        f"/api/v1/open311/clients/{slow_id}",
        json={"requests_per_hour": 0},
        headers=bearer(tokens["admin"]),
    )
    assert bad.status_code == 422
    assert (
        client.patch(
            f"/api/v1/open311/clients/{slow_id}",
            json={"requests_per_hour": 9},
            headers=bearer(tokens["dispatcher"]),
        ).status_code
        == 403
    )
