"""Public case numbers stay unique when two sub-districts share a prefix."""

from __future__ import annotations

from datetime import date

from conftest import World
from flask import Flask

from server.extensions import db
from server.models import Subdistrict
from server.services.caseloop.case_numbers import next_number


def test_subdistricts_sharing_a_prefix_share_one_counter(app: Flask, world: World) -> None:
    day = date(2026, 12, 4)
    with app.app_context():
        first = db.session.get(Subdistrict, world.subdistrict_id)
        assert first is not None
        second = Subdistrict(code="999999001", name="第二街道", case_prefix=first.case_prefix)
        db.session.add(second)
        db.session.flush()
        numbers = [
            next_number(first.id, first.case_prefix, day),
            next_number(second.id, second.case_prefix, day),
            next_number(first.id, first.case_prefix, day),
        ]
        db.session.commit()
    prefix = numbers[0].split("-")[0]
    assert numbers == [f"{prefix}-20261204-{n:04d}" for n in (1, 2, 3)]


def test_subdistricts_with_their_own_prefix_count_apart(app: Flask, world: World) -> None:
    day = date(2026, 12, 4)
    with app.app_context():
        first = db.session.get(Subdistrict, world.subdistrict_id)
        assert first is not None
        other = Subdistrict(code="999999002", name="另一街道", case_prefix="ZZ")
        db.session.add(other)
        db.session.flush()
        mine = next_number(first.id, first.case_prefix, day)
        theirs = next_number(other.id, other.case_prefix, day)
        db.session.commit()
    assert mine.endswith("-20261204-0001")
    assert theirs == "ZZ-20261204-0001"
