"""The demo sub-district: a synthetic Qujiang (曲江街道), Yangzhou, for a first look.

Modelled on, not a map of, the real place: 6 villages and 14 communities over about
12.4 km² around (119.43, 32.39), a few hundred grids, 42 collectors, a dispatcher,
handling units and the categories of community work. Seeding twice changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from geo.geojson import to_geojson
from geo.lattice import demo_subdistrict
from server.domain import codes
from server.extensions import db
from server.models import Category, CollectorGrid, Community, Grid, Subdistrict, Unit, User
from server.services.people.passwords import hash_password
from server.services.territory.grids_import import import_geojson
from server.services.uow import UnitOfWork

SUBDISTRICT_CODE = "321002006"
SUBDISTRICT_NAME = "曲江街道（演示）"
SEED = 2026
COLLECTORS = 42

VILLAGES = ["新联村", "沙口村", "渡江村", "汤汪村", "联合村", "红星村"]
COMMUNITIES = [
    "曲江社区",
    "鸿泰社区",
    "观潮社区",
    "东花园社区",
    "金湾社区",
    "运河社区",
    "文昌社区",
    "京华社区",
    "翠岗社区",
    "汶河社区",
    "万福社区",
    "李典社区",
    "嘉禾社区",
    "东关社区",
]

UNITS: list[tuple[str, str, str]] = [
    ("QJ-CG", "曲江街道城管执法中队", "department"),
    ("QJ-SZ", "曲江街道市政设施管理所", "department"),
    ("QJ-HW", "曲江街道环卫所", "department"),
    ("QJ-JW", "曲江派出所社区警务室", "department"),
    ("QJ-WG1", "鸿泰物管中心", "property_office"),
    ("QJ-WG2", "观潮物管中心", "property_office"),
    ("QJ-YY", "区人民医院（驻地单位）", "resident_unit"),
    ("QJ-ZYZ", "曲江志愿者协会", "social_org"),
]

# code, 中文, English, default priority, hours per priority
CATEGORIES: list[tuple[str, str, str, str]] = [
    ("property_service", "物业服务", "Property services", "normal"),
    ("old_estate", "老旧小区管理", "Old residential estates", "normal"),
    ("relocation", "拆迁安置", "Demolition and resettlement", "high"),
    ("sanitation", "环境卫生", "Environmental sanitation", "normal"),
    ("public_security", "治安巡查", "Public security patrol", "high"),
    ("neighbour_dispute", "邻里纠纷", "Neighbour disputes", "normal"),
    ("hardship_aid", "困难帮扶", "Help for families in hardship", "high"),
    ("facility_repair", "设施维修", "Facility repair", "normal"),
    ("emergency", "突发事件", "Emergencies", "urgent"),
    ("other", "其他", "Other", "low"),
]
DEADLINE_HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 168}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌"


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)  # username, role

    def count(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1


def _feature_collection() -> dict[str, Any]:
    area = demo_subdistrict(seed=SEED)
    rng = random.Random(SEED)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": to_geojson(area.boundary),
            "properties": {"code": SUBDISTRICT_CODE, "name": SUBDISTRICT_NAME, "case_prefix": "QJ"},
        }
    ]
    names = [(n, "village") for n in VILLAGES] + [(n, "community") for n in COMMUNITIES]
    for community, (name, kind) in zip(area.communities, names, strict=False):
        ccode = f"{SUBDISTRICT_CODE}{community.index + 1:03d}"
        people = 0
        grid_features = []
        for seq, polygon in enumerate(community.grids, start=1):
            population = rng.randint(300, 900) if kind == "community" else rng.randint(150, 500)
            people += population
            grid_features.append(
                {
                    "type": "Feature",
                    "geometry": to_geojson(polygon),
                    "properties": {
                        "code": codes.grid_code(ccode, seq),
                        "name": f"{name}第{seq}网格",
                        "population": population,
                        "households": population * 10 // 27,
                    },
                }
            )
        features.append(
            {
                "type": "Feature",
                "geometry": to_geojson(community.polygon),
                "properties": {
                    "code": ccode,
                    "name": name,
                    "kind": kind,
                    "population": people,
                    "households": people * 10 // 27,
                },
            }
        )
        features.extend(grid_features)
    return {"type": "FeatureCollection", "features": features}


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("35789") + "".join(str(rng.randint(0, 9)) for _ in range(9))


def seed_demo(uow: UnitOfWork, password: str) -> SeedReport:
    """Create whatever part of the demo is missing; never change what exists."""
    report = SeedReport()
    subdistrict = db.session.scalar(select(Subdistrict).where(Subdistrict.code == SUBDISTRICT_CODE))
    if subdistrict is None:
        imported = import_geojson(uow, _feature_collection())
        for level, n in imported.created.items():
            report.created[level] = n
        subdistrict = db.session.scalar(
            select(Subdistrict).where(Subdistrict.code == SUBDISTRICT_CODE)
        )
    assert subdistrict is not None
    rng = random.Random(SEED + 1)
    password_hash: str | None = None

    def user(username: str, role: str, name: str, **extra: Any) -> User:
        nonlocal password_hash
        existing = db.session.scalar(select(User).where(User.username == username))
        report.logins.append((username, role))
        if existing is not None:
            return existing
        if password_hash is None:  # one hash for every demo user: seeding stays fast
            password_hash = hash_password(password)
        row = User(
            username=username, role=role, display_name=name, password_hash=password_hash, **extra
        )
        db.session.add(row)
        report.count("users")
        return row

    for order, (code, name_zh, name_en, priority) in enumerate(CATEGORIES):
        if db.session.scalar(select(Category.id).where(Category.code == code)) is None:
            db.session.add(
                Category(
                    code=code,
                    name_zh=name_zh,
                    name_en=name_en,
                    default_priority=priority,
                    deadline_hours=DEADLINE_HOURS,
                    sort_order=order,
                )
            )
            report.count("categories")
    units = []
    for code, name, kind in UNITS:
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        if unit is None:
            unit = Unit(
                code=code,
                name=name,
                kind=kind,
                subdistrict_id=subdistrict.id,
                contact_phone=f"0514-8{rng.randint(1000000, 9999999)}",
            )
            db.session.add(unit)
            report.count("units")
        units.append(unit)
    db.session.flush()

    user("admin", "admin", "系统管理员", phone=_phone(rng))
    user(
        "dispatcher",
        "dispatcher",
        "调度中心" + _person_name(rng),
        phone=_phone(rng),
        subdistrict_id=subdistrict.id,
    )
    for i, unit in enumerate(units, start=1):
        user(
            f"staff{i:02d}",
            "unit_staff",
            _person_name(rng),
            phone=_phone(rng),
            subdistrict_id=subdistrict.id,
            unit_id=unit.id,
        )
    grid_ids = list(
        db.session.scalars(
            select(Grid.id)
            .join(Community)
            .where(Community.subdistrict_id == subdistrict.id)
            .order_by(Grid.code)
        )
    )
    collectors = [
        user(
            f"collector{i:02d}",
            "collector",
            _person_name(rng),
            phone=_phone(rng),
            subdistrict_id=subdistrict.id,
        )
        for i in range(1, COLLECTORS + 1)
    ]
    db.session.flush()
    assigned = set(db.session.scalars(select(CollectorGrid.grid_id)))
    # Contiguous runs of grids (by code, so within a community) per collector.
    for n, grid_id in enumerate(grid_ids):
        if grid_id in assigned:
            continue
        collector = collectors[n * COLLECTORS // len(grid_ids)]
        db.session.add(CollectorGrid(collector_id=collector.id, grid_id=grid_id))
        report.count("assignments")
    uow.session.flush()
    return report
