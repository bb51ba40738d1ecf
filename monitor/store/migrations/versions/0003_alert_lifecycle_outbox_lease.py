"""alert lifecycle (pending/for, hold, acknowledgement), outbox lease, silences, notification log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_runs", sa.Integer(), nullable=False, server_default="1",
                                      comment="consecutive assessments the condition held"))
        batch_op.add_column(sa.Column("missing_runs", sa.Integer(), nullable=False, server_default="0",
                                      comment="consecutive assessments absent while kept firing"))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ack_comment", sa.Text(), nullable=True))
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "claimed_until", sa.DateTime(timezone=True), nullable=True,
            comment="a dispatcher is sending it until then (lease; a crash lets it lapse)"))
    op.create_table(
        "silences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False, comment='matcher strings, e.g. chain="batteries"'),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silences_ends_at"), ["ends_at"], unique=False)
    op.create_table(
        "notification_log",
        sa.Column("key", sa.String(length=64), nullable=False, comment="sha256 of receiver and group key"),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("firing", sa.JSON(), nullable=False,
                  comment="fingerprint -> label-set hash of firing alerts last sent"),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("notification_log")
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silences_ends_at"))
    op.drop_table("silences")
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("ack_comment")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("missing_runs")
        batch_op.drop_column("active_runs")
