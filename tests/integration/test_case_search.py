"""The queue's text search on Chinese text: indexed (pg_trgm / FTS5 trigram), same answers
as a substring match, kept current on insert, update and delete."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import ok, report
from sqlalchemy import text

TEXTS = [
    ("小区门口垃圾堆放多日", None),
    ("垃圾桶满溢，气味很大", "幸福路 8 号"),
    ("路灯不亮", "垃圾站旁边"),
    ("井盖缺失 100% 危险", None),
    ("楼道堆放杂物 a_b", None),
]


def _found(client: FlaskClient, token: str, q: str) -> set[str]:
    items = ok(
        client.get("/api/v1/cases", query_string={"q": q, "limit": 200}, headers=bearer(token))
    )["items"]
    return {c["description"] for c in items}


@pytest.fixture
def texts(client: FlaskClient, world: World, tokens: dict[str, str]) -> dict[str, Any]:
    made = {}
    for description, address in TEXTS:
        extra = {"address": address} if address else {}
        case = ok(
            report(
                client, tokens["dispatcher"], description=description, source="hotline", **extra
            ),
            201,
        )["case"]
        made[description] = case
    return made


def test_a_two_character_word_finds_its_cases(
    client: FlaskClient, tokens: dict[str, str], texts: dict[str, Any]
) -> None:
    token = tokens["dispatcher"]
    # in the description or the address
    assert _found(client, token, "垃圾") == {
        "小区门口垃圾堆放多日",
        "垃圾桶满溢，气味很大",
        "路灯不亮",
    }
    assert _found(client, token, "堆放") == {"小区门口垃圾堆放多日", "楼道堆放杂物 a_b"}
    assert _found(client, token, "杂") == {"楼道堆放杂物 a_b"}


def test_longer_needles_use_the_index_and_find_substrings(
    client: FlaskClient, tokens: dict[str, str], texts: dict[str, Any]
) -> None:
    token = tokens["dispatcher"]
    assert _found(client, token, "垃圾堆放") == {"小区门口垃圾堆放多日"}
    assert _found(client, token, "垃圾桶满溢") == {"垃圾桶满溢，气味很大"}
    assert _found(client, token, "幸福路") == {"垃圾桶满溢，气味很大"}
    assert _found(client, token, "100%") == {"井盖缺失 100% 危险"}
    assert _found(client, token, "10%") == set()  # % is text, not a wildcard
    assert _found(client, token, "a_b") == {"楼道堆放杂物 a_b"}
    assert _found(client, token, "A_B") == {"楼道堆放杂物 a_b"}  # case-insensitive
    assert _found(client, token, "不存在的词") == set()
    number = texts["路灯不亮"]["number"]
    assert _found(client, token, number) == {"路灯不亮"}
    assert _found(client, token, number[-6:]) == {"路灯不亮"}
    # scope still applies: the other subdistrict's dispatcher finds nothing
    assert _found(client, tokens["dispatcher2"], "垃圾堆放") == set()


def test_the_index_follows_updates_and_deletes(
    app: Flask, client: FlaskClient, tokens: dict[str, str], texts: dict[str, Any]
) -> None:
    from server.extensions import db
    from server.models import Case, CaseEvent

    case_id = texts["路灯不亮"]["id"]
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        case.description = "路灯闪烁不停"
        case.address = None
        db.session.commit()
    token = tokens["dispatcher"]
    assert _found(client, token, "路灯闪烁") == {"路灯闪烁不停"}
    assert _found(client, token, "路灯不亮") == set()
    assert "路灯闪烁不停" not in _found(client, token, "垃圾站")
    with app.app_context():
        db.session.query(CaseEvent).filter(CaseEvent.case_id == case_id).delete()
        db.session.query(Case).filter(Case.id == case_id).delete()
        db.session.commit()
    assert _found(client, token, "路灯闪烁") == set()


def test_the_search_index_exists_at_head(app: Flask) -> None:
    """A later batch migration that rebuilds `cases` on SQLite would drop the triggers."""
    from server.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            names = set(
                db.session.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'cases'")
                )
            )
            assert {
                "ix_cases_description_trgm",
                "ix_cases_number_trgm",
                "ix_cases_address_trgm",
            } <= names
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(
                db.session.scalars(
                    text("EXPLAIN SELECT id FROM cases WHERE description ILIKE '%垃圾堆放%'")
                )
            )
            assert "ix_cases_description_trgm" in plan, plan
            db.session.rollback()
        else:
            triggers = set(
                db.session.scalars(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name = 'cases'"
                    )
                )
            )
            assert {"cases_search_ai", "cases_search_ad", "cases_search_au"} <= triggers
