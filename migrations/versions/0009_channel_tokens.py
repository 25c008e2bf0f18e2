"""token lifetimes on channels (expiry, scopes, Meta's data access) and sign-in flows in progress

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('data_access_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('token_refreshed_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('connect_flows',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('verifier_sealed', sa.Text(), nullable=True),
    sa.Column('result_sealed', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_connect_flows_workspace_id_workspaces'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connect_flows')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_connect_flows_state_hash'))
    )
    with op.batch_alter_table('connect_flows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connect_flows_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connect_flows_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('connect_flows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connect_flows_expires_at'))
        batch_op.drop_index(batch_op.f('ix_connect_flows_workspace_id'))
    op.drop_table('connect_flows')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('token_refreshed_at')
        batch_op.drop_column('scopes')
        batch_op.drop_column('data_access_expires_at')
        batch_op.drop_column('token_expires_at')
