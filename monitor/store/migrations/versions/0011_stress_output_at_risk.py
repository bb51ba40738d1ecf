"""stress results: value at risk, time to survive / recover and the path (issue 22)

- ``stress_results.value_at_risk_usd`` (float): shortfall-months × the node's normal
  monthly demand at import prices, USD; a chain row sums its nodes.
- ``stress_results.time_to_survive_months`` / ``time_to_recover_months`` (integer):
  Simchi-Levi's TTS and TTR in months (TTS NULL: no shortfall within the horizon;
  TTR 0: never hit, NULL: not recovered within the horizon).
- ``stress_results.path`` (JSON list): the nodes the loss came through, node first.

Existing rows keep NULL (run before these were stored).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stress_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "value_at_risk_usd", sa.Float(), nullable=True,
            comment="shortfall-months x normal monthly demand at import prices, USD (NULL: before 0010)"))
        batch_op.add_column(sa.Column(
            "time_to_survive_months", sa.Integer(), nullable=True,
            comment="months supply meets demand before the first shortfall (NULL: none within the horizon)"))
        batch_op.add_column(sa.Column(
            "time_to_recover_months", sa.Integer(), nullable=True,
            comment="months until supply is whole again (0: never hit; NULL: not within the horizon)"))
        batch_op.add_column(sa.Column(
            "path", sa.JSON(), nullable=True, comment="nodes the loss came through, this node first"))


def downgrade() -> None:
    with op.batch_alter_table("stress_results", schema=None) as batch_op:
        for column in ("path", "time_to_recover_months", "time_to_survive_months", "value_at_risk_usd"):
            batch_op.drop_column(column)
