"""Open311 GeoReport v2: the use cases behind `/open311/v2` and the admin's client keys.

Requests are our cases, seen from outside: `service_request_id` is the case number, the
service is the category, the jurisdiction the subdistrict. What leaves is public data only —
no reporter name, phone or e-mail, free text redacted (`server.domain.open311.redact`).
New requests go through the same report use case as the API (`cases.report_case`), as a
resident's report that came by the `open311` channel.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from server.domain import open311 as rules
from server.domain.cases import STAGE_ZH, STATUS_ZH, Status, stage_of
from server.domain.deadlines import PRIORITIES
from server.domain.roles import Role
from server.errors import DomainError, Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import Case, Category, Grid, Open311Client, Open311Request, Subdistrict
from server.services.caseloop.case_deadlines import local_zone
from server.services.caseloop.cases import ReportInput, report_case
from server.services.people import ratelimit
from server.services.people.principal import Principal
from server.services.territory.geocoding import GeocodeSession
from server.services.territory.locate import locate
from server.services.uow import UnitOfWork

KEY_PREFIX = "mq311_"
PRIORITY_ZH = {"low": "低", "normal": "一般", "high": "高", "urgent": "紧急"}
CLIENT_WINDOW = ratelimit.HOUR
MAX_PER_HOUR = 100_000
NOTICE = "已登记，可凭编号或 token 查询进度 / Registered; follow it by id or token"
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


# ---------------------------------------------------------------------------------- reading


def w3c(moment: datetime | None) -> str | None:
    """A W3C datetime in the deployment's local time, e.g. 2026-12-03T09:30:00+08:00."""
    if moment is None:
        return None
    return moment.astimezone(local_zone()).isoformat(timespec="seconds")


def jurisdiction(jurisdiction_id: str | None) -> Subdistrict:
    """The subdistrict a request addresses: by its code, or the only one there is."""
    if jurisdiction_id:
        found = db.session.scalar(select(Subdistrict).where(Subdistrict.code == jurisdiction_id))
        if found is None:
            raise NotFound("jurisdiction_id", "辖区 jurisdiction_id", field="jurisdiction_id")
        return found
    subdistricts = db.session.scalars(select(Subdistrict).limit(2)).all()
    if len(subdistricts) == 1:
        return subdistricts[0]
    raise DomainError(
        "jurisdiction_required",
        "jurisdiction_id is required: this endpoint serves several subdistricts",
        "本接口服务多个街道，须提供 jurisdiction_id（街道代码）",
        field="jurisdiction_id",
    )


def service_list() -> list[dict[str, Any]]:
    """Our active categories as Open311 services, each with a service definition."""
    categories = db.session.scalars(
        select(Category)
        .where(Category.active.is_(True))
        .order_by(Category.sort_order, Category.code)
    ).all()
    return [
        {
            "service_code": c.code,
            "service_name": c.name_zh,
            "description": f"{c.name_zh} / {c.name_en}",
            "metadata": True,
            "type": "realtime",
            "keywords": c.name_en,
            "group": "",
        }
        for c in categories
    ]


def service_definition(code: str) -> dict[str, Any]:
    """The attributes a service takes: an optional priority (default: the category's)."""
    category = _category(code)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": "priority",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "",
                "order": 1,
                "description": f"优先级 Priority (默认 default: {category.default_priority})",
                "values": [{"key": p, "name": f"{PRIORITY_ZH[p]} {p}"} for p in PRIORITIES],
            }
        ],
    }


def _category(code: str) -> Category:
    category = db.session.scalar(
        select(Category).where(Category.code == code, Category.active.is_(True))
    )
    if category is None:
        raise NotFound("service_code", "服务代码 service_code", field="service_code")
    return category


@dataclass
class RequestQuery:
    service_request_ids: list[str] | None = None
    service_codes: list[str] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    statuses: list[str] | None = None  # open, closed
    page: int = 1
    page_size: int = rules.MAX_ROWS
    extensions: bool = False


