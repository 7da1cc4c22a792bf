"""public: the public page's monthly figures per place, and its latest masked replies

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:00:00
"""
from alembic import op
import sqlalchemy as sa

import jiesu.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('public_months',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('built_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_public_months'))
    )
    op.create_table('public_figures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('parent', sa.String(length=32), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('replied', sa.Integer(), nullable=False),
    sa.Column('in_time', sa.Integer(), nullable=False),
    sa.Column('median_hours', sa.Float(), nullable=True),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in (
        'valid', 'contacted', 'resolved', 'partly', 'satisfied', 'basically', 'signed', 'late', 'missed',
        'pending')],
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_figures')),
    sa.UniqueConstraint('period', 'level', 'key', name='uq_public_figures_period_level_key')
    )
    with op.batch_alter_table('public_figures', schema=None) as batch_op:
        batch_op.create_index('ix_public_figures_level_key', ['level', 'key', 'period'], unique=False)
        batch_op.create_index('ix_public_figures_parent', ['parent', 'period'], unique=False)
    op.create_table('public_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('category', sa.String(length=128), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=False),
    sa.Column('street_code', sa.String(length=32), nullable=False),
    sa.Column('street', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_replies')),
    sa.UniqueConstraint('event_id', name=op.f('uq_public_replies_event_id'))
    )
    with op.batch_alter_table('public_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_replies_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_replies_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_replies_street_code'), ['street_code'], unique=False)


def downgrade() -> None:
    op.drop_table('public_replies')
    with op.batch_alter_table('public_figures', schema=None) as batch_op:
        batch_op.drop_index('ix_public_figures_parent')
        batch_op.drop_index('ix_public_figures_level_key')
    op.drop_table('public_figures')
    op.drop_table('public_months')
