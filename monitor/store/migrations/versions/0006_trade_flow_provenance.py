"""trade flows record their provenance: reported by the reporter, or mirrored from the partner

A ``mirror`` row is the partner's reported exports towards the home economy, stored
in place of the reporter's missing imports (optionally scaled by a CIF/FOB factor,
kept in ``cif_fob_factor``). Existing rows are all reporter-reported.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trade_flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "provenance", sa.String(length=16), nullable=False, server_default="reported",
            comment="reported (by the reporter) or mirror (the partner's reported flow)"))
        batch_op.add_column(sa.Column(
            "cif_fob_factor", sa.Float(), nullable=True,
            comment="factor applied to a mirror flow's FOB value (None: not adjusted)"))


def downgrade() -> None:
    with op.batch_alter_table("trade_flows", schema=None) as batch_op:
        batch_op.drop_column("cif_fob_factor")
        batch_op.drop_column("provenance")
