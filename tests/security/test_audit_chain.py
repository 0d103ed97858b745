"""The tamper-evident case history: every event is chained to its case's previous one, daily
roots commit to all chains, and `minqing audit verify` names the first broken event."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, new_case
from sqlalchemy import text


def _events(app: Flask) -> list[Any]:
    from sqlalchemy import select

    from server.extensions import db
    from server.models import CaseEvent

    with app.app_context():
        rows = list(
            db.session.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq))
        )
        db.session.expunge_all()
        return rows


def _history(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    case = new_case(client, tokens)
    accepted = act(client, tokens["dispatcher"], case, "accept")
    assert accepted.status_code == 200, accepted.get_json()
    dispatched = act(
        client, tokens["dispatcher"], accepted.get_json(), "dispatch", unit_id=world.unit_id
    )
    assert dispatched.status_code == 200, dispatched.get_json()
    return dispatched.get_json()  # type: ignore[no-any-return]


def _verify(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_events_are_chained_and_verify(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    _history(client, tokens, world)
    new_case(client, tokens)
    events = _events(app)
    assert len(events) >= 4
    by_case: dict[str, list[Any]] = {}
    for e in events:
        by_case.setdefault(e.case_id, []).append(e)
    for chain in by_case.values():
        assert chain[0].prev_hash == "0" * 64
        for before, after in pairwise(chain):
            assert after.prev_hash == before.hash
        assert all(e.hash and len(e.hash) == 64 for e in chain)
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert f"{len(events)} events" in result.output


def test_an_event_edited_in_the_database_is_found(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = _history(client, tokens, world)
    from server.extensions import db

    with app.app_context():
        db.session.execute(
            text("UPDATE case_events SET actor_role = 'admin' WHERE case_id = :c AND seq = 2"),
            {"c": case["id"]},
        )
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert case["number"] in result.output and "seq 2" in result.output
    assert "edited" in result.output


def test_a_deleted_event_is_found(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = _history(client, tokens, world)
    from server.extensions import db

    with app.app_context():
        db.session.execute(
            text("DELETE FROM case_events WHERE case_id = :c AND seq = 2"), {"c": case["id"]}
        )
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1 and "seq 3" in result.output and "missing" in result.output


def test_a_rewritten_chain_is_caught_by_the_published_root(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    """Someone edits an event and recomputes the whole chain: the day's root exposes it."""
    from server.domain import audit as chain
    from server.extensions import db
    from server.services.uow import unit_of_work
    from server.services.upkeep import audit

    case = _history(client, tokens, world)
    with app.app_context():
        with unit_of_work() as uow:
            today = uow.now.date()
            (sealed,) = audit.seal_days(uow, until=today)
            assert sealed.day == today and sealed.events == 3
        published = client.get("/api/v1/audit/roots", query_string={"from": str(today)})
        assert published.status_code == 200
        assert published.get_json()["items"][0]["root"] == sealed.root

        db.session.execute(
            text("UPDATE case_events SET actor_role = 'admin' WHERE case_id = :c AND seq = 2"),
            {"c": case["id"]},
        )
        db.session.commit()
        rows = [e for e in _events(app) if e.case_id == case["id"]]
        prev = chain.GENESIS
        for e in rows:  # the forger recomputes every hash of the case
            fields = {
                c: getattr(e, c)
                for c in (
                    "case_id",
                    "seq",
                    "action",
                    "from_status",
                    "to_status",
                    "actor_id",
                    "actor_role",
                    "payload",
                    "created_at",
                )
            }
            value = chain.event_hash(prev, fields)
            db.session.execute(
                text("UPDATE case_events SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": value, "i": e.id},
            )
            prev = value
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"daily root of {today}" in result.output


