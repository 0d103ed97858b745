"""Retention of photos of people: does the daily sweep cost what is due, not the history?

    python bench/retention_photos.py --cases 20000 --photos 5000 --logs 100000 \
        --backend spatialite --backend postgis

Fills the demo subdistrict with synthetic cases over a year (bench/cases.py's generator:
55 % closed, 4 % rejected, 1 % merged, the rest open) and photos linked to them (one case
each, every tenth also to a second case), a share of them flagged `personal`, with small
files on disk. Then times, in the same run and on the same data:

- baseline: one plain SELECT of the personal photos due (NOT EXISTS an open or recent case
  holding them) — the least any sweep must read;
- the first run of `photo_retention.remove_due` (everything due at once: files deleted, rows
  marked, cases touched for sync, committed);
- the baseline and the sweep again "the next day" (now + 1 day): what became due in a day.

With `--logs N`, N patrol logs (each listing one to three of the photos in its `photos` JSON,
as phones push them) are there too: the sweep then also marks every log listing a removed
photo changed for sync (one INSERT … SELECT over the logs' JSON lists at the commit), and
"re-synced" counts the records it stamped.

Deleting files (three per photo) is timed apart: it is the file system's cost, not the
query's; "DB part" is the sweep without it.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import fresh_app
from cases import load
from sqlalchemy import insert, select, text

DUE_SQL = """
SELECT count(*) FROM attachments a
WHERE a.personal AND a.removed_at IS NULL AND a.created_at < :cutoff
  AND NOT EXISTS (
    SELECT 1 FROM case_attachments ca JOIN cases c ON c.id = ca.case_id
    WHERE ca.sha256 = a.sha256
      AND (c.status NOT IN ('closed', 'rejected', 'merged')
           OR coalesce(c.closed_at, c.updated_at) >= :cutoff))
"""


def _photos(n: int, personal_share: float, rng: random.Random) -> dict[str, Any]:
    """Attachment rows and their case links, on the cases already loaded."""
    from server.extensions import db
    from server.models import Attachment, Case, CaseAttachment
    from server.services.files import attachments, media

    cases = db.session.execute(select(Case.id, Case.created_at)).all()
    rows, links = [], []
    for i in range(n):
        case_id, created = rng.choice(cases)
        sha = f"{i:064x}"
        rows.append(
            {
                "sha256": sha,
                "size": 100,
                "mime": "image/jpeg",
                "width": 64,
                "height": 48,
                "had_gps": False,
                "thumbnail_ready": True,
                "created_at": created,
                "personal": rng.random() < personal_share,
            }
        )
        links.append({"case_id": case_id, "sha256": sha, "role": "report", "created_at": created})
        if i % 10 == 0:
            other, _ = rng.choice(cases)
            if other != case_id:
                links.append(
                    {"case_id": other, "sha256": sha, "role": "result", "created_at": created}
                )
        for path in (
            attachments.path_for(sha, "original"),
            attachments.path_for(sha, "public", mime="image/jpeg"),
            attachments.path_for(sha, "thumb"),
        ):
            media.write_once(path, b"\xff\xd8bench\xff\xd9")
    for offset in range(0, len(rows), 2000):
        db.session.execute(insert(Attachment.__table__), rows[offset : offset + 2000])
    for offset in range(0, len(links), 2000):
        db.session.execute(insert(CaseAttachment.__table__), links[offset : offset + 2000])
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return {"personal": sum(r["personal"] for r in rows), "links": len(links)}


def _logs(n: int, n_photos: int, rng: random.Random) -> None:
    """N patrol logs of the demo's first collector, each listing 1–3 of the photos."""
    from server.extensions import db
    from server.models import Grid, PatrolLog, User

    if not n:
        return
    grid = db.session.scalars(select(Grid)).first()
    assert grid is not None
    user = db.session.scalar(select(User.id).where(User.role == "collector"))
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        shas = [f"{rng.randrange(n_photos):064x}" for _ in range(rng.randint(1, 3))]
        at = now - timedelta(minutes=i * 5)
        rows.append(
            {
                "id": f"bench-log-{i:08d}",
                "collector_id": user,
                "grid_id": grid.id,
                "subdistrict_id": grid.subdistrict_id,
                "text": "巡查",
                "point": "SRID=4326;POINT(119.4 32.39)",
                "lon": 119.4,
                "lat": 32.39,
                "photos": shas,
                "logged_at": at,
                "created_at": at,
                "updated_at": at,
            }
        )
    for offset in range(0, len(rows), 2000):
        db.session.execute(insert(PatrolLog.__table__), rows[offset : offset + 2000])
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _clock() -> int:
    from server.extensions import db

    value = db.session.execute(text("SELECT coalesce(max(cursor), 0) FROM sync_rows")).scalar()
    db.session.rollback()
    return int(value or 0)


