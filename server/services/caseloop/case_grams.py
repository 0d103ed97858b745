"""The queue search's character grams on SQLite: every character and every pair of adjacent
characters of a case's searchable text, hex-encoded for the FTS5 table `cases_search_grams`
(migration 0015_search_bigrams), which its triggers fill through the SQL function
`case_search_grams` registered here on every connection.

Folded as SQLite's LIKE folds (ASCII letters only), so a needle's grams are among the grams
of every case its LIKE finds.
"""

from __future__ import annotations

from typing import Any

SQL_FUNCTION = "case_search_grams"

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(text: str) -> str:
    """ASCII letters to lower case, as SQLite's LIKE compares them."""
    return text.translate(_ASCII_LOWER)


def token(gram: str) -> str:
    """One gram (one or two characters, folded) as the FTS5 token that stands for it."""
    return gram.encode().hex()


def grams(description: str | None, number: str | None, address: str | None) -> str:
    """The FTS5 document of a case: its distinct grams' tokens, space-separated. The
    migration holds a copy; both must give the same text (the delete trigger recomputes it)."""
    text = fold("\n".join(p or "" for p in (description, number, address)))
    found = set(text)
    found.update(text[i : i + 2] for i in range(len(text) - 1))
    return " ".join(sorted(token(g) for g in found))


def install(dbapi_conn: Any) -> None:
    """Register `case_search_grams(description, number, address)` on a SQLite connection."""
    dbapi_conn.create_function(SQL_FUNCTION, 3, grams, deterministic=True)
