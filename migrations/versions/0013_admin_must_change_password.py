"""users: must_change_password (an admin's reset); drop failed_logins and locked_until
(unused since sign-in throttling moved to the rate limiter, services/people/ratelimit.py)

Revision ID: 0013_admin_must_change_password
Revises: 0013_perfidx_slim_index
Create Date: 2026-12-03 18:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013_admin_must_change_password"
down_revision = "0013_perfidx_slim_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch.drop_column("must_change_password")