def _case_query(sd: Subdistrict) -> Any:
    return (
        select(Case, Open311Request.media_url)
        .outerjoin(Open311Request, Open311Request.case_id == Case.id)
        .where(Case.subdistrict_id == sd.id)
        .options(
            selectinload(Case.category),
            selectinload(Case.unit),
            selectinload(Case.grid).load_only(Grid.id, Grid.code),
        )
    )


def find_requests(sd: Subdistrict, query: RequestQuery, now: datetime) -> list[dict[str, Any]]:
    """GET requests: by ids (which overrides every other filter), else by service, status
    and a window of at most 90 days (default: the last 90), newest first, ≤ 1000 a page."""
    stmt = _case_query(sd)
    if query.service_request_ids:
        stmt = stmt.where(Case.number.in_(query.service_request_ids[: rules.MAX_ROWS]))
    else:
        try:
            start, end = rules.query_window(query.start_date, query.end_date, now)
        except rules.WindowRefused as exc:
            raise DomainError(
                "bad_date_range",
                str(exc),
                "start_date 与 end_date 须有序且相隔不超过 90 天",
                field="start_date",
            ) from exc
        stmt = stmt.where(Case.reported_at >= start, Case.reported_at <= end)
        if query.service_codes:
            stmt = stmt.join(Category, Category.id == Case.category_id).where(
                Category.code.in_(query.service_codes)
            )
        if query.statuses:
            wanted = {s for o in query.statuses for s in rules.statuses_for(o)}
            stmt = stmt.where(Case.status.in_(sorted(wanted)))
    size = min(max(query.page_size, 1), rules.MAX_ROWS)
    stmt = (
        stmt.order_by(Case.reported_at.desc(), Case.id.desc())
        .offset((max(query.page, 1) - 1) * size)
        .limit(size)
    )
    return [
        present(case, media_url, query.extensions) for case, media_url in db.session.execute(stmt)
    ]


def find_request(sd: Subdistrict, service_request_id: str, extensions: bool) -> dict[str, Any]:
    row = db.session.execute(_case_query(sd).where(Case.number == service_request_id)).first()
    if row is None:
        raise NotFound("service_request_id", "服务请求", field="service_request_id")
    return present(row[0], row[1], extensions)


def present(case: Case, media_url: str | None, extensions: bool = False) -> dict[str, Any]:
    """A case as an Open311 service request: public fields only."""
    body: dict[str, Any] = {
        "service_request_id": case.number,
        "status": rules.open311_status(case.status),
        "status_notes": rules.status_notes(case.status, case.overdue),
        "service_name": case.category.name_zh,
        "service_code": case.category.code,
        "description": rules.redact(case.description),
        "agency_responsible": case.unit.name if case.unit is not None else "",
        "service_notice": "",
        "requested_datetime": w3c(case.reported_at),
        "updated_datetime": w3c(case.updated_at),
        "expected_datetime": w3c(case.deadline_at),
        "address": rules.redact(case.address) if case.address else "",
        "address_id": "",
        "zipcode": "",
        "lat": case.lat,
        "long": case.lon,
        "media_url": media_url or "",
    }
    if extensions:
        status = Status(case.status)
        stage = stage_of(case.status)
        body["extended_attributes"] = {
            "status": status.value,
            "status_zh": STATUS_ZH[status],
            "stage": stage.value,
            "stage_zh": STAGE_ZH[stage],
            "rework_count": case.rework_count,
            "overdue": case.overdue,
            "priority": case.priority,
            "grid_code": case.grid.code if case.grid is not None else None,
            "unlocated": case.grid_id is None,
            "closed_datetime": w3c(case.closed_at),
        }
    return body


