"""这些事项可能需要议事: the console lists escalated or reopened cases, and several cases of
one kind in one community, not yet linked to a topic; a dispatcher raises a topic from them
(source `case`, the cases linked as its origin), and they leave the list."""

from __future__ import annotations

import re

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import B1, new_case, ok, report
from test_console_topics import sign_in


def test_suggested_cases_become_a_topic(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    recurring = [new_case(client, tokens, description=f"垃圾桶满溢 {i}") for i in range(3)]
    escalated = ok(report(client, tokens["dispatcher"], at=B1, description="路面塌陷"), 201)["case"]
    from sqlalchemy import text

    from server.extensions import db

    with app.app_context():
        db.session.execute(
            text("UPDATE cases SET escalated_at = CURRENT_TIMESTAMP WHERE id = :i"),
            {"i": escalated["id"]},
        )
        db.session.commit()
    csrf = sign_in(client, "dispatcher")
    listing = client.get("/console/topics").text
    section = listing.split('id="suggestions"')[1].split("</section>")[0]
    assert "同一社区同类事项多次反映" in section and "超期升级" in section
    for case in [*recurring, escalated]:
        assert case["number"] in section
    # the recurring group's form carries the three cases
    groups = re.findall(r'<form[^>]*id="suggest-\d+"(.*?)</form>', section, re.S)
    group = next(g for g in groups if g.count('name="case_ids"') == 3)
    case_ids = re.findall(r'name="case_ids" value="([^"]+)"', group)
    title = re.search(r'name="title" required maxlength="120" value="([^"]+)"', group)
    assert title is not None and "3 件" in title.group(1)
    made = client.post(
        "/console/topics",
        data={
            "csrf_token": csrf,
            "community_id": str(world.community_ids["A"]),
            "title": title.group(1),
            "description": "同类问题反复出现，需要议事",
            "case_ids": case_ids,
        },
    )
    assert made.status_code == 303, made.text[:2000]
    page = client.get(made.headers["Location"]).text
    for case in recurring:
        assert case["number"] in page
    from server.models import Topic, TopicCase

    with app.app_context():
        topic = db.session.query(Topic).one()
        assert topic.source == "case"
        links = {(tc.case_id, tc.role) for tc in db.session.query(TopicCase)}
        assert links == {(c["id"], "origin") for c in recurring}
    # linked cases are no longer suggested; the escalated one still is
    section = client.get("/console/topics").text.split('id="suggestions"')[1].split("</section>")[0]
    assert all(c["number"] not in section for c in recurring)
    assert escalated["number"] in section


def test_suggestions_stay_in_the_dispatchers_subdistrict(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    cases = [new_case(client, tokens, description=f"占道 {i}") for i in range(3)]
    sign_in(client, "dispatcher2")
    page = client.get("/console/topics").text
    assert all(c["number"] not in page for c in cases)
    sign_in(client, "dispatcher")
    page = client.get("/console/topics").text
    assert all(c["number"] in page for c in cases)
