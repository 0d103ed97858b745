"""queue text search: one- and two-character needles indexed (character grams)

Revision ID: 0015_search_bigrams
Revises: 0014_retention_person_photos
Create Date: 2026-12-04 14:30:00

Chinese words are mostly two characters, and a trigram index cannot answer a needle shorter
than three. This revision indexes every character and every pair of adjacent characters of
a case's searchable text (description, number, address; case-folded as the search folds):

- PostGIS: a GIN index on the expression `case_search_grams(description, number, address)`,
  an immutable PL/pgSQL function giving the unigrams and bigrams of
  `lower(concat_ws(E'\\n', ...))`; `case_search_needle_grams(q)` gives a needle's bigrams
  (or its one character). The index narrows, the queue's ILIKE rechecks.
- SQLite: a contentless FTS5 table `cases_search_grams` (detail=none) whose one column holds
  the grams hex-encoded (UTF-8, so no tokenizer splits or folds CJK), written by three
  triggers through the SQL function `case_search_grams`, which the app registers on every
  connection (server.services.caseloop.case_grams; this revision registers its own copy on
  the migration's connection: revisions import no app code). A process that writes `cases`
  without that function (the sqlite3 shell) fails with "no such function".

**SQLite caveat for later migrations:** as for 0013_perfq_case_search, a batch migration
that rebuilds `cases` drops these triggers and may renumber rowids: run
`recreate_sqlite_grams()`'s statements again (copy them and `_grams`).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_search_bigrams"
down_revision = "0014_retention_person_photos"
branch_labels = None
depends_on = None

PG_CREATE = [
    # the characters and pairs of adjacent characters of a case's searchable text (PL/pgSQL:
    # measured 12 µs a case against 52–225 µs for set-based SQL versions; GIN drops repeats)
    "CREATE OR REPLACE FUNCTION case_search_grams(d text, n text, a text) RETURNS text[] "
    # COST 10: dearer than the ILIKE, which a filter then runs first, yet not so dear that
    # the planner shuns a scan in the page's order for a common needle
    "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 10 AS $$ "
    "DECLARE t text := lower(concat_ws(E'\\n', d, n, a)); c text[]; r text[]; "
    "BEGIN "
    "IF t = '' THEN RETURN '{}'::text[]; END IF; "
    "c := regexp_split_to_array(t, ''); r := c; "
    "FOR i IN 1 .. cardinality(c) - 1 LOOP r := r || (c[i] || c[i + 1]); END LOOP; "
    "RETURN r; "
    "END $$",
    # what a needle's cases must all hold: its pairs (or its one character)
    "CREATE OR REPLACE FUNCTION case_search_needle_grams(q text) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ "
    "SELECT CASE WHEN length(s.t) < 2 THEN ARRAY[s.t] ELSE ARRAY("
    "SELECT DISTINCT substr(s.t, i, 2) FROM generate_series(1, length(s.t) - 1) AS i) END "
    "FROM (SELECT lower(q) AS t) AS s $$",
    "CREATE INDEX IF NOT EXISTS ix_cases_search_grams ON cases "
    "USING gin (case_search_grams(description, number, address))",
    "ANALYZE cases",  # the expression's statistics, for the planner's estimates
]

PG_DROP = [
    "DROP INDEX IF EXISTS ix_cases_search_grams",
    "DROP FUNCTION IF EXISTS case_search_needle_grams(text)",
    "DROP FUNCTION IF EXISTS case_search_grams(text, text, text)",
]

SQLITE_DROP = [
    "DROP TABLE IF EXISTS cases_search_vocab",
    "DROP TABLE IF EXISTS cases_search_grams_vocab",
    "DROP TRIGGER IF EXISTS cases_search_grams_ai",
    "DROP TRIGGER IF EXISTS cases_search_grams_ad",
    "DROP TRIGGER IF EXISTS cases_search_grams_au",
    "DROP TABLE IF EXISTS cases_search_grams",
]

_GRAMS_NEW = "case_search_grams(new.description, new.number, new.address)"
_GRAMS_OLD = "case_search_grams(old.description, old.number, old.address)"

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE cases_search_grams USING fts5("
    "grams, content='', detail=none, columnsize=0, tokenize='ascii')",
    "CREATE TRIGGER cases_search_grams_ai AFTER INSERT ON cases BEGIN "
    f"INSERT INTO cases_search_grams (rowid, grams) VALUES (new.rowid, {_GRAMS_NEW}); END",
    "CREATE TRIGGER cases_search_grams_ad AFTER DELETE ON cases BEGIN "
    "INSERT INTO cases_search_grams (cases_search_grams, rowid, grams) "
    f"VALUES ('delete', old.rowid, {_GRAMS_OLD}); END",
    "CREATE TRIGGER cases_search_grams_au AFTER UPDATE OF description, number, address "
    "ON cases BEGIN "
    "INSERT INTO cases_search_grams (cases_search_grams, rowid, grams) "
    f"VALUES ('delete', old.rowid, {_GRAMS_OLD}); "
    f"INSERT INTO cases_search_grams (rowid, grams) VALUES (new.rowid, {_GRAMS_NEW}); END",
    "INSERT INTO cases_search_grams (rowid, grams) "
    "SELECT rowid, case_search_grams(description, number, address) FROM cases",
    # how many cases hold a gram: the search leaves a common one to the LIKE
    "CREATE VIRTUAL TABLE cases_search_grams_vocab USING fts5vocab(cases_search_grams, 'row')",
    # the same for 0013's trigram table
    "CREATE VIRTUAL TABLE cases_search_vocab USING fts5vocab(cases_search, 'row')",
]

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _grams(description, number, address):
    """A copy of server.services.caseloop.case_grams.grams (tests check they agree)."""
    text = "\n".join(p or "" for p in (description, number, address)).translate(_ASCII_LOWER)
    found = set(text)
    found.update(text[i : i + 2] for i in range(len(text) - 1))
    return " ".join(sorted(g.encode().hex() for g in found))


def recreate_sqlite_grams():
    raw = op.get_bind().connection.driver_connection
    raw.create_function("case_search_grams", 3, _grams, deterministic=True)
    for statement in SQLITE_DROP + SQLITE_CREATE:
        op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_CREATE:
            op.execute(statement)
    else:
        recreate_sqlite_grams()


def downgrade():
    statements = PG_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP
    for statement in statements:
        op.execute(statement)
