"""One inbox entry per 12345 import: the dispatchers hear of a file once, not once per row.

Each imported work order is a case like any report, and its `case.reported` webhook goes
out per case as always (integrations count on them). The dispatchers' inbox is different:
a file of 3,000 orders would bury everything else. So `import_orders` creates its cases with
`inbox=False` and then, per subdistrict the file touched, each active dispatcher there (the
importer excepted, as for any event they cause) gets one `hotline.imported` entry — "12345
工单导入：新建 N 件，其中待定位 M 件" — whose link opens the queue on exactly those cases:
source `hotline` and the import's time (`imported_at`: every order of one import carries the
same `hotline_orders.imported_at`, and the entry is stamped with it). No webhook is sent for
the digest itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.services.messaging import notify
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

EVENT = "hotline.imported"
SOURCE = "hotline"


@dataclass
class Tally:
    """What one import created in one subdistrict."""

    created: int = 0
    unlocated: int = 0


def titles(tally: Tally) -> tuple[str, str]:
    """The entry's Chinese and English titles."""
    zh = f"12345 工单导入：新建 {tally.created} 件"
    en = f"12345 import: {tally.created} case{'s' if tally.created != 1 else ''}"
    if tally.unlocated:
        zh += f"，其中待定位 {tally.unlocated} 件"
        en += f", {tally.unlocated} unlocated"
    return zh, en


def body(filename: str, tally: Tally) -> str:
    lines = [f"文件：{filename}"]
    if tally.unlocated:
        lines.append("待定位事项须先在工作台确定位置才能派遣。")
    return "\n".join(lines)


def tell_dispatchers(
    uow: UnitOfWork, principal: Principal, filename: str, tallies: Mapping[int, Tally]
) -> None:
    """The digest entries of an import, stamped with its time (`uow.now`). No commit."""
    for subdistrict_id, tally in sorted(tallies.items()):
        if tally.created <= 0:
            continue
        zh, en = titles(tally)
        recipients = [u for u in notify.dispatcher_ids(subdistrict_id) if u != principal.user_id]
        notify.notify_users(
            recipients,
            event=EVENT,
            title=zh,
            title_en=en,
            body=body(filename, tally),
            at=uow.now,
        )


def queue_filter(event: str, created_at: datetime | None) -> dict[str, Any] | None:
    """The case-list filter a digest entry points at (`source`, `imported_at` in ISO UTC),
    or None for any other entry."""
    if event != EVENT or created_at is None:
        return None
    return {"source": SOURCE, "imported_at": notify.iso_utc(created_at)}


def tally(rows: Iterable[tuple[int, bool]]) -> dict[int, Tally]:
    """Per subdistrict: how many cases were created, and how many of them unlocated."""
    out: dict[int, Tally] = {}
    for subdistrict_id, placed in rows:
        t = out.setdefault(subdistrict_id, Tally())
        t.created += 1
        if not placed:
            t.unlocated += 1
    return out
