"""Smaller findings of the review: LIKE wildcards in `q`, a negative GPS accuracy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import World, bearer
from flask.testing import FlaskClient
from helpers import A1, assert_error, report


@pytest.mark.parametrize("q", ["%", "_", "\\", "100%", "a_b"])
def test_like_wildcards_in_q_are_text(
    client: FlaskClient, world: World, tokens: dict[str, str], q: str
) -> None:
    for text in ("垃圾桶满溢", "打折100%出售", "a_b 标识"):
        assert report(client, tokens["collector"], description=text).status_code == 201
    found = client.get("/api/v1/cases", query_string={"q": q}, headers=bearer(tokens["dispatcher"]))
    assert found.status_code == 200
    descriptions = [c["description"] for c in found.get_json()["items"]]
    assert all(q in d for d in descriptions), descriptions
    expected = {"%": 1, "_": 1, "\\": 0, "100%": 1, "a_b": 1}[q]
    assert len(descriptions) == expected


@pytest.mark.parametrize("accuracy", [-1, -0.5, True, "5", 1e9])
def test_a_negative_or_absurd_gps_accuracy_is_refused(
    client: FlaskClient, world: World, tokens: dict[str, str], accuracy: object
) -> None:
    now = datetime.now(UTC).timestamp()
    response = client.post(
        "/api/v1/patrols",
        json={"grid_id": world.grid_ids["A1"], "points": [[A1[0], A1[1], now - 60, accuracy]]},
        headers=bearer(tokens["collector"]),
    )
    assert_error(response, 422, "bad_track", "points")


def test_a_plausible_accuracy_is_accepted(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    now = datetime.now(UTC).timestamp()
    response = client.post(
        "/api/v1/patrols",
        json={
            "grid_id": world.grid_ids["A1"],
            "points": [[A1[0], A1[1], now - 60, 0], [A1[0], A1[1], now - 30, 5.5]],
        },
        headers=bearer(tokens["collector"]),
    )
    assert response.status_code == 201, response.get_json()
