"""The queue's text search (`q`): a substring of a case's description, number or address.

Indexed on both backends (migration 0013_perfq_case_search):

- PostGIS: trigram GIN indexes (pg_trgm) on the three columns serve the very ILIKE the queue
  has always run; the planner picks them for a needle of three characters or more.
- SQLite: an FTS5 table with the trigram tokenizer over the same columns (kept by triggers);
  a needle of three characters or more is an FTS phrase (a substring, case-insensitive), a
  shorter one falls back to LIKE (trigram indexes cannot answer it on either backend).

Chinese has no spaces between words, so a two-character word (e.g. 垃圾) is a two-character
needle: found on both backends, by the fallback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column, or_, select, table

from server.models import Case
from server.services.territory.spatial import backend

FTS_MIN_CHARS = 3  # a trigram index can only answer needles of at least one trigram

_fts = table("cases_search")


def _like(text: str) -> Any:
    # `%` and `_` typed by the user are text, not wildcards
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    needle = f"%{escaped}%"
    return or_(
        Case.description.ilike(needle, escape="\\"),
        Case.number.ilike(needle, escape="\\"),
        Case.address.ilike(needle, escape="\\"),
    )


def matches(q: str) -> Any:
    """A WHERE clause on `cases`: the case's text holds `q` (stripped)."""
    text = q.strip()
    if backend() == "sqlite" and len(text) >= FTS_MIN_CHARS:
        phrase = '"' + text.replace('"', '""') + '"'
        hits = (
            select(literal_column("rowid"))
            .select_from(_fts)
            .where(literal_column("cases_search").op("MATCH")(phrase))
        )
        return literal_column("cases.rowid").in_(hits)
    return _like(text)