def test_sealing_is_idempotent_and_roots_are_public(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.services.uow import unit_of_work
    from server.services.upkeep import audit

    _history(client, tokens, world)
    with app.app_context(), unit_of_work() as uow:
        assert audit.seal_days(uow) == []  # today is not over: nothing to seal
        today = uow.now.date()
        assert len(audit.seal_days(uow, until=today)) == 1
        assert audit.seal_days(uow, until=today) == []
    anonymous = client.get("/api/v1/audit/roots")
    assert anonymous.status_code == 200 and len(anonymous.get_json()["items"]) == 1
    assert _verify(app).exit_code == 0
    assert client.get("/api/v1/audit/roots?from=2026-12-01&to=2026-01-01").status_code == 422


def test_the_migration_chains_existing_events_the_same_way(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], backend: str
) -> None:
    """Downgrade below the chain (dropping the hashes), upgrade again: the migration computes
    exactly the hashes the application wrote."""
    import pytest

    if backend != "spatialite":
        pytest.skip("rewrites the schema: done on the test's own SpatiaLite file only")
    from flask_migrate import downgrade, upgrade

    _history(client, tokens, world)
    before = {e.id: (e.prev_hash, e.hash) for e in _events(app)}
    with app.app_context():
        directory = app.config["MIGRATIONS_DIR"]
        downgrade(directory=directory, revision="0009_sessions")
        upgrade(directory=directory)
    after = {e.id: (e.prev_hash, e.hash) for e in _events(app)}
    assert after == before and len(before) == 3
    assert _verify(app).exit_code == 0


