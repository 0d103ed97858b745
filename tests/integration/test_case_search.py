"""The queue's text search on Chinese text: indexed for every needle length (pg_trgm / FTS5
trigram for three characters or more, a character-gram index for one or two), same answers
as a substring match, kept current on insert, update and delete."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
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
    assert _found(client, token, "圾") == {
        "小区门口垃圾堆放多日",
        "垃圾桶满溢，气味很大",
        "路灯不亮",
    }
    assert _found(client, token, "灯") == {"路灯不亮"}
    assert _found(client, token, " 不亮 ") == {"路灯不亮"}  # stripped
    assert _found(client, token, "圾垃") == set()  # both characters, not this pair
    assert _found(client, token, "亮垃") == set()  # not across description and address


def test_short_needles_mixed_ascii_and_escapes(
    client: FlaskClient, tokens: dict[str, str], texts: dict[str, Any]
) -> None:
    token = tokens["dispatcher"]
    assert _found(client, token, "%") == {"井盖缺失 100% 危险"}  # text, not a wildcard
    assert _found(client, token, "0%") == {"井盖缺失 100% 危险"}
    assert _found(client, token, "%危") == set()  # a space between them
    assert _found(client, token, "_") == {"楼道堆放杂物 a_b"}
    assert _found(client, token, "a_") == {"楼道堆放杂物 a_b"}
    assert _found(client, token, "A_") == {"楼道堆放杂物 a_b"}  # case-insensitive
    assert _found(client, token, "B") == {"楼道堆放杂物 a_b"}
    assert _found(client, token, "ab") == set()  # `_` is not any character
    assert _found(client, token, "物 ") == {"楼道堆放杂物 a_b"}  # inner space kept
    assert _found(client, token, "8") == {"垃圾桶满溢，气味很大"}
    assert _found(client, token, "，气") == {"垃圾桶满溢，气味很大"}  # CJK punctuation
    assert _found(client, token, "\\") == set()


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
    assert _found(client, token, "闪烁") == {"路灯闪烁不停"}
    assert _found(client, token, "不亮") == set()
    assert _found(client, token, "站") == set()
    with app.app_context():
        assert _gram_rows(case_id, "闪烁") == {True}
        assert _gram_rows(case_id, "不亮") == {False}  # the old text's grams are gone
        db.session.query(CaseEvent).filter(CaseEvent.case_id == case_id).delete()
        db.session.query(Case).filter(Case.id == case_id).delete()
        db.session.commit()
        assert _gram_rows(case_id, "闪烁") == {False}
    assert _found(client, token, "路灯闪烁") == set()
    assert _found(client, token, "闪") == set()


def _gram_rows(case_id: str, gram: str) -> set[bool]:
    """Whether the gram index itself (not the LIKE recheck) names the case for `gram`:
    {True} or {False}; SQLite's FTS5 table, PostGIS's indexed expression (never stale)."""
    from server.extensions import db
    from server.services.caseloop import case_grams

    if db.engine.dialect.name == "postgresql":
        held = db.session.scalar(
            text(
                "SELECT coalesce(bool_or(case_search_grams(description, number, address) "
                "@> case_search_needle_grams(:g)), false) FROM cases WHERE id = :id"
            ),
            {"g": gram, "id": case_id},
        )
        return {bool(held)}
    rowids = set(
        db.session.scalars(
            text("SELECT rowid FROM cases_search_grams WHERE cases_search_grams MATCH :t"),
            {"t": case_grams.token(gram)},
        )
    )
    mine = db.session.scalar(text("SELECT rowid FROM cases WHERE id = :id"), {"id": case_id})
    if mine is None:  # deleted: no other case may hold this text
        return {bool(rowids)}
    return {mine in rowids}


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
            assert "ix_cases_search_grams" in names
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(
                db.session.scalars(
                    text(
                        "EXPLAIN SELECT id FROM cases WHERE case_search_grams(description, "
                        "number, address) @> case_search_needle_grams('垃圾')"
                    )
                )
            )
            assert "ix_cases_search_grams" in plan, plan
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
            assert {
                "cases_search_grams_ai",
                "cases_search_grams_ad",
                "cases_search_grams_au",
            } <= triggers


ALPHABET = "垃圾桶路灯不亮井盖堆放杂物，。 aAbB1%_\\"


def _random_text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, longest)))


def test_random_text_finds_what_like_finds(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    """Every needle of one or two characters (and some longer ones) over random text finds
    exactly what a substring match finds, and what the unindexed LIKE finds."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Case
    from server.services.caseloop import case_search

    rng = random.Random(16)
    token = tokens["dispatcher"]
    ids = [
        ok(report(client, token, description=f"随机{i}", source="hotline"), 201)["case"]["id"]
        for i in range(24)
    ]
    texts: dict[str, str] = {}
    with app.app_context():
        for case_id in ids:  # through the update trigger, with an address on some
            case = db.session.get(Case, case_id)
            assert case is not None
            case.description = _random_text(rng, 12)
            case.address = _random_text(rng, 6) if rng.random() < 0.5 else None
            texts[case_id] = "\n".join([case.description, case.number, case.address or ""])
        db.session.commit()
    needles = {rng.choice(ALPHABET) for _ in range(12)}
    needles |= {rng.choice(ALPHABET) + rng.choice(ALPHABET) for _ in range(40)}
    for text_ in rng.sample(sorted(texts.values()), 8):  # pieces that surely occur
        start = rng.randrange(len(text_) - 2)
        needles |= {text_[start : start + 1], text_[start : start + 2], text_[start : start + 3]}
    needles = {n for n in needles if n.strip() == n and n and "\n" not in n}
    hits = 0
    for needle in sorted(needles):
        expected = {i for i, t in texts.items() if needle.lower() in t.lower()}
        items = ok(
            client.get(
                "/api/v1/cases", query_string={"q": needle, "limit": 200}, headers=bearer(token)
            )
        )["items"]
        assert {c["id"] for c in items} == expected, needle
        with app.app_context():
            reference = set(db.session.scalars(select(Case.id).where(case_search._like(needle))))
        assert reference == expected, needle
        hits += bool(expected)
    assert hits > 20  # the needles did find things


