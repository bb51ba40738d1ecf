"""risk scores keep hysteresis state, data completeness and Chinese drivers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("risk_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_level", sa.String(length=8), nullable=False, server_default="",
                                      comment="level the score maps to"))
        batch_op.add_column(sa.Column("runs_below", sa.Integer(), nullable=False, server_default="0",
                                      comment="consecutive runs below the level"))
        batch_op.add_column(sa.Column("completeness", sa.Float(), nullable=False, server_default="1",
                                      comment="share of inputs with data, 0-1"))
        batch_op.add_column(sa.Column("drivers_zh", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("risk_scores", schema=None) as batch_op:
        batch_op.drop_column("drivers_zh")
        batch_op.drop_column("completeness")
        batch_op.drop_column("runs_below")
        batch_op.drop_column("raw_level")
