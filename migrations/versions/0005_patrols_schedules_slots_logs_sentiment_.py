"""patrols, schedules, slots, logs, sentiment index, bulletins

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:57:20.506579

"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('sentiment_index',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('formula_version', sa.String(length=16), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("level IN ('grid', 'community')", name=op.f('ck_sentiment_index_level')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_sentiment_index_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sentiment_index')),
    sa.UniqueConstraint('day', 'level', 'area_id', name='day_level_area')
    )
    with op.batch_alter_table('sentiment_index', schema=None) as batch_op:
        batch_op.create_index('ix_sentiment_index_area_day', ['level', 'area_id', 'day'], unique=False)
        batch_op.create_index('ix_sentiment_index_scope_day', ['subdistrict_id', 'level', 'day'], unique=False)

    op.create_table('bulletins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('previous', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_bulletins_community_id_communities')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_bulletins_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletins')),
    sa.UniqueConstraint('day', 'community_id', name='day_community')
    )
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletins_day'), ['day'], unique=False)

    op.create_table('patrol_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collector_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('times', sa.JSON(), nullable=False),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('tolerance_minutes', sa.Integer(), nullable=False),
    sa.Column('skip_holidays', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['collector_id'], ['users.id'], name=op.f('fk_patrol_schedules_collector_id_users')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_patrol_schedules_grid_id_grids')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_schedules'))
    )
    with op.batch_alter_table('patrol_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_schedules_collector_id'), ['collector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_schedules_grid_id'), ['grid_id'], unique=False)

    op.create_geospatial_table('patrols',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('collector_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.Column('track', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('time_inside_s', sa.Float(), nullable=True),
    sa.Column('coverage', sa.Float(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('plausible', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("status IN ('active', 'ended')", name=op.f('ck_patrols_status')),
    sa.ForeignKeyConstraint(['collector_id'], ['users.id'], name=op.f('fk_patrols_collector_id_users')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_patrols_device_id_devices')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_patrols_grid_id_grids')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_patrols_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrols'))
    )
    with op.batch_alter_table('patrols', schema=None) as batch_op:
        batch_op.create_index('ix_patrols_collector_started', ['collector_id', 'started_at'], unique=False)
        batch_op.create_index('ix_patrols_grid_started', ['grid_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrols_subdistrict_id'), ['subdistrict_id'], unique=False)

    op.create_geospatial_table('patrol_logs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('patrol_id', sa.String(length=64), nullable=True),
    sa.Column('collector_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('logged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_patrol_logs_case_id_cases')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_patrol_logs_category_id_categories')),
    sa.ForeignKeyConstraint(['collector_id'], ['users.id'], name=op.f('fk_patrol_logs_collector_id_users')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_patrol_logs_grid_id_grids')),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrols.id'], name=op.f('fk_patrol_logs_patrol_id_patrols')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_patrol_logs_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_logs'))
    )
    with op.batch_alter_table('patrol_logs', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_logs_collector_logged', ['collector_id', 'logged_at'], unique=False)
        batch_op.create_index('ix_patrol_logs_grid_logged', ['grid_id', 'logged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_logs_patrol_id'), ['patrol_id'], unique=False)

    op.create_table('patrol_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('collector_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('patrol_id', sa.String(length=64), nullable=True),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('done', 'missed')", name=op.f('ck_patrol_slots_status')),
    sa.ForeignKeyConstraint(['collector_id'], ['users.id'], name=op.f('fk_patrol_slots_collector_id_users')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_patrol_slots_grid_id_grids')),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrols.id'], name=op.f('fk_patrol_slots_patrol_id_patrols')),
    sa.ForeignKeyConstraint(['schedule_id'], ['patrol_schedules.id'], name=op.f('fk_patrol_slots_schedule_id_patrol_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_slots')),
    sa.UniqueConstraint('schedule_id', 'due_at', name='schedule_due')
    )
    with op.batch_alter_table('patrol_slots', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_slots_collector_due', ['collector_id', 'due_at'], unique=False)
        batch_op.create_index('ix_patrol_slots_grid_due', ['grid_id', 'due_at'], unique=False)




def downgrade():

    with op.batch_alter_table('patrol_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_slots_grid_due')
        batch_op.drop_index('ix_patrol_slots_collector_due')

    op.drop_table('patrol_slots')
    with op.batch_alter_table('patrol_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_logs_patrol_id'))
        batch_op.drop_index('ix_patrol_logs_grid_logged')
        batch_op.drop_index('ix_patrol_logs_collector_logged')

    op.drop_geospatial_table('patrol_logs')
    with op.batch_alter_table('patrols', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrols_subdistrict_id'))
        batch_op.drop_index('ix_patrols_grid_started')
        batch_op.drop_index('ix_patrols_collector_started')

    op.drop_geospatial_table('patrols')
    with op.batch_alter_table('patrol_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_schedules_grid_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_schedules_collector_id'))

    op.drop_table('patrol_schedules')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletins_day'))

    op.drop_table('bulletins')
    with op.batch_alter_table('sentiment_index', schema=None) as batch_op:
        batch_op.drop_index('ix_sentiment_index_scope_day')
        batch_op.drop_index('ix_sentiment_index_area_day')

    op.drop_table('sentiment_index')

