"""phone login: a citizen's mobile number on their account (users.phone), the one-time codes sent to numbers
(phone_codes: a salted hash, never the code) and the sends counted per number and per address
(phone_code_sends)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 23:00:00
"""
from alembic import op
import sqlalchemy as sa

import jiesu.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('phone_codes',
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('sent_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_phone_codes'))
    )
    with op.batch_alter_table('phone_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_codes_expires_at'), ['expires_at'], unique=False)
    op.create_table('phone_code_sends',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('window_start', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_phone_code_sends'))
    )
    with op.batch_alter_table('phone_code_sends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_code_sends_window_start'), ['window_start'], unique=False)
    # A plain ADD COLUMN and a unique index (not a batch copy of `users`, which other tables reference).
    op.add_column('users', sa.Column('phone', sa.String(length=16), nullable=True))
    op.create_index(op.f('ix_users_phone'), 'users', ['phone'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_users_phone'), table_name='users')
    op.drop_column('users', 'phone')
    with op.batch_alter_table('phone_code_sends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_code_sends_window_start'))
    op.drop_table('phone_code_sends')
    with op.batch_alter_table('phone_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_codes_expires_at'))
    op.drop_table('phone_codes')
