"""tamper-evident case history: case_events.prev_hash/hash, audit_roots

Revision ID: 0010_audit_chain
Revises: 0009_sessions
Create Date: 2026-12-03 15:10:00

Existing events are chained here, in (case, seq) order, with the same function the
application uses (server/domain/audit.py).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_audit_chain'
down_revision = '0009_sessions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    op.create_table('audit_roots',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_audit_roots'))
    )

    _chain_existing_events()


def _chain_existing_events():
    import json
    from datetime import UTC, datetime

    from server.domain import audit

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, case_id, seq, action, from_status, to_status, actor_id, actor_role, "
        "payload, created_at FROM case_events ORDER BY case_id, seq"
    )).mappings()
    current, prev = None, audit.GENESIS
    updates = []
    for row in rows:
        if row["case_id"] != current:
            current, prev = row["case_id"], audit.GENESIS
        created = row["created_at"]
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        fields = {**row, "payload": payload, "created_at": created}
        value = audit.event_hash(prev, fields)
        updates.append({"i": row["id"], "p": prev, "h": value})
        prev = value
    for start in range(0, len(updates), 1000):
        bind.execute(
            sa.text("UPDATE case_events SET prev_hash = :p, hash = :h WHERE id = :i"),
            updates[start:start + 1000],
        )


def downgrade():
    op.drop_table('audit_roots')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
