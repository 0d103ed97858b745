"""Residents told by SMS: the case loop, through the API, against a stand-in of Aliyun's SMS
endpoint on loopback that checks the request format and the signature as Aliyun does. The
resident who gave a phone gets exactly three messages (accepted, handled, awaiting rating),
each with the link to their case page; nobody else gets any."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from conftest import World, bearer
from flask import Flask
from helpers import A1, act, ok

SECRET = "stand-in-secret"
REQUIRED = (
    "AccessKeyId",
    "Action",
    "Format",
    "PhoneNumbers",
    "RegionId",
    "SignName",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "TemplateCode",
    "TemplateParam",
    "Timestamp",
    "Version",
    "Signature",
)


def _expected_signature(params: dict[str, str]) -> str:
    """Aliyun's documented algorithm, written again here (not our module's code)."""

    def enc(s: str) -> str:
        return quote(s, safe="~").replace("+", "%20").replace("*", "%2A")

    canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
    to_sign = "GET&%2F&" + enc(canonical)
    mac = hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class StandIn(BaseHTTPRequestHandler):
    received: list[dict[str, str]]
    refused: list[str]

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        problem = None
        if url.path != "/":
            problem = "path"
        elif missing := [k for k in REQUIRED if k not in params]:
            problem = f"missing {missing}"
        elif params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
            problem = "action/version"
        elif params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            problem = "signature method"
        elif not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", params["Timestamp"]):
            problem = "timestamp"
        else:
            signature = params.pop("Signature")
            if signature != _expected_signature(params):
                problem = "SignatureDoesNotMatch"
        if problem:
            self.refused.append(problem)
            body = {"Code": "SignatureDoesNotMatch", "Message": problem}
        else:
            self.received.append(params)
            body = {"Code": "OK", "Message": "OK", "BizId": f"biz{len(self.received)}"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[Any]:
    handler = type("Handler", (StandIn,), {"received": [], "refused": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.handler = handler  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sms_to_stand_in(app: Flask, stand_in: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    host, port = stand_in.server_address
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://minqing.example.cn")
    monkeypatch.setitem(
        app.config,
        "SMS",
        {
            "provider": "aliyun",
            "endpoint": f"http://{host}:{port}/",
            "access_key_id": "stand-in-id",
            "access_key_secret": SECRET,
            "sign_name": "民情测试",
            "region": "cn-hangzhou",
            "templates": {
                "accepted": "SMS_ACCEPTED",
                "handled": "SMS_HANDLED",
                "awaiting_rating": "SMS_RATE",
            },
        },
    )
    return stand_in.handler


def test_a_resident_gets_three_messages_with_the_link(
    app: Flask, client: Any, tokens: dict[str, str], world: World, sms_to_stand_in: Any
) -> None:
    body = {
        "category": "sanitation",
        "description": "楼下垃圾堆积",
        "lon": A1[0],
        "lat": A1[1],
        "reporter_phone": "13912345678",
    }
    case = ok(client.post("/api/v1/cases", json=body), 201)["case"]
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    case = ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, tokens["staff"], case, "acknowledge"))
    case = ok(act(client, tokens["staff"], case, "report_done", result="已清运"))
    case = ok(act(client, tokens["dispatcher"], case, "verify_ok"))
    assert case["status"] == "awaiting_rating"

    assert sms_to_stand_in.refused == []
    got = sms_to_stand_in.received
    assert [m["TemplateCode"] for m in got] == ["SMS_ACCEPTED", "SMS_HANDLED", "SMS_RATE"]
    with app.app_context():
        from server.extensions import db
        from server.models import Case

        token = db.session.get(Case, case["id"]).public_token  # type: ignore[union-attr]
        db.session.remove()
    for message in got:
        assert message["PhoneNumbers"] == "13912345678"
        assert message["SignName"] == "民情测试"
        params = json.loads(message["TemplateParam"])
        assert params == {
            "number": case["number"],
            "link": f"https://minqing.example.cn/r/{token}",
        }


def test_no_phone_no_message_and_a_wrong_key_is_refused_without_undoing(
    app: Flask, client: Any, tokens: dict[str, str], world: World, sms_to_stand_in: Any
) -> None:
    collector_case = ok(
        client.post(
            "/api/v1/cases",
            json={"category": "sanitation", "description": "巡查发现", "lon": A1[0], "lat": A1[1]},
            headers=bearer(tokens["collector"]),
        ),
        201,
    )["case"]
    ok(act(client, tokens["dispatcher"], collector_case, "accept"))
    assert sms_to_stand_in.received == [] and sms_to_stand_in.refused == []

    app.config["SMS"] = {**app.config["SMS"], "access_key_secret": "wrong"}
    resident = ok(
        client.post(
            "/api/v1/cases",
            json={
                "category": "sanitation",
                "description": "路灯不亮",
                "lon": A1[0],
                "lat": A1[1],
                "reporter_phone": "13912345678",
            },
        ),
        201,
    )["case"]
    accepted = ok(act(client, tokens["dispatcher"], resident, "accept"))
    assert accepted["status"] == "accepted"  # the refused message undid nothing
    assert sms_to_stand_in.refused == ["SignatureDoesNotMatch"]
    assert sms_to_stand_in.received == []


def _resident_case(client: Any, consent: bool) -> dict[str, Any]:
    body = {
        "category": "sanitation",
        "description": "井盖缺失",
        "lon": A1[0],
        "lat": A1[1],
        "reporter_phone": "13912345678",
        "phone_consent": consent,
    }
    return ok(client.post("/api/v1/cases", json=body), 201)["case"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("consent", [False, True])
def test_the_handling_unit_sees_the_phone_only_with_consent(
    client: Any, tokens: dict[str, str], world: World, consent: bool
) -> None:
    case = _resident_case(client, consent)
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    case = ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
    as_staff = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["staff"])))
    reporter = as_staff["reporter"]
    assert reporter["phone_consent"] is consent
    assert reporter["phone"] == ("13912345678" if consent else "139****5678")
    # dispatchers always see it; a collector of the grid never in full
    as_dispatcher = ok(
        client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["dispatcher"]))
    )
    assert as_dispatcher["reporter"]["phone"] == "13912345678"
    as_collector = ok(
        client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["collector"]))
    )
    assert as_collector["reporter"]["phone"] == "139****5678"


def test_lookup_by_number_and_last_four_digits_is_rate_limited(
    app: Flask, client: Any, world: World
) -> None:
    from server.errors import DomainError
    from server.services.caseloop import residents
    from server.services.uow import unit_of_work

    case = _resident_case(client, False)
    with app.app_context():
        token = residents.lookup(case["number"].lower(), "5678")
        for wrong in ((case["number"], "1234"), ("QJ-19990101-0001", "5678"), (case["number"], "")):
            with pytest.raises(DomainError) as exc:
                residents.lookup(*wrong)
            assert exc.value.code == "not_found"
        limit = app.config["CASE_LOOKUPS_PER_HOUR"]
        for _ in range(limit):
            with unit_of_work() as uow:
                residents.count_lookup(uow, "203.0.113.9")
        with pytest.raises(DomainError) as exc, unit_of_work() as uow:
            residents.count_lookup(uow, "203.0.113.9")
        assert exc.value.code == "too_many_requests" and exc.value.status == 429
        with unit_of_work() as uow:  # another address is not affected
            residents.count_lookup(uow, "198.51.100.7")
    assert len(token) > 20
