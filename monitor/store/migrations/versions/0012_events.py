"""policy and supply events (issue #26)

- ``events``: one row per event as one source published it (unique ``source,
  external_id``); ``canonical_id`` links the same measure from a second source, an
  amendment or a correction to the canonical event (NULL on the canonical row itself);
  ``status`` active/withdrawn. Contract: docs/events.md.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False,
                  comment="the source's own id (document number, row id)"),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False,
                  comment="export_ban, sanction, licensing, outage, tariff, listing, notice"),
        sa.Column("issuer", sa.String(length=8), nullable=False, comment="ISO alpha-3 of the issuing country, or EU"),
        sa.Column("issuing_body", sa.String(length=128), nullable=False),
        sa.Column("affected", sa.String(length=400), nullable=False,
                  comment="';'-separated ISO alpha-3; '*' = every destination"),
        sa.Column("hs_codes", sa.String(length=400), nullable=False, comment="';'-separated HS headings/subheadings"),
        sa.Column("announced", sa.Date(), nullable=False),
        sa.Column("effective", sa.Date(), nullable=True),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="active or withdrawn"),
        sa.Column("canonical_id", sa.Integer(), nullable=True,
                  comment="the event this row repeats or amends (NULL: a canonical event)"),
        sa.Column("retrieved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["canonical_id"], ["events.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_announced", ["announced"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_canonical_id"), ["canonical_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_canonical_id"))
        batch_op.drop_index("ix_events_announced")
    op.drop_table("events")
