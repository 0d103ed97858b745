"""The queue's text search (`q`): a substring of a case's description, number or address.

Indexed on both backends, for every needle length; the index only narrows, the same LIKE as
always decides (ILIKE on PostGIS, LIKE on SQLite; `%` and `_` are text, not wildcards):

- three characters or more (migration 0013_perfq_case_search): on PostGIS trigram GIN
  indexes (pg_trgm) serve the ILIKE itself; on SQLite an FTS5 table with the trigram
  tokenizer (kept by triggers) gives the candidates as an FTS phrase — unless the phrase
  itself is common: when each of its trigrams is held by more than COMMON_GRAM_CASES cases
  (the fts5vocab counts), the phrase's matches are counted up to that bound (a case number
  such as `BN-00000123` is made of common trigrams but is held by one case; the bounded count
  stops early for a common phrase, ~2 ms at 1M cases) and, if fewer, are the candidates.
- one or two characters (migration 0015_search_bigrams), which trigrams cannot answer:
  an index of every character and every pair of adjacent characters of the case's text.
  On PostGIS a GIN index on `case_search_grams(description, number, address)` (a text
  array) answers `@> case_search_needle_grams(q)`; on SQLite an FTS5 table of the grams,
  hex-encoded (server.services.caseloop.case_grams), answers the needle's one token —
  unless more than COMMON_GRAM_CASES cases hold it (its fts5vocab count): SQLite cannot
  weigh a MATCH against a scan in the page's order, which finds a page of a common word
  sooner than the index's thousands of rows sorted. PostgreSQL's planner weighs it itself.

Chinese has no spaces between words, so a two-character word (e.g. 垃圾) is a two-character
needle: found through the gram index on both backends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, table
from sqlalchemy import text as sql_text

from server.models import Case
from server.services.caseloop import case_grams
from server.services.territory.spatial import backend

FTS_MIN_CHARS = 3  # a trigram index can only answer needles of at least one trigram
COMMON_GRAM_CASES = 5_000  # SQLite: a gram held by more cases is left to the LIKE

_fts = table("cases_search")
_grams = table("cases_search_grams")


def _like(text: str) -> Any:
    # `%` and `_` typed by the user are text, not wildcards
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    needle = f"%{escaped}%"
    return or_(
        Case.description.ilike(needle, escape="\\"),
        Case.number.ilike(needle, escape="\\"),
        Case.address.ilike(needle, escape="\\"),
    )


def _fts_rows(fts: Any, name: str, query: str) -> Any:
    """`cases.rowid IN (the rows of FTS5 table `fts` that match `query`)`."""
    hits: Any = (
        select(literal_column("rowid"))
        .select_from(fts)
        .where(literal_column(name).op("MATCH")(query))
    )
    return literal_column("cases.rowid").in_(hits)


def _candidates(text: str) -> Any | None:
    """The index's narrowing of the cases for a non-empty needle, or None where the LIKE
    itself is indexed (trigrams on PostGIS) or alone is faster (a common gram on SQLite)."""
    sqlite = backend() == "sqlite"
    if len(text) >= FTS_MIN_CHARS:
        if not sqlite:
            return None
        phrase = '"' + text.replace('"', '""') + '"'
        if _common_trigrams(text):
            holders = _phrase_holders(phrase)
            if holders is None:
                return None
            # the phrase's few cases, found once: the page's query does not match it again
            found = select(literal_column("value")).select_from(func.json_each(holders))
            return literal_column("cases.rowid").in_(found)
        return _fts_rows(_fts, "cases_search", phrase)
    if sqlite:
        # folded as LIKE folds: one gram (the needle is one or two characters), one token
        token = case_grams.token(case_grams.fold(text))
        if _cases_holding(token) > COMMON_GRAM_CASES:
            return None
        return _fts_rows(_grams, "cases_search_grams", token)
    row_grams = func.case_search_grams(Case.description, Case.number, Case.address)
    return row_grams.op("@>", is_comparison=True)(func.case_search_needle_grams(text))


def _cases_holding(token: str) -> int:
    """How many cases' text holds the gram `token` (SQLite's gram vocabulary, ~0.1 ms)."""
    from server.extensions import db

    docs = db.session.scalar(
        sql_text("SELECT doc FROM cases_search_grams_vocab WHERE term = :term"), {"term": token}
    )
    return int(docs or 0)


def _common_trigrams(text: str) -> bool:
    """Whether every trigram of the needle is held by more than COMMON_GRAM_CASES cases
    (SQLite's trigram vocabulary): then the phrase may match thousands, and the LIKE alone
    fills a page sooner. Folded as Python folds, which may differ from FTS5 on some letters:
    a trigram not found counts as rare, so a miss costs speed, never an answer."""
    from server.extensions import db

    folded = text.lower()
    trigrams = sorted({folded[i : i + 3] for i in range(len(folded) - 2)})
    counts = list(
        db.session.scalars(
            sql_text("SELECT doc FROM cases_search_vocab WHERE term IN :terms").bindparams(
                bindparam("terms", expanding=True)
            ),
            {"terms": trigrams},
        )
    )
    return len(counts) == len(trigrams) and min(counts) > COMMON_GRAM_CASES


def _phrase_holders(phrase: str) -> str | None:
    """The rowids of the cases whose text holds the FTS phrase, as a JSON array, or None when
    more than COMMON_GRAM_CASES do (counting stops there)."""
    from server.extensions import db

    rowids = list(
        db.session.scalars(
            sql_text(
                "SELECT rowid FROM cases_search WHERE cases_search MATCH :phrase LIMIT :bound"
            ),
            {"phrase": phrase, "bound": COMMON_GRAM_CASES + 1},
        )
    )
    if len(rowids) > COMMON_GRAM_CASES:
        return None
    return "[" + ",".join(str(int(r)) for r in rowids) + "]"


def matches(q: str) -> Any:
    """A WHERE clause on `cases`: the case's text holds `q` (stripped)."""
    text = q.strip()
    like = _like(text)
    narrowed = _candidates(text) if text else None
    return like if narrowed is None else and_(narrowed, like)