def test_the_board_shows_the_latest_root(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.services.uow import unit_of_work
    from server.services.upkeep import audit

    _history(client, tokens, world)
    with app.app_context(), unit_of_work() as uow:
        (sealed,) = audit.seal_days(uow, until=uow.now.date())
        root = sealed.root
    page = client.get("/board").get_data(as_text=True)
    assert root in page and "防篡改" in page


# ------------------------------------------------------------------ deliberation topics


def _topic_history(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    """A topic proposed, accepted and put to the residents: three chained events."""
    from conftest import bearer

    created = client.post(
        "/api/v1/deliberations",
        json={
            "community_id": world.community_ids["A"],
            "title": "加装电梯",
            "description": "安置房 5 幢老人多，需要议事加装电梯",
        },
        headers=bearer(tokens["dispatcher"]),
    )
    assert created.status_code == 201, created.get_json()
    topic = created.get_json()
    for action, extra in (("accept", {}), ("open_consultation", {"closes_at": _in_days(7)})):
        moved = client.post(
            f"/api/v1/deliberations/{topic['id']}/actions/{action}",
            json={"version": topic["version"], **extra},
            headers=bearer(tokens["dispatcher"]),
        )
        assert moved.status_code == 200, moved.get_json()
        topic = moved.get_json()
    return topic  # type: ignore[no-any-return]


def _in_days(n: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=n)).isoformat()


def _topic_events(app: Flask) -> list[Any]:
    from sqlalchemy import select

    from server.extensions import db
    from server.models import TopicEvent

    with app.app_context():
        rows = list(
            db.session.scalars(select(TopicEvent).order_by(TopicEvent.topic_id, TopicEvent.seq))
        )
        db.session.expunge_all()
        return rows


def test_topic_events_are_chained_and_verify(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic = _topic_history(client, tokens, world)
    _topic_history(client, tokens, world)
    events = _topic_events(app)
    assert len(events) == 6
    by_topic: dict[int, list[Any]] = {}
    for e in events:
        by_topic.setdefault(e.topic_id, []).append(e)
    assert len(by_topic) == 2
    for chain in by_topic.values():
        assert chain[0].prev_hash == "0" * 64
        for before, after in pairwise(chain):
            assert after.prev_hash == before.hash
        assert all(e.hash and len(e.hash) == 64 for e in chain)
    # a topic's chain is not a case's: the same content under another subject hashes apart
    from server.domain import audit as chain_rules

    first = by_topic[topic["id"]][0]
    fields = {c: getattr(first, c) for c in ("seq", "action", "from_status", "to_status")}
    fields |= {
        "actor_id": first.actor_id,
        "actor_role": first.actor_role,
        "payload": first.payload,
        "created_at": first.created_at,
    }
    assert (
        chain_rules.event_hash(
            chain_rules.GENESIS, {**fields, "topic_id": first.topic_id}, chain_rules.TOPIC
        )
        == first.hash
    )
    assert (
        chain_rules.event_hash(chain_rules.GENESIS, {**fields, "case_id": first.topic_id})
        != first.hash
    )
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "6 events" in result.output


def test_a_topic_event_edited_in_the_database_is_named(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic = _topic_history(client, tokens, world)
    from server.extensions import db

    with app.app_context():
        db.session.execute(
            text("UPDATE topic_events SET actor_role = 'admin' WHERE topic_id = :t AND seq = 2"),
            {"t": topic["id"]},
        )
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"topic {topic['id']}" in result.output and "加装电梯" in result.output
    assert "seq 2" in result.output and "edited" in result.output


def test_a_deleted_topic_event_is_found(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic = _topic_history(client, tokens, world)
    from server.extensions import db

    with app.app_context():
        db.session.execute(
            text("DELETE FROM topic_events WHERE topic_id = :t AND seq = 2"), {"t": topic["id"]}
        )
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"topic {topic['id']}" in result.output and "missing" in result.output


def test_the_daily_root_covers_topic_events(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    """A forger who recomputes a topic's whole chain is still caught by the day's root."""
    from server.domain import audit as chain
    from server.extensions import db
    from server.services.uow import unit_of_work
    from server.services.upkeep import audit

    topic = _topic_history(client, tokens, world)
    with app.app_context():
        with unit_of_work() as uow:
            today = uow.now.date()
            (sealed,) = audit.seal_days(uow, until=today)
            assert sealed.events == 0 and sealed.topic_events == 3
        published = client.get("/api/v1/audit/roots", query_string={"from": str(today)})
        assert published.get_json()["items"][0]["topic_events"] == 3
        assert _verify(app).exit_code == 0
        db.session.execute(
            text("UPDATE topic_events SET payload = '{}' WHERE topic_id = :t AND seq = 3"),
            {"t": topic["id"]},
        )
        db.session.commit()
        prev = chain.GENESIS
        for e in [e for e in _topic_events(app) if e.topic_id == topic["id"]]:
            fields = {
                c: getattr(e, c)
                for c in (
                    "topic_id",
                    "seq",
                    "action",
                    "from_status",
                    "to_status",
                    "actor_id",
                    "actor_role",
                    "payload",
                    "created_at",
                )
            }
            value = chain.event_hash(prev, fields, chain.TOPIC)
            db.session.execute(
                text("UPDATE topic_events SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": value, "i": e.id},
            )
            prev = value
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"daily root of {today}" in result.output


def test_a_root_sealed_before_topics_were_chained_still_verifies(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    """Roots published before migration 0013 covered case events only (topic_events NULL):
    they verify as they were published."""
    from server.domain import audit as chain
    from server.extensions import db
    from server.models import AuditRoot
    from server.services.uow import unit_of_work
    from server.services.upkeep import audit

    _history(client, tokens, world)
    _topic_history(client, tokens, world)
    with app.app_context():
        with unit_of_work() as uow:
            today = uow.now.date()
            (sealed,) = audit.seal_days(uow, until=today)
        old_style = chain.day_root(
            chain.GENESIS, [e.hash for e in sorted(_events(app), key=lambda e: e.id)]
        )
        row = db.session.get(AuditRoot, today)
        assert row is not None and row.root == sealed.root != old_style
        row.root, row.topic_events = old_style, None
        db.session.commit()
    assert _verify(app).exit_code == 0


def test_the_migration_chains_existing_topic_events_the_same_way(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], backend: str
) -> None:
    import pytest

    if backend != "spatialite":
        pytest.skip("rewrites the schema: done on the test's own SpatiaLite file only")
    from flask_migrate import downgrade, upgrade

    _topic_history(client, tokens, world)
    before = {e.id: (e.prev_hash, e.hash) for e in _topic_events(app)}
    with app.app_context():
        directory = app.config["MIGRATIONS_DIR"]
        downgrade(directory=directory, revision="0012_deliberation")
        upgrade(directory=directory)
    after = {e.id: (e.prev_hash, e.hash) for e in _topic_events(app)}
    assert after == before and len(before) == 3
    assert _verify(app).exit_code == 0
