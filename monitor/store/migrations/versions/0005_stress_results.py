"""stress-test suite runs and their per-scenario chain and node results

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stress_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True, comment="last data month of the baseline"),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("scenarios", sa.JSON(), nullable=False, comment="id, name, name_zh, horizon_months of each"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stress_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stress_runs_status"), ["status"], unique=False)
    op.create_table(
        "stress_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("impact_score", sa.Float(), nullable=False, comment="0-100"),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("peak_shortfall", sa.Float(), nullable=False, comment="share of normal demand, 0-1"),
        sa.Column("time_to_impact_months", sa.Integer(), nullable=True),
        sa.Column("months_to_recovery", sa.Integer(), nullable=True),
        sa.Column("monthly", sa.JSON(), nullable=True, comment="per month: shortfall, inventory_days, ..."),
        sa.ForeignKeyConstraint(["run_id"], ["stress_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "scenario", "chain", "node"),
    )
    with op.batch_alter_table("stress_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stress_results_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stress_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stress_results_run_id"))
    op.drop_table("stress_results")
    with op.batch_alter_table("stress_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stress_runs_status"))
    op.drop_table("stress_runs")
