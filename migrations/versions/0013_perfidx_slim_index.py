"""slim sentiment index: numeric input columns + index_formulas; existing rows converted

Every stored score keeps its day, level, area, subdistrict and score; its JSON inputs become
numeric columns, its formula version and weights one row of index_formulas that it points
to. The components (values, scores, effective weights, basis, labels) are rebuilt on read
from those, exactly as they were stored (tests/integration/test_index_migration.py checks
the API answers before and after). Downgrade rebuilds the JSON the same way.

Revision ID: 0013_perfidx_slim_index
Revises: 0012_deliberation
Create Date: 2026-12-03 18:00:00

"""
import json
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0013_perfidx_slim_index'
down_revision = '0012_deliberation'
branch_labels = None
depends_on = None

INPUTS = (
    "population", "new_low", "new_normal", "new_high", "new_urgent", "due_count",
    "closed_on_time", "ratings_satisfied", "ratings_basic", "ratings_unsatisfied",
    "handled_count", "reworked_count", "scheduled_patrols", "patrols_done_on_time",
    "topic_satisfied", "topic_basic", "topic_unsatisfied",
)
PRIORITIES = ("low", "normal", "high", "urgent")
BATCH = 5000


def _slim_table():
    return op.create_table(
        'sentiment_index',
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('patrol_coverage', sa.Float(), nullable=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=False),
        sa.Column('subdistrict_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in INPUTS),
        sa.Column('formula_id', sa.SmallInteger(), nullable=False),
        sa.Column('window_days', sa.SmallInteger(), nullable=False),
        sa.Column('level', sa.String(length=10), nullable=False),
        sa.CheckConstraint("level IN ('grid', 'community')", name=op.f('ck_sentiment_index_level')),
        sa.PrimaryKeyConstraint('level', 'area_id', 'day', name='pk_sentiment_index'),
    )


def _old_table():
    return op.create_table(
        'sentiment_index',
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
        sa.UniqueConstraint('day', 'level', 'area_id', name='day_level_area'),
    )


def _set_aside(name: str, indexes: list[str]) -> None:
    """Rename the current table to `name`, freeing its schema-wide index names."""
    bind = op.get_bind()
    for index in indexes:
        op.drop_index(index, table_name='sentiment_index')
    op.rename_table('sentiment_index', name)
    if bind.dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE {name} RENAME CONSTRAINT pk_sentiment_index TO pk_{name}')
        op.execute(f'ALTER TABLE {name} DROP CONSTRAINT IF EXISTS day_level_area')


def upgrade():
    formulas = op.create_table(
        'index_formulas',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=16), nullable=False),
        sa.Column('weights', sa.JSON(), nullable=False),
        sa.Column('weights_key', sa.String(length=400), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_index_formulas')),
        sa.UniqueConstraint('version', 'weights_key', name='version_weights'),
    )
    _set_aside('sentiment_index_v1', ['ix_sentiment_index_area_day', 'ix_sentiment_index_scope_day'])
    slim = _slim_table()
    with op.batch_alter_table('sentiment_index', schema=None) as batch_op:
        batch_op.create_index('ix_sentiment_index_day', ['day'], unique=False, postgresql_using='brin')

    bind = op.get_bind()
    old = sa.table(
        'sentiment_index_v1', sa.column('id', sa.Integer()), sa.column('day', sa.Date()),
        sa.column('level', sa.String()), sa.column('area_id', sa.Integer()),
        sa.column('subdistrict_id', sa.Integer()), sa.column('score', sa.Float()),
        sa.column('components', sa.JSON()), sa.column('inputs', sa.JSON()),
        sa.column('formula_version', sa.String()),
    )
    known: dict = {}
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(old).where(old.c.id > last_id).order_by(old.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        out = []
        for r in rows:
            components = r.components if isinstance(r.components, dict) else json.loads(r.components)
            inputs = r.inputs if isinstance(r.inputs, dict) else json.loads(r.inputs)
            weights = {name: c["weight"] for name, c in components.items()}
            key = (r.formula_version, json.dumps(weights, sort_keys=True))
            if key not in known:
                known[key] = bind.execute(
                    sa.insert(formulas).values(
                        id=len(known) + 1, version=key[0], weights=weights, weights_key=key[1],
                        created_at=datetime.now(UTC),
                    ).returning(formulas.c.id)
                ).scalar_one()
            priorities = inputs.get("new_cases_by_priority") or {}
            row = {
                "score": r.score,
                "patrol_coverage": inputs.get("patrol_coverage"),
                "day": r.day,
                "area_id": r.area_id,
                "subdistrict_id": r.subdistrict_id,
                "formula_id": known[key],
                "window_days": inputs["window_days"],
                "level": r.level,
            }
            for name in INPUTS:
                if name.startswith("new_"):
                    row[name] = int(priorities.get(name[4:], 0))
                else:
                    row[name] = int(inputs.get(name, 0))
            out.append(row)
        bind.execute(sa.insert(slim), out)
    op.drop_table('sentiment_index_v1')


def downgrade():
    from server.domain.index import IndexInputs, Weights, explain

    _set_aside('sentiment_index_v2', ['ix_sentiment_index_day'])
    old = _old_table()
    with op.batch_alter_table('sentiment_index', schema=None) as batch_op:
        batch_op.create_index('ix_sentiment_index_area_day', ['level', 'area_id', 'day'], unique=False)
        batch_op.create_index('ix_sentiment_index_scope_day', ['subdistrict_id', 'level', 'day'], unique=False)
    bind = op.get_bind()
    formulas = {
        f.id: (f.version, f.weights if isinstance(f.weights, dict) else json.loads(f.weights))
        for f in bind.execute(sa.text('SELECT id, version, weights FROM index_formulas'))
    }
    slim = sa.table(
        'sentiment_index_v2', sa.column('day', sa.Date()), sa.column('score', sa.Float()),
        sa.column('patrol_coverage', sa.Float()),
        *(sa.column(n, sa.Integer()) for n in (
            'area_id', 'subdistrict_id', 'formula_id', 'window_days', *INPUTS,
        )),
        sa.column('level', sa.String()),
    )
    rows = bind.execute(sa.select(slim).order_by(slim.c.day, slim.c.level, slim.c.area_id)).all()
    now = datetime.now(UTC)
    out = []
    for i, r in enumerate(rows, start=1):
        inputs = IndexInputs(
            population=r.population,
            window_days=r.window_days,
            new_cases_by_priority={p: getattr(r, f"new_{p}") for p in PRIORITIES},
            **{n: getattr(r, n) for n in INPUTS if n != "population" and not n.startswith("new_")},
            patrol_coverage=r.patrol_coverage,
        )
        version, weights = formulas[r.formula_id]
        stored_inputs = inputs.as_dict()
        if version == "index/1":
            for name in ("topic_satisfied", "topic_basic", "topic_unsatisfied"):
                stored_inputs.pop(name, None)
        out.append({
            "id": i, "day": r.day, "level": r.level, "area_id": r.area_id,
            "subdistrict_id": r.subdistrict_id, "score": r.score,
            "components": explain(inputs, Weights.from_mapping(weights), version),
            "inputs": stored_inputs, "formula_version": version, "computed_at": now,
        })
        if len(out) == BATCH:
            bind.execute(sa.insert(old), out)
            out = []
    if out:
        bind.execute(sa.insert(old), out)
    op.drop_table('sentiment_index_v2')
    op.drop_table('index_formulas')
