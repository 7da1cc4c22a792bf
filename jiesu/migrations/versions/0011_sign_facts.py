"""sign facts: the response rate (响应率) counts the dispatches a unit signed within their sign deadline

sign_facts holds one unit's hold of one ticket per period (assessment.rules.Spell). The table starts empty:
`jiesu migrate` then writes it, and the facts and rollups of every period, anew from the event log
(`jiesu assess rebuild --all`), and prints which figures changed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:40:00
"""
from alembic import op
import sqlalchemy as sa

import jiesu.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_facts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('dispatched_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sign_by', jiesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_at', jiesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Enum('open', 'on_time', 'late', 'unsigned', 'void', 'returned', 'upheld_return', name='signstatus', native_enum=False, length=16), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_sign_facts_category_id_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_sign_facts_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_sign_facts_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_facts')),
    sa.UniqueConstraint('period', 'ticket_id', 'unit_id', name='uq_sign_facts_period_ticket_unit')
    )
    with op.batch_alter_table('sign_facts', schema=None) as batch_op:
        batch_op.create_index('ix_sign_facts_period_unit', ['period', 'unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_facts_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_facts_ticket_id'))
        batch_op.drop_index('ix_sign_facts_period_unit')
    op.drop_table('sign_facts')
