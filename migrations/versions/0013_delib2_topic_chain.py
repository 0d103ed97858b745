"""tamper-evident topic history: topic_events.prev_hash/hash, audit_roots.topic_events

Revision ID: 0013_delib2_topic_chain
Revises: 0013_admin_must_change_password
Create Date: 2026-12-03 18:00:00

Existing topic events are chained here, in (topic, seq) order, with the same function the
application uses (server/domain/audit.py, subject "topic_id"). Roots sealed before keep
`topic_events` NULL: they cover case events only, as when they were published.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_delib2_topic_chain'
down_revision = "0013_admin_must_change_password"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('topic_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('audit_roots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic_events', sa.Integer(), nullable=True))

    _chain_existing_events()


def _chain_existing_events():
    import json
    from datetime import UTC, datetime

    from server.domain import audit

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, topic_id, seq, action, from_status, to_status, actor_id, actor_role, "
        "payload, created_at FROM topic_events ORDER BY topic_id, seq"
    )).mappings()
    current, prev = None, audit.GENESIS
    updates = []
    for row in rows:
        if row["topic_id"] != current:
            current, prev = row["topic_id"], audit.GENESIS
        created = row["created_at"]
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        fields = {**row, "payload": payload, "created_at": created}
        value = audit.event_hash(prev, fields, audit.TOPIC)
        updates.append({"i": row["id"], "p": prev, "h": value})
        prev = value
    for start in range(0, len(updates), 1000):
        bind.execute(
            sa.text("UPDATE topic_events SET prev_hash = :p, hash = :h WHERE id = :i"),
            updates[start:start + 1000],
        )


def downgrade():
    with op.batch_alter_table('audit_roots', schema=None) as batch_op:
        batch_op.drop_column('topic_events')
    with op.batch_alter_table('topic_events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