def _stamped_after(cursor: int) -> int:
    """Records the change log stamped after `cursor` (what phones pull again)."""
    from server.extensions import db

    count = db.session.execute(
        text("SELECT count(*) FROM sync_rows WHERE cursor > :c"), {"c": cursor}
    ).scalar()
    db.session.rollback()
    return int(count or 0)


def _baseline(now: datetime, days: int, repeat: int = 5) -> tuple[int, float]:
    from server.extensions import db

    times, count = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        count = int(
            db.session.execute(text(DUE_SQL), {"cutoff": now - timedelta(days=days)}).scalar() or 0
        )
        times.append(time.perf_counter() - began)
        db.session.rollback()
    return count, sorted(times)[len(times) // 2]


def _sweep(now: datetime) -> tuple[int, float, float]:
    """Photos removed, seconds in all, and seconds of them spent deleting files."""
    from server.services.uow import unit_of_work
    from server.services.upkeep import photo_retention

    unlinking = [0.0]
    unlink = Path.unlink

    def timed_unlink(self: Path, missing_ok: bool = False) -> None:
        began = time.perf_counter()
        unlink(self, missing_ok=missing_ok)
        unlinking[0] += time.perf_counter() - began

    Path.unlink = timed_unlink  # type: ignore[method-assign]
    try:
        began = time.perf_counter()
        with unit_of_work(now=now) as uow:
            removed = photo_retention.remove_due(uow)
        return removed, time.perf_counter() - began, unlinking[0]
    finally:
        Path.unlink = unlink  # type: ignore[method-assign]


def run(backend: str, n_cases: int, n_photos: int, share: float, n_logs: int = 0) -> None:
    from exports import centre

    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Category, Grid, Subdistrict
    from server.services.uow import unit_of_work

    app = fresh_app(backend)
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        rng = random.Random(7)
        ctx = {
            "grids": [(g.id, g.community_id, *centre(g)) for g in db.session.scalars(select(Grid))],
            "categories": list(db.session.scalars(select(Category.id))),
            "subdistrict_id": db.session.scalar(select(Subdistrict.id)),
            "rng": rng,
        }
        load(n_cases, 0, ctx)
        made = _photos(n_photos, share, rng)
        _logs(n_logs, n_photos, rng)
        days = int(app.config["PERSON_PHOTO_DAYS"])
        print(
            f"\n## {backend}: {n_cases:,} cases, {n_photos:,} photos "
            f"({made['personal']:,} personal, {made['links']:,} links), {n_logs:,} logs, "
            f"{days} days"
        )
        print(
            f"  {'run':<10} {'due (SELECT)':>12} {'SELECT ms':>10} {'removed':>8} "
            f"{'sweep ms':>9} {'of it files':>11} {'DB part ms':>10} {'re-synced':>9}"
        )
        now = datetime.now(UTC)
        for label, at in (("first", now), ("next day", now + timedelta(days=1))):
            due, select_s = _baseline(at, days)
            clock = _clock()
            removed, sweep_s, files_s = _sweep(at)
            assert removed == due, (removed, due)
            print(
                f"  {label:<10} {due:>12,} {select_s * 1000:>10.1f} {removed:>8,} "
                f"{sweep_s * 1000:>9.1f} {files_s * 1000:>11.1f} "
                f"{(sweep_s - files_s) * 1000:>10.1f} {_stamped_after(clock):>9,}"
            )
        again, _ = _baseline(now + timedelta(days=1), days, repeat=1)
        assert again == 0, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--photos", type=int, default=5_000)
    parser.add_argument("--personal-share", type=float, default=0.4)
    parser.add_argument("--logs", type=int, default=0, help="patrol logs listing the photos")
    parser.add_argument("--backend", action="append", choices=["spatialite", "postgis"])
    args, _ = parser.parse_known_args()
    for backend in args.backend or ["spatialite", "postgis"]:
        run(backend, args.cases, args.photos, args.personal_share, args.logs)


if __name__ == "__main__":
    main()
