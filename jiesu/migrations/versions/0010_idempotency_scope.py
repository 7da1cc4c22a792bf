"""idempotency scope: an Idempotency-Key is unique per sender, with a fingerprint of the request it came with

requests.idempotency_scope (the sender: the user, `open311:<client>`, `import`) and
requests.idempotency_fingerprint (SHA-256 of the request's fields); the unique constraint on idempotency_key alone
becomes (idempotency_key, idempotency_scope), the key first so that a look-up by key alone still uses it. The keys
already stored get their sender (created_by) as scope and no fingerprint (a replay of one is not compared).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_scope', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('idempotency_fingerprint', sa.String(length=64), nullable=True))
    op.execute("UPDATE requests SET idempotency_scope = created_by WHERE idempotency_key IS NOT NULL")
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_requests_idempotency_key', type_='unique')
        batch_op.create_unique_constraint('uq_requests_idempotency_key_scope', ['idempotency_key', 'idempotency_scope'])


def downgrade() -> None:
    # Two senders may hold the same key now: the downgrade keeps the oldest request's key only.
    op.execute("UPDATE requests SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND id > "
               "(SELECT min(r.id) FROM requests r WHERE r.idempotency_key = requests.idempotency_key)")
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_requests_idempotency_key_scope', type_='unique')
        batch_op.create_unique_constraint('uq_requests_idempotency_key', ['idempotency_key'])
        batch_op.drop_column('idempotency_fingerprint')
        batch_op.drop_column('idempotency_scope')