def resolve_token(token: str) -> dict[str, Any]:
    """tokens/{token}: the service_request_id a POST's token stands for."""
    row = db.session.execute(
        select(Open311Request.token, Case.number)
        .join(Case, Case.id == Open311Request.case_id)
        .where(Open311Request.token == token)
    ).first()
    if row is None:
        raise NotFound("token", "令牌 token", field="token")
    return {"service_request_id": row.number, "token": row.token}


# ---------------------------------------------------------------------------------- filing


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def client_for_key(uow: UnitOfWork, api_key: str | None) -> Open311Client:
    """The active client application holding `api_key`, its hourly budget counted."""
    client = None
    if api_key:
        client = uow.session.scalar(
            select(Open311Client).where(Open311Client.key_hash == key_hash(api_key))
        )
    if client is None or not client.active:
        raise Forbidden(
            "api_key was not provided or is invalid", "api_key 缺失或无效，请向管理员申请"
        )
    ratelimit.hit(uow, f"open311-client:{client.id}", client.requests_per_hour, CLIENT_WINDOW)
    return client


@dataclass
class Submission:
    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    description: str | None = None
    media_url: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    priority: str | None = None


def _bad(code: str, field: str, message: str, message_zh: str) -> Invalid:
    return Invalid(code, message, message_zh, field=field)


