"""login attempts per username and source address; the users' own lockout columns go

The lockout counted failures on the user's row with a read-modify-write (PostgreSQL let a burst of 30 guesses
through with the count at 1), locked the owner out for anyone's guesses, and only ever refused real accounts
(which told who had one). Attempts are now counted per username *and* source, one atomic upsert each, before the
password is checked (units.users.authenticate).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 19:00:00
"""
from alembic import op
import sqlalchemy as sa
import jiesu.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', jiesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', 'source', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempts_last_at'), ['last_at'], unique=False)
    # Plain column drops (SQLite >= 3.35 has ALTER TABLE ... DROP COLUMN): a batch copy of `users` would drop
    # the table that api_tokens and others reference.
    op.drop_column('users', 'locked_until')
    op.drop_column('users', 'failed_logins')


def downgrade() -> None:
    op.add_column('users', sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('users', sa.Column('locked_until', jiesu.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempts_last_at'))
    op.drop_table('login_attempts')
