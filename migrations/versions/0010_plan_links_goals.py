"""content plan, measured: cadence limits and UTM settings on workspaces, spacing and UTM template on channels;
short links with daily click counts, channel spend, goals

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN, never batch mode: SQLite's batch copies the table and drops the old one, and
    # with foreign keys on that DROP deletes every child row (see 0008)
    op.add_column('workspaces', sa.Column('max_gap_days', sa.Integer(), nullable=True))
    op.add_column('workspaces', sa.Column('max_posts_per_day', sa.Integer(), nullable=True))
    op.add_column('workspaces', sa.Column('duplicate_window_days', sa.Integer(), nullable=True))
    op.add_column('workspaces', sa.Column('utm_template', sa.String(length=1000), nullable=True))
    op.add_column('workspaces', sa.Column('utm_domains', sa.JSON(), nullable=True))
    op.add_column('workspaces', sa.Column('short_links', sa.Boolean(), nullable=True))
    op.add_column('channels', sa.Column('spacing_minutes', sa.Integer(), nullable=True))
    op.add_column('channels', sa.Column('utm_template', sa.String(length=1000), nullable=True))

    op.create_table('short_links',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('post_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_short_links_workspace_id_workspaces'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_short_links_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_short_links_channel_id_channels'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_short_links')),
    sa.UniqueConstraint('code', name=op.f('uq_short_links_code'))
    )
    op.create_index(op.f('ix_short_links_workspace_id'), 'short_links', ['workspace_id'], unique=False)
    op.create_index(op.f('ix_short_links_post_id'), 'short_links', ['post_id'], unique=False)
    op.create_index(op.f('ix_short_links_channel_id'), 'short_links', ['channel_id'], unique=False)

    op.create_table('link_clicks',
    sa.Column('link_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['short_links.id'], name=op.f('fk_link_clicks_link_id_short_links'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_clicks')),
    sa.UniqueConstraint('link_id', 'day', name=op.f('uq_link_clicks_link_id_day'))
    )

    op.create_table('channel_spend',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                            name=op.f('fk_channel_spend_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_spend_channel_id_channels'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_spend'))
    )
    op.create_index(op.f('ix_channel_spend_workspace_id'), 'channel_spend', ['workspace_id'], unique=False)
    op.create_index(op.f('ix_channel_spend_channel_id'), 'channel_spend', ['channel_id'], unique=False)

    op.create_table('goals',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('metric', sa.String(length=30), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_goals_workspace_id_workspaces'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_goals_channel_id_channels'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goals'))
    )
    op.create_index(op.f('ix_goals_workspace_id'), 'goals', ['workspace_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_goals_workspace_id'), table_name='goals')
    op.drop_table('goals')
    op.drop_index(op.f('ix_channel_spend_channel_id'), table_name='channel_spend')
    op.drop_index(op.f('ix_channel_spend_workspace_id'), table_name='channel_spend')
    op.drop_table('channel_spend')
    op.drop_table('link_clicks')
    op.drop_index(op.f('ix_short_links_channel_id'), table_name='short_links')
    op.drop_index(op.f('ix_short_links_post_id'), table_name='short_links')
    op.drop_index(op.f('ix_short_links_workspace_id'), table_name='short_links')
    op.drop_table('short_links')
    for column in ('utm_template', 'spacing_minutes'):
        op.drop_column('channels', column)
    for column in ('short_links', 'utm_domains', 'utm_template', 'duplicate_window_days', 'max_posts_per_day',
                   'max_gap_days'):
        op.drop_column('workspaces', column)