def submit(
    uow: UnitOfWork, client: Open311Client, sd: Subdistrict, data: Submission
) -> dict[str, Any]:
    """POST requests: a resident's report through a client app, as a case of the subdistrict.

    Answered with a token (resolvable by tokens/{token}) and, since the case exists at once,
    its service_request_id too."""
    if client.subdistrict_id is not None and client.subdistrict_id != sd.id:
        raise Forbidden("this api_key is not for that jurisdiction", "该 api_key 不属于此辖区")
    category = _category(data.service_code)
    # A point needs both; an address alone goes to the geocoder, and what it cannot place
    # becomes an unlocated case (待定位) — never guessed (docs/open311.md).
    no_point = data.lat is None or data.long is None
    half_point = (data.lat is None) != (data.long is None)
    if no_point and (half_point or not (data.address_string or "").strip()):
        missing = "lat" if data.lat is None else "long"
        raise _bad(
            "location_required",
            missing,
            f"{missing} is required (lat and long, WGS84), or address_string",
            f"缺少 {missing}（须同时提供 WGS84 经纬度 lat 与 long，或提供地址 address_string）",
        )
    if data.media_url is not None:
        parts = urlsplit(data.media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _bad(
                "invalid_value",
                "media_url",
                "media_url: an http(s) URL",
                "media_url 须为 http(s) 地址",
            )
    if data.phone is not None and not PHONE.match(data.phone):
        raise _bad(
            "invalid_value", "phone", "phone: not a phone number", "phone 不是有效的电话号码"
        )
    if data.priority is not None and data.priority not in PRIORITIES:
        raise _bad(
            "invalid_value",
            "attribute[priority]",
            f"attribute[priority]: one of {', '.join(PRIORITIES)}",
            f"attribute[priority] 应为 {'、'.join(PRIORITIES)} 之一",
        )
    lon, lat = data.long, data.lat
    if lon is None or lat is None:
        lon, lat = _geocoded(data.address_string or "", sd)
    else:
        try:
            where = locate(lon, lat, "wgs84", None)
        except DomainError as exc:
            raise _bad("outside_subdistrict", "lat", exc.message, exc.message_zh) from exc
        if where.subdistrict.id != sd.id:
            raise _bad(
                "outside_jurisdiction",
                "lat",
                "the point is outside this jurisdiction",
                "该位置不在此辖区（街道）内",
            )
    name = " ".join(p for p in (data.first_name, data.last_name) if p) or None
    description = (
        data.description or ""
    ).strip() or f"{category.name_zh}（Open311 上报，未附描述）"
    result = report_case(
        uow,
        None,
        ReportInput(
            category=category.code,
            description=description,
            lon=lon or 0.0,
            lat=lat or 0.0,
            priority=data.priority,
            reporter_name=name,
            reporter_phone=data.phone,
            address=data.address_string,
        ),
        channel="open311",
        unlocated_in=sd if lon is None else None,
    )
    filed = Open311Request(
        token=secrets.token_urlsafe(18),
        case_id=result.case.id,
        client_id=client.id,
        media_url=data.media_url,
        created_at=uow.now,
    )
    uow.session.add(filed)
    uow.session.flush()
    return {
        "service_request_id": result.case.number,
        "token": filed.token,
        "service_notice": NOTICE,
        "account_id": "",
    }


def _geocoded(address: str, sd: Subdistrict) -> tuple[float | None, float | None]:
    """The point of an address through the geocoder: a single precise answer inside this
    jurisdiction's grids, or (None, None): the case is filed unlocated."""
    found = GeocodeSession().place(address)
    if found is None:
        return None, None
    try:
        where = locate(found.lon, found.lat, "wgs84", None)
    except DomainError:
        return None, None
    if where.subdistrict.id != sd.id:
        return None, None
    return where.lon, where.lat


# ---------------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class IssuedClient:
    client: Open311Client
    api_key: str  # shown once


def _may_manage(principal: Principal, client: Open311Client) -> bool:
    return principal.is_city_admin or client.subdistrict_id == principal.subdistrict_id


def issue_client(
    uow: UnitOfWork, principal: Principal, name: str, requests_per_hour: int
) -> IssuedClient:
    """An admin issues an api_key for a client application (of the admin's subdistrict)."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins issue Open311 keys", "仅管理员可签发 Open311 密钥")
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = Open311Client(
        name=name.strip(),
        key_hash=key_hash(api_key),
        key_prefix=api_key[:12],
        subdistrict_id=principal.subdistrict_id,
        requests_per_hour=requests_per_hour,
        active=True,
        issued_by_id=principal.user_id,
    )
    uow.session.add(client)
    uow.session.flush()
    return IssuedClient(client=client, api_key=api_key)


def list_clients(principal: Principal) -> list[Open311Client]:
    stmt = select(Open311Client).order_by(Open311Client.id)
    if not principal.is_city_admin:
        stmt = stmt.where(Open311Client.subdistrict_id == principal.subdistrict_id)
    return list(db.session.scalars(stmt))


def revoke_client(uow: UnitOfWork, principal: Principal, client_id: int) -> Open311Client:
    # ids are 32-bit on PostgreSQL: a larger one names no client (never a 500)
    client = uow.session.get(Open311Client, client_id) if 0 < client_id < 2**31 else None
    if client is None or not _may_manage(principal, client):
        raise NotFound("Open311 client", "Open311 客户端")
    if client.active:
        client.active = False
        client.revoked_at = uow.now
    uow.session.flush()
    return client


def set_rate_limit(
    uow: UnitOfWork, principal: Principal, client_id: int, requests_per_hour: int
) -> Open311Client:
    """Change a client application's hourly budget (1–100,000 requests)."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins manage Open311 keys", "仅管理员可管理 Open311 密钥")
    if not 1 <= requests_per_hour <= MAX_PER_HOUR:
        raise _bad(
            "invalid_value",
            "requests_per_hour",
            f"requests_per_hour: 1 to {MAX_PER_HOUR}",
            f"每小时请求上限须为 1 至 {MAX_PER_HOUR}",
        )
    client = uow.session.get(Open311Client, client_id) if 0 < client_id < 2**31 else None
    if client is None or not _may_manage(principal, client):
        raise NotFound("Open311 client", "Open311 客户端")
    client.requests_per_hour = requests_per_hour
    uow.session.flush()
    return client


def requests_filed(client_ids: list[int]) -> dict[int, int]:
    """How many requests each client filed."""
    rows = db.session.execute(
        select(Open311Request.client_id, func.count())
        .where(Open311Request.client_id.in_(client_ids))
        .group_by(Open311Request.client_id)
    ).all()
    return {cid: n for cid, n in rows}
