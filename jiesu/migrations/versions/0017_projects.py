"""projects: topics of the month (每月一题) and proactive projects (治理项目): milestones, progress updates,
linked tickets and their events

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 01:30:00
"""
from alembic import op
import sqlalchemy as sa
import jiesu.db


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('keywords', sa.String(length=200), nullable=False),
    sa.Column('lead_unit_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('adopted', 'closed', name='topicstatus', native_enum=False, length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('closed_at', jiesu.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_topics_category_id_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lead_unit_id'], ['units.id'], name=op.f('fk_topics_lead_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('month', 'category_id', 'keywords', name='uq_topics_month_theme')
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topics_lead_unit_id'), ['lead_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_topics_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_topics_status'), ['status'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('hotspot_id', sa.Integer(), nullable=True),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('owner_unit_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('keywords', sa.String(length=200), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('budget', sa.Text(), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('planned', 'underway', 'done', 'cancelled', name='projectstatus', native_enum=False, length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('created_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_projects_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_projects_category_id_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['hotspot_id'], ['hotspots.id'], name=op.f('fk_projects_hotspot_id_hotspots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['units.id'], name=op.f('fk_projects_owner_unit_id_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_projects_topic_id_topics'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projects_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_hotspot_id'), ['hotspot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_owner_unit_id'), ['owner_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_topic_id'), ['topic_id'], unique=False)

    op.create_table('topic_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_units_topic_id_topics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_topic_units_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_units')),
    sa.UniqueConstraint('topic_id', 'unit_id', name='uq_topic_units_topic_unit')
    )
    with op.batch_alter_table('topic_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_units_topic_id'), ['topic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_topic_units_unit_id'), ['unit_id'], unique=False)

    op.create_table('project_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_events_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_project_events_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_events'))
    )
    with op.batch_alter_table('project_events', schema=None) as batch_op:
        batch_op.create_index('ix_project_events_project', ['project_id', 'id'], unique=False)
        batch_op.create_index('ix_project_events_topic', ['topic_id', 'id'], unique=False)

    op.create_table('project_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('created_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_milestones_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_milestones'))
    )
    with op.batch_alter_table('project_milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_milestones_project_id'), ['project_id'], unique=False)

    op.create_table('project_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('added_at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_tickets_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_project_tickets_ticket_id_tickets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_tickets')),
    sa.UniqueConstraint('project_id', 'ticket_id', name='uq_project_tickets_project_ticket')
    )
    with op.batch_alter_table('project_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_tickets_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_tickets_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('project_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('at', jiesu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_updates_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_updates'))
    )
    with op.batch_alter_table('project_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_updates_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('project_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_updates_project_id'))

    op.drop_table('project_updates')
    with op.batch_alter_table('project_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_tickets_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_project_tickets_project_id'))

    op.drop_table('project_tickets')
    with op.batch_alter_table('project_milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_milestones_project_id'))

    op.drop_table('project_milestones')
    with op.batch_alter_table('project_events', schema=None) as batch_op:
        batch_op.drop_index('ix_project_events_topic')
        batch_op.drop_index('ix_project_events_project')

    op.drop_table('project_events')
    with op.batch_alter_table('topic_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_units_unit_id'))
        batch_op.drop_index(batch_op.f('ix_topic_units_topic_id'))

    op.drop_table('topic_units')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projects_topic_id'))
        batch_op.drop_index(batch_op.f('ix_projects_status'))
        batch_op.drop_index(batch_op.f('ix_projects_owner_unit_id'))
        batch_op.drop_index(batch_op.f('ix_projects_hotspot_id'))
        batch_op.drop_index(batch_op.f('ix_projects_area_id'))

    op.drop_table('projects')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topics_status'))
        batch_op.drop_index(batch_op.f('ix_topics_month'))
        batch_op.drop_index(batch_op.f('ix_topics_lead_unit_id'))

    op.drop_table('topics')
