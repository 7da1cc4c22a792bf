"""ticket list index: tickets (created_at, id), the lists' order

The ticket lists are newest first, ties broken by id (tickets.reading.list_tickets): with this index a page's
ids are a walk of the index however deep the page, instead of a sort of the whole table (benchmarks/pages.py,
1 M tickets on PostgreSQL). Named for the merger: another revision of issue 14 may also revise 0007; chain them.

Revision ID: 0008_ticket_list_index
Revises: 0007
Create Date: 2026-12-07 16:55:00
"""
from alembic import op


revision = '0008_ticket_list_index'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_tickets_created_id', 'tickets', ['created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tickets_created_id', table_name='tickets')
