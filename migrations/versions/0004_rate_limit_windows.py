"""rate limit windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 16:44:59.072725

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('rate_limit_windows',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_windows'))
    )



def downgrade():

    op.drop_table('rate_limit_windows')

