"""indexes for the daily index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 17:46:22.560520

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index('ix_case_events_action_created', ['action', 'created_at'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_scope_closed', ['subdistrict_id', 'closed_at'], unique=False)
        batch_op.create_index('ix_cases_scope_reported', ['subdistrict_id', 'reported_at'], unique=False)




def downgrade():

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_scope_reported')
        batch_op.drop_index('ix_cases_scope_closed')

    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_case_events_action_created')


