"""Open311 GeoReport v2 at /open311/v2: JSON or XML by the format suffix, the spec's errors.

A plain Flask blueprint (the spec's XML and error lists are not our API's shapes); the rules
and queries live in `server.services.interop.open311`.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from server.domain import open311 as rules
from server.errors import DomainError
from server.models.base import utcnow
from server.services.caseloop.case_deadlines import local_zone
from server.services.interop import open311
from server.services.uow import unit_of_work

blp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FMT = "<any(json,xml):fmt>"
# Element names of the repeated items inside each XML list.
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


# ---------------------------------------------------------------------------------- rendering


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), inner)
    elif isinstance(value, list):
        item = XML_ITEMS.get(element.tag, "item")
        for inner in value:
            _fill(ET.SubElement(element, item), inner)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8")


def answer(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """`value` as JSON, or as XML under `root` (lists become repeated items)."""
    if fmt == "xml":
        response = Response(to_xml(root, value), status=status, mimetype="text/xml")
        response.charset = "utf-8"
    else:
        response = jsonify(value)
        response.status_code = status
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _fmt() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in ("json", "xml"):
        return str(fmt)
    return "xml" if request.path.endswith(".xml") else "json"


def _errors(status: int, description: str, headers: Mapping[str, str] | None = None) -> Response:
    response = answer(_fmt(), "errors", [{"code": status, "description": description}], status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    # The spec knows 400, 403, 404 (and a client may see 429); our 422 is its 400.
    status = 400 if error.status == 422 else error.status
    field = f" [{error.field}]" if error.field else ""
    return _errors(
        status, f"{error.code}{field}: {error.message} / {error.message_zh}", error.headers
    )


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return _errors(error.code or 500, f"{error.name}: {error.description}")


# ---------------------------------------------------------------------------------- arguments


def _bad(field: str, message: str, message_zh: str) -> DomainError:
    return DomainError("bad_request", f"{field}: {message}", f"{field}：{message_zh}", field=field)


def _list(name: str) -> list[str] | None:
    raw = request.values.get(name)
    if raw is None or not raw.strip():
        return None
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if len(items) > rules.MAX_ROWS or any(len(i) > 64 for i in items):
        raise _bad(name, "too many or too long values", "取值过多或过长")
    return items


def _moment(name: str) -> datetime | None:
    raw = request.values.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError as exc:
        raise _bad(name, "a W3C datetime, e.g. 2026-12-01T00:00:00Z", "须为 W3C 日期时间") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    if not 2000 <= value.year <= 2100:
        raise _bad(name, "outside 2000–2100", "超出 2000–2100 年范围")
    return value


def _integer(name: str, default: int, low: int, high: int) -> int:
    raw = request.values.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _bad(name, f"an integer in {low}–{high}", f"须为 {low}–{high} 的整数")
    return int(raw)


def _number(name: str, low: float, high: float) -> float | None:
    raw = request.values.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise _bad(name, "a number", "须为数字") from exc
    if not math.isfinite(value) or not low <= value <= high:
        raise _bad(name, f"between {low} and {high}", f"须在 {low} 与 {high} 之间")
    return value


def _string(name: str, longest: int) -> str | None:
    raw = request.values.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > longest or "\x00" in raw:
        raise _bad(name, f"at most {longest} characters", f"不超过 {longest} 个字符")
    return raw.strip()


def _flag(name: str) -> bool:
    return (request.values.get(name) or "").lower() in ("true", "1", "yes")


def _jurisdiction() -> Any:
    return open311.jurisdiction(_string("jurisdiction_id", 16))


# ---------------------------------------------------------------------------------- endpoints


@blp.get(f"/discovery.{FMT}")
def discovery(fmt: str) -> Response:
    """Where the endpoint is and what it speaks."""
    base = request.host_url.rstrip("/") + blp.url_prefix
    changeset = "2026-12-03T00:00:00+08:00"
    return answer(
        fmt,
        "discovery",
        {
            "changeset": changeset,
            "contact": "",
            "key_service": "api_key：向街道管理员申请 / ask the subdistrict's admin for an api_key",
            "endpoints": [
                {
                    "specification": rules.SPECIFICATION,
                    "url": base,
                    "changeset": changeset,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@blp.get(f"/services.{FMT}")
def services(fmt: str) -> Response:
    """Our categories as services."""
    _jurisdiction()
    return answer(fmt, "services", open311.service_list())


@blp.get(f"/services/<string:code>.{FMT}")
def service_definition(code: str, fmt: str) -> Response:
    """The attributes a service takes."""
    _jurisdiction()
    return answer(fmt, "service_definition", open311.service_definition(code))


@blp.get(f"/requests.{FMT}")
def list_requests(fmt: str) -> Response:
    """Service requests: by ids, or by service, status and a ≤ 90-day window."""
    sd = _jurisdiction()
    statuses = _list("status")
    if statuses and any(s not in ("open", "closed") for s in statuses):
        raise _bad("status", "open or closed", "须为 open 或 closed")
    query = open311.RequestQuery(
        service_request_ids=_list("service_request_id"),
        service_codes=_list("service_code"),
        start_date=_moment("start_date"),
        end_date=_moment("end_date"),
        statuses=statuses,
        page=_integer("page", 1, 1, 100_000),
        page_size=_integer("page_size", rules.MAX_ROWS, 1, rules.MAX_ROWS),
        extensions=_flag("extensions"),
    )
    return answer(fmt, "service_requests", open311.find_requests(sd, query, utcnow()))


@blp.post(f"/requests.{FMT}")
def create_request(fmt: str) -> Response:
    """File a service request with an api_key (form-encoded, as the spec says)."""
    with unit_of_work() as uow:  # the client's budget counts even if the request is refused
        client = open311.client_for_key(uow, request.values.get("api_key"))
    sd = _jurisdiction()
    code = _string("service_code", 32)
    if code is None:
        raise _bad("service_code", "required", "必填")
    submission = open311.Submission(
        service_code=code,
        lat=_number("lat", -90, 90),
        long=_number("long", -180, 180),
        address_string=_string("address_string", 200),
        description=_string("description", 4000),
        media_url=_string("media_url", 1000),
        first_name=_string("first_name", 50),
        last_name=_string("last_name", 50),
        phone=_string("phone", 32),
        priority=_string("attribute[priority]", 16),
    )
    with unit_of_work() as uow:
        filed = open311.submit(uow, client, sd, submission)
    return answer(fmt, "service_requests", [filed], 201)


@blp.get(f"/requests/<string:request_id>.{FMT}")
def get_request(request_id: str, fmt: str) -> Response:
    """One service request (as a list of one, as the spec has it)."""
    sd = _jurisdiction()
    return answer(
        fmt, "service_requests", [open311.find_request(sd, request_id, _flag("extensions"))]
    )


@blp.get(f"/tokens/<string:token>.{FMT}")
def get_token(token: str, fmt: str) -> Response:
    """The service_request_id a POST's token stands for."""
    return answer(fmt, "service_requests", [open311.resolve_token(token)])
