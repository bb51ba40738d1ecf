"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 04:52:43.530318
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('annotations', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('fingerprint')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_state'), ['state'], unique=False)

    op.create_table('assessment_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assessment_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_runs_status'), ['status'], unique=False)

    op.create_table('collector_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_written', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('collector_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collector_runs_source'), ['source'], unique=False)

    op.create_table('notification_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('group_key', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_outbox_status'), ['status'], unique=False)

    op.create_table('observations',
    sa.Column('series_id', sa.String(length=200), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('vintage', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('retrieved_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('series_id', 'period', 'vintage')
    )
    op.create_table('series',
    sa.Column('series_id', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('chain', sa.String(length=64), nullable=True),
    sa.Column('node', sa.String(length=64), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('series_id')
    )
    op.create_table('trade_flows',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('reporter', sa.String(length=8), nullable=False),
    sa.Column('partner', sa.String(length=8), nullable=False),
    sa.Column('product', sa.String(length=12), nullable=False),
    sa.Column('flow', sa.String(length=1), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('vintage', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False, comment='USD'),
    sa.Column('quantity', sa.Float(), nullable=True, comment='kg'),
    sa.Column('retrieved_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', 'reporter', 'partner', 'product', 'flow', 'period', 'vintage')
    )
    with op.batch_alter_table('trade_flows', schema=None) as batch_op:
        batch_op.create_index('ix_trade_flows_reporter_product_period', ['reporter', 'product', 'period'], unique=False)

    op.create_table('findings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('chain', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('series_id', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('period', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=True),
    sa.Column('observed', sa.Float(), nullable=True),
    sa.Column('expected', sa.Float(), nullable=True),
    sa.Column('lower', sa.Float(), nullable=True),
    sa.Column('upper', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('explanation_en', sa.Text(), nullable=False),
    sa.Column('explanation_zh', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['assessment_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_run_id'), ['run_id'], unique=False)

    op.create_table('risk_scores',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('chain', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('dimension', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('drivers', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['assessment_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'chain', 'node', 'dimension')
    )
    with op.batch_alter_table('risk_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_scores_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('risk_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_scores_run_id'))

    op.drop_table('risk_scores')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_findings_run_id'))

    op.drop_table('findings')
    with op.batch_alter_table('trade_flows', schema=None) as batch_op:
        batch_op.drop_index('ix_trade_flows_reporter_product_period')

    op.drop_table('trade_flows')
    op.drop_table('series')
    op.drop_table('observations')
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_outbox_status'))

    op.drop_table('notification_outbox')
    with op.batch_alter_table('collector_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collector_runs_source'))

    op.drop_table('collector_runs')
    with op.batch_alter_table('assessment_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_runs_status'))

    op.drop_table('assessment_runs')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_state'))

    op.drop_table('alerts')
