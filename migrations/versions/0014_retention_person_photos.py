"""retention of photos of people: attachments.personal and removed_at, the sweep's indexes

Revision ID: 0014_retention_person_photos
Revises: 0013_perfq_case_search
Create Date: 2026-12-04 14:30:00

`personal` marks a photo showing people; services/upkeep/photo_retention.py removes its files
MINQING_PERSON_PHOTO_DAYS after every case and topic holding it ended and sets `removed_at`.
A partial index holds only the personal photos still stored (the sweep's candidates), and
`case_attachments.sha256` gets the index "which cases hold this photo" needs.
Adding columns does not rebuild `attachments` on SQLite (ALTER TABLE ADD COLUMN).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014_retention_person_photos"
down_revision = "0013_perfq_case_search"
branch_labels = None
depends_on = None

KEPT = "personal AND removed_at IS NULL"


def upgrade():
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(
            sa.Column("personal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_attachments_personal_kept",
        "attachments",
        ["created_at"],
        postgresql_where=sa.text(KEPT),
        sqlite_where=sa.text(KEPT),
    )
    op.create_index("ix_case_attachments_sha256", "case_attachments", ["sha256"])


def downgrade():
    op.drop_index("ix_case_attachments_sha256", table_name="case_attachments")
    op.drop_index("ix_attachments_personal_kept", table_name="attachments")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("personal")
