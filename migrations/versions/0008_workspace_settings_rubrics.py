"""workspace settings (default spacing, iCal feed token), rubrics as rows, the workspace's significant dates

Existing free-text rubrics of posts become rubric rows: one per workspace and name, names that differ only in case
or surrounding spaces folded into the first spelling met (the posts are rewritten to it), colours from the palette
in order. Every existing workspace gets its own iCal token.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the same palette as app.rubrics.service.PALETTE (a migration does not import the app)
PALETTE = ("#8b5cf6", "#ec4899", "#f59e0b", "#10b981", "#06b6d4", "#f43f5e", "#84cc16", "#6366f1")


def upgrade() -> None:
    # plain ALTER TABLE ADD/DROP COLUMN, never batch mode here: SQLite's batch copies the table and drops the old
    # one, and with foreign keys on that DROP deletes every channel, key and post of every workspace
    op.add_column('workspaces', sa.Column('default_spacing_minutes', sa.Integer(), nullable=True))
    op.add_column('workspaces', sa.Column('ical_token', sa.String(length=64), nullable=True))

    op.create_table('rubrics',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('colour', sa.String(length=7), nullable=False),
    sa.Column('target_share', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rubrics_workspace_id_workspaces'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rubrics')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_rubrics_workspace_id_name'))
    )
    op.create_table('significant_dates',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('yearly', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                            name=op.f('fk_significant_dates_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_significant_dates'))
    )
    with op.batch_alter_table('significant_dates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_significant_dates_workspace_id'), ['workspace_id'], unique=False)

    _fill_existing()

    # a unique index, not a constraint: on SQLite a constraint needs the table copied, and dropping the old
    # workspaces table would cascade to every channel, key and post (the column stays nullable for that reason)
    op.create_index(op.f('ix_workspaces_ical_token'), 'workspaces', ['ical_token'], unique=True)


def _fill_existing() -> None:
    conn = op.get_bind()
    workspaces = sa.table('workspaces', sa.column('id', sa.String), sa.column('ical_token', sa.String))
    posts = sa.table('posts', sa.column('workspace_id', sa.String), sa.column('rubric', sa.String),
                     sa.column('order_at', sa.DateTime))
    rubrics = sa.table('rubrics', sa.column('id', sa.String), sa.column('workspace_id', sa.String),
                       sa.column('name', sa.String), sa.column('colour', sa.String),
                       sa.column('target_share', sa.Float), sa.column('created_at', sa.DateTime(timezone=True)))
    for (ws_id,) in conn.execute(sa.select(workspaces.c.id)).all():
        conn.execute(workspaces.update().where(workspaces.c.id == ws_id).values(ical_token=secrets.token_urlsafe(32)))
    found = conn.execute(
        sa.select(posts.c.workspace_id, posts.c.rubric, sa.func.min(posts.c.order_at).label('first_at'))
        .where(posts.c.rubric.is_not(None))
        .group_by(posts.c.workspace_id, posts.c.rubric)
        .order_by(posts.c.workspace_id, sa.text('first_at'), posts.c.rubric)
    ).all()
    canonical: dict[tuple[str, str], str] = {}
    count: dict[str, int] = {}
    now = datetime.now(UTC)
    if conn.dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)
    for ws_id, written, _first in found:
        name = " ".join(written.split())
        if not name:
            conn.execute(posts.update().where(posts.c.workspace_id == ws_id, posts.c.rubric == written)
                         .values(rubric=None))
            continue
        key = (ws_id, name.casefold())
        if key not in canonical:
            canonical[key] = name
            n = count.get(ws_id, 0)
            count[ws_id] = n + 1
            conn.execute(rubrics.insert().values(id=uuid.uuid4().hex, workspace_id=ws_id, name=name,
                                                 colour=PALETTE[n % len(PALETTE)], target_share=None, created_at=now))
        if written != canonical[key]:
            conn.execute(posts.update().where(posts.c.workspace_id == ws_id, posts.c.rubric == written)
                         .values(rubric=canonical[key]))


def downgrade() -> None:
    with op.batch_alter_table('significant_dates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_significant_dates_workspace_id'))
    op.drop_table('significant_dates')
    op.drop_table('rubrics')
    op.drop_index(op.f('ix_workspaces_ical_token'), table_name='workspaces')
    op.drop_column('workspaces', 'ical_token')
    op.drop_column('workspaces', 'default_spacing_minutes')
