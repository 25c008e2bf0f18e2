"""what was prepared ahead for a target (media fetched and checked, VK photos saved, Instagram containers made)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepared_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('prepared_payload', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('prepare_error', sa.Text(), nullable=True))
        batch_op.create_index('ix_targets_prepared', ['status'], unique=False,
                              sqlite_where=sa.text('prepared_at IS NOT NULL'),
                              postgresql_where=sa.text('prepared_at IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index('ix_targets_prepared')
        batch_op.drop_column('prepare_error')
        batch_op.drop_column('prepared_payload')
        batch_op.drop_column('prepared_at')
