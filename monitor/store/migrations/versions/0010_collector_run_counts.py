"""collector run counts: new, revised and unchanged rows

``collector_runs.rows_new``, ``rows_revised``, ``rows_unchanged`` (nullable integers):
of the rows a collection delivered, how many had no stored vintage, how many differed
from their latest stored vintage, and how many equalled it. ``rows_written`` stays the
rows the database actually wrote. Existing runs: NULL (not counted then).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = ("rows_new", "rows_revised", "rows_unchanged")


def upgrade() -> None:
    with op.batch_alter_table("collector_runs", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collector_runs", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
