"""indexes for the queries the API, metrics and assessment run at scale

- ``findings (run_id, chain, node, series_id, period)``: the API lists a run's
  findings filtered by chain/node and ordered by series and period; metrics group a
  run's findings by chain and node. With 100k series a run holds 100k findings.
- ``risk_scores (chain, node, dimension, run_id)``: a chain's score history
  (``/api/v1/chains/{id}/history``) walks runs of one chain's overall score.
- ``assessment_runs (status, id)``: "latest succeeded run", asked by every scrape.

The observations and trade-flow primary keys already serve the assessment's
per-partition reads (``series_id IN … AND period <= …``; ``reporter, product`` via
``ix_trade_flows_reporter_product_period``). No index is added on observations or
trade flows: every index there slows bulk ingest.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_findings_run_chain_node_series", "findings", ["run_id", "chain", "node", "series_id", "period"]),
    ("ix_risk_scores_chain_node_dimension_run", "risk_scores", ["chain", "node", "dimension", "run_id"]),
    ("ix_assessment_runs_status_id", "assessment_runs", ["status", "id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
