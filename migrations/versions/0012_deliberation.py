"""deliberation topics council codes views notices

Revision ID: 0012_deliberation
Revises: 0011_holidays
Create Date: 2026-12-03 15:36:29.053128

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_deliberation'
down_revision = '0011_holidays'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('council_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('organisation', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("kind IN ('committee', 'resident_rep', 'unit_rep')", name=op.f('ck_council_members_kind')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_council_members_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_council_members'))
    )
    with op.batch_alter_table('council_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_council_members_community_id'), ['community_id'], unique=False)

    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('agenda', sa.JSON(), nullable=False),
    sa.Column('attendance', sa.JSON(), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_meetings_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_community_id'), ['community_id'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('published_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("category IN ('party', 'village', 'finance', 'service', 'affairs')", name=op.f('ck_notices_category')),
    sa.CheckConstraint('published_until > published_from', name=op.f('ck_notices_period')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_notices_community_id_communities')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_notices_created_by_id_users')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_notices_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_community_period', ['community_id', 'published_from'], unique=False)
        batch_op.create_index('ix_notices_scope_period', ['subdistrict_id', 'published_until'], unique=False)

    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_token', sa.String(length=64), nullable=False),
    sa.Column('subdistrict_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=True),
    sa.Column('proposer_name', sa.String(length=50), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage_entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('votes_for', sa.Integer(), nullable=True),
    sa.Column('votes_against', sa.Integer(), nullable=True),
    sa.Column('votes_abstain', sa.Integer(), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("source IN ('resident', 'collector', 'dispatcher', 'admin', 'case')", name=op.f('ck_topics_source')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_topics_community_id_communities')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_topics_raised_by_id_users')),
    sa.ForeignKeyConstraint(['subdistrict_id'], ['subdistricts.id'], name=op.f('fk_topics_subdistrict_id_subdistricts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('public_token', name=op.f('uq_topics_public_token'))
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index('ix_topics_community_status', ['community_id', 'status'], unique=False)
        batch_op.create_index('ix_topics_scope_status', ['subdistrict_id', 'status'], unique=False)

    op.create_table('notice_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('asker_name', sa.String(length=50), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_notice_questions_answered_by_id_users')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_questions_notice_id_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_questions'))
    )
    with op.batch_alter_table('notice_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_questions_notice_id'), ['notice_id'], unique=False)

    op.create_table('topic_cases',
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_topic_cases_case_id_cases')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_cases_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('topic_id', 'case_id', name=op.f('pk_topic_cases'))
    )
    with op.batch_alter_table('topic_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_cases_case_id'), ['case_id'], unique=False)

    op.create_table('topic_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_topic_events_actor_id_users')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_events_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_events')),
    sa.UniqueConstraint('topic_id', 'seq', name='topic_seq')
    )
    op.create_table('voting_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('batch', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_voting_codes_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voting_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_voting_codes_code_hash'))
    )
    with op.batch_alter_table('voting_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voting_codes_topic_id'), ['topic_id'], unique=False)

    op.create_table('topic_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('author_name', sa.String(length=50), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_reason', sa.Text(), nullable=True),
    sa.Column('hidden_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['voting_codes.id'], name=op.f('fk_topic_comments_code_id_voting_codes')),
    sa.ForeignKeyConstraint(['hidden_by_id'], ['users.id'], name=op.f('fk_topic_comments_hidden_by_id_users')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_comments_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_comments'))
    )
    with op.batch_alter_table('topic_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_comments_topic_id'), ['topic_id'], unique=False)

    op.create_table('topic_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=12), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("verdict IN ('satisfied', 'basic', 'unsatisfied')", name=op.f('ck_topic_ratings_verdict')),
    sa.ForeignKeyConstraint(['code_id'], ['voting_codes.id'], name=op.f('fk_topic_ratings_code_id_voting_codes')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_ratings_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_ratings')),
    sa.UniqueConstraint('code_id', name=op.f('uq_topic_ratings_code_id'))
    )
    with op.batch_alter_table('topic_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_ratings_topic_id'), ['topic_id'], unique=False)

    op.create_table('topic_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('choice', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("choice IN ('support', 'oppose', 'other')", name=op.f('ck_topic_views_choice')),
    sa.ForeignKeyConstraint(['code_id'], ['voting_codes.id'], name=op.f('fk_topic_views_code_id_voting_codes')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_views_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_views')),
    sa.UniqueConstraint('code_id', name=op.f('uq_topic_views_code_id'))
    )
    with op.batch_alter_table('topic_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_views_topic_id'), ['topic_id'], unique=False)



def downgrade():
    with op.batch_alter_table('topic_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_views_topic_id'))

    op.drop_table('topic_views')
    with op.batch_alter_table('topic_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_ratings_topic_id'))

    op.drop_table('topic_ratings')
    with op.batch_alter_table('topic_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_comments_topic_id'))

    op.drop_table('topic_comments')
    with op.batch_alter_table('voting_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voting_codes_topic_id'))

    op.drop_table('voting_codes')
    op.drop_table('topic_events')
    with op.batch_alter_table('topic_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_cases_case_id'))

    op.drop_table('topic_cases')
    with op.batch_alter_table('notice_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_questions_notice_id'))

    op.drop_table('notice_questions')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_index('ix_topics_scope_status')
        batch_op.drop_index('ix_topics_community_status')

    op.drop_table('topics')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_scope_period')
        batch_op.drop_index('ix_notices_community_period')

    op.drop_table('notices')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetings_community_id'))

    op.drop_table('meetings')
    with op.batch_alter_table('council_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_council_members_community_id'))

    op.drop_table('council_members')
