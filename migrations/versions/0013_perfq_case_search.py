"""queue text search indexed: pg_trgm GIN indexes (PostGIS), an FTS5 trigram table (SQLite)

Revision ID: 0013_perfq_case_search
Revises: 0013_interop2_channel
Create Date: 2026-12-03 18:00:00

The queue's `q` matches a substring of a case's description, number or address. On PostGIS
three trigram GIN indexes serve the same ILIKE the queue always ran. On SQLite an FTS5 table
with the trigram tokenizer (external content: the `cases` table, by rowid) is kept current by
three triggers.

**SQLite caveat for later migrations:** a batch migration that rebuilds `cases` on SQLite
drops these triggers with the old table (and may renumber rowids): such a migration must
run `recreate_sqlite_search()`'s statements again (copy them; revisions import no app
code). tests/integration/test_case_search.py fails if the triggers are missing at head.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_perfq_case_search'
down_revision = "0013_interop2_channel"
branch_labels = None
depends_on = None

PG_INDEXES = {
    "ix_cases_description_trgm": "description",
    "ix_cases_number_trgm": "number",
    "ix_cases_address_trgm": "address",
}

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS cases_search_ai",
    "DROP TRIGGER IF EXISTS cases_search_ad",
    "DROP TRIGGER IF EXISTS cases_search_au",
    "DROP TABLE IF EXISTS cases_search",
]

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE cases_search USING fts5("
    "description, number, address, content='cases', content_rowid='rowid', "
    "tokenize='trigram')",
    "CREATE TRIGGER cases_search_ai AFTER INSERT ON cases BEGIN "
    "INSERT INTO cases_search (rowid, description, number, address) "
    "VALUES (new.rowid, new.description, new.number, new.address); END",
    "CREATE TRIGGER cases_search_ad AFTER DELETE ON cases BEGIN "
    "INSERT INTO cases_search (cases_search, rowid, description, number, address) "
    "VALUES ('delete', old.rowid, old.description, old.number, old.address); END",
    "CREATE TRIGGER cases_search_au AFTER UPDATE OF description, number, address ON cases "
    "BEGIN "
    "INSERT INTO cases_search (cases_search, rowid, description, number, address) "
    "VALUES ('delete', old.rowid, old.description, old.number, old.address); "
    "INSERT INTO cases_search (rowid, description, number, address) "
    "VALUES (new.rowid, new.description, new.number, new.address); END",
    "INSERT INTO cases_search (cases_search) VALUES ('rebuild')",
]


def recreate_sqlite_search():
    for statement in SQLITE_DROP + SQLITE_CREATE:
        op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, column in PG_INDEXES.items():
            op.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON cases USING gin ({column} gin_trgm_ops)"
            )
    else:
        recreate_sqlite_search()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    else:
        for statement in SQLITE_DROP:
            op.execute(statement)
