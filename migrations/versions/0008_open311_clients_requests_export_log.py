"""open311 clients and requests, export log

Revision ID: 0008_open311
Revises: 0007
Create Date: 2026-12-03 14:50:57.818085

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_open311'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('export_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_logs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_logs'))
    )
    with op.batch_alter_table('export_logs', schema=None) as batch_op:
        batch_op.create_index('ix_export_logs_created', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_logs_user_id'), ['user_id'], unique=False)

    op.create_table('open311_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=True),
    sa.Column('requests_per_hour', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_open311_clients_issued_by_id_users')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_open311_clients_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_clients')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_open311_clients_key_hash'))
    )
    op.create_table('open311_requests',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('media_url', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_open311_requests_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['open311_clients.id'], name=op.f('fk_open311_requests_client_id_open311_clients')),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_open311_requests')),
    sa.UniqueConstraint('case_id', name=op.f('uq_open311_requests_case_id'))
    )
    with op.batch_alter_table('open311_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_requests_client_id'), ['client_id'], unique=False)




def downgrade():
    
    with op.batch_alter_table('open311_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_requests_client_id'))

    op.drop_table('open311_requests')
    op.drop_table('open311_clients')
    with op.batch_alter_table('export_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_logs_user_id'))
        batch_op.drop_index('ix_export_logs_created')

    op.drop_table('export_logs')

