"""ticket list indexes: tickets (created_at, id), the lists' order; by district and state; the overdue ones

The ticket lists are newest first, ties broken by id (tickets.reading.list_tickets): with these indexes a page's
ids are a walk of an index however deep the page, and its capped count reads no more than the count, instead of
sorting or scanning the table (benchmarks/pages.py, 1 M tickets on PostgreSQL): all tickets, a district's in one
state (the dispatcher's filter), the overdue ones (the supervisor's: a partial index, only those).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


OVERDUE = sa.text('sign_overdue IS true OR reply_overdue IS true')


def upgrade() -> None:
    op.create_index('ix_tickets_created_id', 'tickets', ['created_at', 'id'], unique=False)
    op.create_index('ix_tickets_district_state_created', 'tickets', ['district_code', 'state', 'created_at', 'id'],
                    unique=False)
    op.create_index('ix_tickets_overdue_created', 'tickets', ['created_at', 'id'], unique=False,
                    postgresql_where=OVERDUE, sqlite_where=OVERDUE)


def downgrade() -> None:
    op.drop_index('ix_tickets_overdue_created', table_name='tickets')
    op.drop_index('ix_tickets_district_state_created', table_name='tickets')
    op.drop_index('ix_tickets_created_id', table_name='tickets')