def test_a_common_gram_is_left_to_the_like(
    monkeypatch: pytest.MonkeyPatch,
    client: FlaskClient,
    tokens: dict[str, str],
    texts: dict[str, Any],
) -> None:
    """On SQLite a gram held by many cases is searched by the LIKE alone: same answers."""
    from server.services.caseloop import case_search

    monkeypatch.setattr(case_search, "COMMON_GRAM_CASES", 0)
    token = tokens["dispatcher"]
    assert _found(client, token, "垃圾") == {
        "小区门口垃圾堆放多日",
        "垃圾桶满溢，气味很大",
        "路灯不亮",
    }
    assert _found(client, token, "A_") == {"楼道堆放杂物 a_b"}
    assert _found(client, token, "%") == {"井盖缺失 100% 危险"}
    assert _found(client, token, "垃圾堆放") == {"小区门口垃圾堆放多日"}  # trigrams too
    assert _found(client, token, "A_B") == {"楼道堆放杂物 a_b"}
    assert _found(client, token, "100%") == {"井盖缺失 100% 危险"}


def test_a_rare_phrase_of_common_trigrams_is_found_through_the_index(
    monkeypatch: pytest.MonkeyPatch,
    client: FlaskClient,
    tokens: dict[str, str],
    world: World,
) -> None:
    """On SQLite a phrase whose every trigram is common but which few cases hold (a case
    number) is searched through its bounded FTS matches, not by a LIKE over every case; a
    phrase held by more than the bound is left to the LIKE. Same answers either way."""
    from server.extensions import db
    from server.services.caseloop import case_search

    token = tokens["dispatcher"]
    for description in ("甲乙丙丁", "甲乙丙，乙丙丁", "戊己庚"):
        ok(report(client, token, description=description, source="hotline"), 201)
    monkeypatch.setattr(case_search, "COMMON_GRAM_CASES", 1)
    assert _found(client, token, "甲乙丙丁") == {"甲乙丙丁"}
    assert _found(client, token, "乙丙丁") == {"甲乙丙丁", "甲乙丙，乙丙丁"}
    assert _found(client, token, "戊己庚") == {"戊己庚"}
    with client.application.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        assert case_search._common_trigrams("甲乙丙丁")  # 甲乙丙 and 乙丙丁: two cases each
        holders = case_search._phrase_holders('"甲乙丙丁"')
        assert holders is not None and len(holders.strip("[]").split(",")) == 1
        assert case_search._phrase_holders('"乙丙丁"') is None  # two cases: over the bound
        assert "json_each" in str(case_search.matches("甲乙丙丁"))


def test_the_gram_vocabulary_counts_cases(app: Flask, texts: dict[str, Any]) -> None:
    from server.extensions import db
    from server.services.caseloop import case_grams, case_search

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        assert case_search._cases_holding(case_grams.token("垃圾")) == 3
        assert case_search._cases_holding(case_grams.token("a")) >= 1
        assert case_search._cases_holding(case_grams.token("亮垃")) == 0
        kept = case_search.COMMON_GRAM_CASES
        case_search.COMMON_GRAM_CASES = 0
        try:
            assert case_search._common_trigrams("垃圾堆放")  # each trigram held by a case
            assert case_search._common_trigrams("A_B")  # folded
            assert not case_search._common_trigrams("垃圾堆满")  # 圾堆满 is held by none
        finally:
            case_search.COMMON_GRAM_CASES = kept
        assert not case_search._common_trigrams("垃圾堆放")  # one case is not common


def test_the_migration_folds_and_encodes_as_the_app_does() -> None:
    """The delete trigger recomputes a case's grams: the migration's copy of the function
    must give the text the app's gives."""
    from server.services.caseloop import case_grams

    path = Path(__file__).parents[2] / "migrations" / "versions" / "0015_search_bigrams.py"
    spec = importlib.util.spec_from_file_location("m0015", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = random.Random(15)
    for _ in range(200):
        parts = [_random_text(rng, 10) if rng.random() < 0.8 else None for _ in range(3)]
        assert module._grams(*parts) == case_grams.grams(*parts)
    assert case_grams.grams("垃圾", None, "AB") == " ".join(
        sorted(g.encode().hex() for g in ["垃", "圾", "垃圾", "\n", "圾\n", "a", "b", "ab",
                                           "\n\n", "\na"])
    )  # fmt: skip
