"""cases.channel (open311 / 12345), 12345 work orders and their category table

Revision ID: 0013_interop2_channel
Revises: 0013_dispatch_routing_rules
Create Date: 2026-12-03 18:00:00

A case's `source` says who raised it (resident, hotline, …); the new `channel` says by which
outside system it came (open311, 12345). Open311 requests filed before this revision get
their channel from `open311_requests`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_interop2_channel'
down_revision = "0013_dispatch_routing_rules"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch): SQLite need not rebuild the spatial cases table.
    op.add_column('cases', sa.Column('channel', sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE cases SET channel = 'open311' "
        "WHERE id IN (SELECT case_id FROM open311_requests)"
    )
    op.create_table('hotline_categories',
    sa.Column('text', sa.String(length=100), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_hotline_categories_category_id_categories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('text', name=op.f('pk_hotline_categories'))
    )
    op.create_table('hotline_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('category_text', sa.String(length=100), nullable=True),
    sa.Column('source_file', sa.String(length=200), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_hotline_orders_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_hotline_orders_imported_by_id_users')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_hotline_orders_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline_orders')),
    sa.UniqueConstraint('case_id', name=op.f('uq_hotline_orders_case_id')),
    sa.UniqueConstraint('order_no', name=op.f('uq_hotline_orders_order_no'))
    )
    with op.batch_alter_table('hotline_orders', schema=None) as batch_op:
        batch_op.create_index('ix_hotline_orders_scope_imported', ['subdistrict_id', 'imported_at'], unique=False)


def downgrade():
    with op.batch_alter_table('hotline_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_hotline_orders_scope_imported')
    op.drop_table('hotline_orders')
    op.drop_table('hotline_categories')
    # a plain DROP COLUMN (SQLite ≥ 3.35): no rebuild of the spatial cases table
    op.drop_column('cases', 'channel')
