"""An independent Open311 client from PyPI (`georeport` 0.3.1, not our code) against a real
server: it reads services, definitions and requests in JSON and in XML (parsed by its own
xmltodict), and the XML on the wire matches the spec's schemas. The client has no POST, so
the request is filed with plain `requests`, form-encoded as the spec says."""

from __future__ import annotations

from typing import Any

import georeport_xsd as xsd
import requests
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from georeport import GeoReport
from helpers import A1, ok


def test_georeport_client_reads_what_it_filed(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], live_server: Any
) -> None:
    from server.extensions import db
    from server.models import Subdistrict

    with app.app_context():
        sd = db.session.get(Subdistrict, world.subdistrict_id)
        assert sd is not None
        jid = sd.code
    issued = ok(
        client.post(
            "/api/v1/open311/clients", json={"name": "civic app"}, headers=bearer(tokens["admin"])
        ),
        201,
    )
    root = f"{live_server.url}/open311/v2"
    as_json = GeoReport(root, jurisdiction=jid, api_key=issued["api_key"])
    as_xml = GeoReport(root, jurisdiction=jid, api_key=issued["api_key"], output_format="xml")

    services = as_json.get_service_list()
    assert [s["service_code"] for s in services] == ["sanitation"]
    xml_service = as_xml.get_service_list()  # one service: xmltodict gives the element itself
    assert xml_service["service_code"] == "sanitation" and xml_service["metadata"] == "true"
    definition = as_json.get_service_definition("sanitation")
    assert definition["attributes"][0]["code"] == "priority"
    assert as_xml.get_service_definition("sanitation")["attributes"]["attribute"]["code"] == (
        "priority"
    )

    filed = requests.post(
        f"{root}/requests.json",
        data={
            "api_key": as_json.api_key,
            "jurisdiction_id": jid,
            "service_code": "sanitation",
            "lat": A1[1],
            "long": A1[0],
            "description": "绿化带垃圾",
            "attribute[priority]": "urgent",
        },
        timeout=30,
    )
    assert filed.status_code == 201, filed.text
    (answer,) = filed.json()
    number, token = answer["service_request_id"], answer["token"]

    one = as_json.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    assert one["description"] == "绿化带垃圾" and one["service_code"] == "sanitation"
    one_xml = as_xml.get_service_request(number)
    assert one_xml["service_request_id"] == number
    assert float(one_xml["lat"]) == one["lat"] and one_xml["status_notes"] == one["status_notes"]
    listed = as_json.get_service_requests(status="open", service_code="sanitation")
    assert [r["service_request_id"] for r in listed] == [number]
    assert as_json.get_service_requests(status="closed") == []
    assert as_xml.get_service_requests(service_request_id=number)["service_request_id"] == number

    # the XML on the wire, validated against the spec's shapes
    params = {"jurisdiction_id": jid}
    for path, schema in (
        ("discovery.xml", xsd.DISCOVERY),
        ("services.xml", xsd.SERVICES),
        ("services/sanitation.xml", xsd.SERVICE_DEFINITION),
        ("requests.xml", xsd.REQUESTS),
        (f"requests/{number}.xml", xsd.REQUESTS),
        (f"tokens/{token}.xml", xsd.CREATED),
        ("requests/NOPE-1.xml", xsd.ERRORS),
    ):
        response = requests.get(f"{root}/{path}", params=params, timeout=30)
        assert response.headers["Content-Type"].startswith("text/xml"), path
        xsd.validate(schema, response.content)
