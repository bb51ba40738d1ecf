"""data provenance: simulated rows, estimate flags, release dates

- ``trade_flows.simulated`` (boolean, server default false): the row came from the
  demo simulator. A partial index over the simulated rows only (``WHERE simulated``)
  answers "does this reporter have simulated rows?" with one seek; real rows never
  enter it, so bulk ingest of real data pays nothing for it.
- ``trade_flows.estimate_flags`` (nullable text): comma-separated kinds of estimate
  the source flagged for the value (``not_reported``, ``estimated``,
  ``netwgt_estimated``, ``qty_estimated``, ``provisional``, ``confidential``...;
  NULL: a reported figure). Contract: docs/provenance.md.
- ``observations.estimate_flags``: the same, for observations (Eurostat ``status``).
- ``observations.released_at`` and ``trade_flows.released_at`` (nullable timestamp):
  when the release a row comes from was published, where the source says so (a
  file source's ``released``). The newest vintage of a row is the one with the
  latest ``coalesce(released_at, retrieved_at)``, so an older release loaded after
  a newer one does not replace it.

Existing rows: real, without flags, release unknown (their retrieval time counts).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SIMULATED_INDEX = "ix_trade_flows_simulated_reporter"


def upgrade() -> None:
    with op.batch_alter_table("trade_flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "simulated", sa.Boolean(), nullable=False, server_default=sa.false(),
            comment="the row came from the demo simulator"))
        batch_op.add_column(sa.Column(
            "estimate_flags", sa.String(length=128), nullable=True,
            comment="comma-separated estimate kinds the source flagged (NULL: reported figure)"))
        batch_op.add_column(sa.Column(
            "released_at", sa.DateTime(timezone=True), nullable=True,
            comment="publication time of the release (NULL: unknown, retrieved_at counts)"))
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "released_at", sa.DateTime(timezone=True), nullable=True,
            comment="publication time of the release (NULL: unknown, retrieved_at counts)"))
        batch_op.add_column(sa.Column(
            "estimate_flags", sa.String(length=128), nullable=True,
            comment="comma-separated estimate kinds the source flagged (NULL: reported figure)"))
    op.create_index(_SIMULATED_INDEX, "trade_flows", ["reporter"], unique=False,
                    sqlite_where=sa.text("simulated = 1"), postgresql_where=sa.text("simulated"))


def downgrade() -> None:
    op.drop_index(_SIMULATED_INDEX, table_name="trade_flows")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("estimate_flags")
        batch_op.drop_column("released_at")
    with op.batch_alter_table("trade_flows", schema=None) as batch_op:
        batch_op.drop_column("released_at")
        batch_op.drop_column("estimate_flags")
        batch_op.drop_column("simulated")
