"""hotspots: hot spots and surges found on the ticket cube, their ticket links, status events and the miner's runs

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa
import jiesu.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hotspot_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotspot_events'))
    )
    with op.batch_alter_table('hotspot_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotspot_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_hotspot_events_kind_entity', ['kind', 'entity_id', 'id'], unique=False)

    op.create_table('hotspot_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('started_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', jiesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('found', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotspot_runs')),
    sa.UniqueConstraint('kind', 'key', name='uq_hotspot_runs_kind_key')
    )
    with op.batch_alter_table('hotspot_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotspot_runs_started_at'), ['started_at'], unique=False)

    op.create_table('hotspots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('place_code', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=False),
    sa.Column('street_code', sa.String(length=32), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'watched', 'project', 'dismissed', name='hotspotstatus', native_enum=False, length=16), nullable=False),
    sa.Column('label', sa.Enum('new', 'intensifying', 'persistent', 'sporadic', 'diminishing', name='hotspotlabel', native_enum=False, length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('series', sa.Text(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('found_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dismissed_observed', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_hotspots_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_hotspots_category_id_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotspots')),
    sa.UniqueConstraint('place_code', 'category_id', name='uq_hotspots_place_code_category_id')
    )
    with op.batch_alter_table('hotspots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotspots_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotspots_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotspots_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotspots_label'), ['label'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotspots_last_seen'), ['last_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotspots_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotspots_street_code'), ['street_code'], unique=False)

    op.create_table('surges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('place_code', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=False),
    sa.Column('street_code', sa.String(length=32), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('raised', 'acknowledged', 'dismissed', name='surgestatus', native_enum=False, length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('window_hours', sa.Integer(), nullable=False),
    sa.Column('first_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('raised_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('updated_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_surges_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_surges_category_id_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surges'))
    )
    with op.batch_alter_table('surges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_surges_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surges_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surges_district_code'), ['district_code'], unique=False)
        batch_op.create_index('ix_surges_place_category_last', ['place_code', 'category_id', 'last_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_surges_raised_at'), ['raised_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_surges_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_surges_street_code'), ['street_code'], unique=False)

    op.create_table('hotspot_tickets',
    sa.Column('hotspot_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hotspot_id'], ['hotspots.id'], name=op.f('fk_hotspot_tickets_hotspot_id_hotspots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_hotspot_tickets_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('hotspot_id', 'ticket_id', name=op.f('pk_hotspot_tickets'))
    )
    with op.batch_alter_table('hotspot_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotspot_tickets_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('surge_tickets',
    sa.Column('surge_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['surge_id'], ['surges.id'], name=op.f('fk_surge_tickets_surge_id_surges'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_surge_tickets_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('surge_id', 'ticket_id', name=op.f('pk_surge_tickets'))
    )
    with op.batch_alter_table('surge_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_surge_tickets_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('surge_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surge_tickets_ticket_id'))

    op.drop_table('surge_tickets')
    with op.batch_alter_table('hotspot_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hotspot_tickets_ticket_id'))

    op.drop_table('hotspot_tickets')
    with op.batch_alter_table('surges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surges_street_code'))
        batch_op.drop_index(batch_op.f('ix_surges_status'))
        batch_op.drop_index(batch_op.f('ix_surges_raised_at'))
        batch_op.drop_index('ix_surges_place_category_last')
        batch_op.drop_index(batch_op.f('ix_surges_district_code'))
        batch_op.drop_index(batch_op.f('ix_surges_category_id'))
        batch_op.drop_index(batch_op.f('ix_surges_area_id'))

    op.drop_table('surges')
    with op.batch_alter_table('hotspots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hotspots_street_code'))
        batch_op.drop_index(batch_op.f('ix_hotspots_status'))
        batch_op.drop_index(batch_op.f('ix_hotspots_last_seen'))
        batch_op.drop_index(batch_op.f('ix_hotspots_label'))
        batch_op.drop_index(batch_op.f('ix_hotspots_district_code'))
        batch_op.drop_index(batch_op.f('ix_hotspots_category_id'))
        batch_op.drop_index(batch_op.f('ix_hotspots_area_id'))

    op.drop_table('hotspots')
    with op.batch_alter_table('hotspot_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hotspot_runs_started_at'))

    op.drop_table('hotspot_runs')
    with op.batch_alter_table('hotspot_events', schema=None) as batch_op:
        batch_op.drop_index('ix_hotspot_events_kind_entity')
        batch_op.drop_index(batch_op.f('ix_hotspot_events_at'))

    op.drop_table('hotspot_events')
