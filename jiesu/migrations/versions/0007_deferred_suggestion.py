"""deferred suggestion: tickets.suggest_pending and its partial index

Intake may leave smart dispatch's suggestion to a worker (routing.service.suggest_pending), so that an
acknowledged ticket costs only its INSERTs. The index holds only the tickets still waiting.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 17:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggest_pending', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_tickets_suggest_pending', 'tickets', ['id'], unique=False,
                    postgresql_where=sa.text('suggest_pending'), sqlite_where=sa.text('suggest_pending'))


def downgrade() -> None:
    op.drop_index('ix_tickets_suggest_pending', table_name='tickets')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('suggest_pending')
