"""holiday calendars loaded by an admin: holiday_years

Revision ID: 0011_holidays
Revises: 0010_audit_chain
Create Date: 2026-12-03 15:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_holidays'
down_revision = '0010_audit_chain'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holiday_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('workdays', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_holiday_years'))
    )


def downgrade():
    op.drop_table('holiday_years')
