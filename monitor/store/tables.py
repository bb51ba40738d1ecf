"""SQLAlchemy 2.0 models of everything chainwatch stores.

The schema is created and changed only by Alembic migrations
(``monitor/store/migrations``); these classes are the ORM view of it. Periods are
stored as the first day of their month (``Date``); timestamps are UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of chainwatch's tables."""


class Series(Base):
    """Metadata of one observation series (a production index, a trade aggregate...)."""

    __tablename__ = "series"
    series_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    chain: Mapped[str | None] = mapped_column(String(64))
    node: Mapped[str | None] = mapped_column(String(64))
    simulated: Mapped[bool] = mapped_column(default=False)


class Observation(Base):
    """One value of one series for one month, as published in one vintage."""

    __tablename__ = "observations"
    series_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    vintage: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(64))
    retrieved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="publication time of the release (NULL: unknown, retrieved_at counts)")
    estimate_flags: Mapped[str | None] = mapped_column(
        String(128), comment="comma-separated estimate kinds the source flagged (NULL: reported figure)")


class TradeFlow(Base):
    """A bilateral trade flow: reporter's imports (M) or exports (X) of a product.

    The primary key leads with ``(reporter, product, flow, period)``, the columns
    every reader filters on (migration 0008), so it is the table's only index: each
    further index costs bulk ingest about as much as the key itself.
    """

    __tablename__ = "trade_flows"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    reporter: Mapped[str] = mapped_column(String(8), primary_key=True)
    partner: Mapped[str] = mapped_column(String(8), primary_key=True)
    product: Mapped[str] = mapped_column(String(12), primary_key=True)
    flow: Mapped[str] = mapped_column(String(1), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    vintage: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float, comment="USD")
    quantity: Mapped[float | None] = mapped_column(Float, comment="kg")
    retrieved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    provenance: Mapped[str] = mapped_column(
        String(16), default="reported", server_default="reported",
        comment="reported (by the reporter) or mirror (the partner's reported flow)")
    cif_fob_factor: Mapped[float | None] = mapped_column(
        Float, comment="factor applied to a mirror flow's FOB value (None: not adjusted)")
    simulated: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="the row came from the demo simulator")
    estimate_flags: Mapped[str | None] = mapped_column(
        String(128), comment="comma-separated estimate kinds the source flagged (NULL: reported figure)")
    released_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="publication time of the release (NULL: unknown, retrieved_at counts)")

    # The partial index holds the simulated rows only (migration 0009): real rows never enter it.
    __table_args__ = (PrimaryKeyConstraint("reporter", "product", "flow", "period", "partner", "source", "vintage",
                                           name="trade_flows_pkey"),
                      Index("ix_trade_flows_simulated_reporter", "reporter",
                            sqlite_where=text("simulated = 1"), postgresql_where=text("simulated")))


class CollectorRun(Base):
    """One collection of one source: when, how it went, how many rows it wrote."""

    __tablename__ = "collector_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Of the rows delivered: without a stored vintage, different from it, equal to it (NULL before 0010).
    rows_new: Mapped[int | None] = mapped_column(Integer)
    rows_revised: Mapped[int | None] = mapped_column(Integer)
    rows_unchanged: Mapped[int | None] = mapped_column(Integer)


class AssessmentRun(Base):
    """One assessment: as-of period, config provenance, timing and status."""

    __tablename__ = "assessment_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_assessment_runs_status_id", "status", "id"),)


class Finding(Base):
    """One detector's verdict on one subject and period."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assessment_runs.id", ondelete="CASCADE"), index=True)
    chain: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    series_id: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(64))
    period: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(8))
    observed: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    explanation_en: Mapped[str] = mapped_column(Text)
    explanation_zh: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_findings_run_chain_node_series", "run_id", "chain", "node", "series_id", "period"),)


class RiskScore(Base):
    """A 0–100 risk score of a node or (node = "") a chain, for one dimension."""

    __tablename__ = "risk_scores"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assessment_runs.id", ondelete="CASCADE"), index=True)
    chain: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))  # reported level, after hysteresis
    raw_level: Mapped[str] = mapped_column(String(8), default="", server_default="", comment="level the score maps to")
    runs_below: Mapped[int] = mapped_column(Integer, default=0, server_default="0", comment="consecutive runs below the level")
    completeness: Mapped[float] = mapped_column(Float, default=1.0, server_default="1", comment="share of inputs with data, 0-1")
    drivers: Mapped[list] = mapped_column(JSON, default=list)
    drivers_zh: Mapped[list | None] = mapped_column(JSON, default=list)
    details: Mapped[dict | None] = mapped_column(JSON, comment="measured values behind the score")

    __table_args__ = (UniqueConstraint("run_id", "chain", "node", "dimension"),
                      Index("ix_risk_scores_chain_node_dimension_run", "chain", "node", "dimension", "run_id"))


class AlertRecord(Base):
    """The current state of one alert, keyed by its label fingerprint."""

    __tablename__ = "alerts"
    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    labels: Mapped[dict] = mapped_column(JSON)
    annotations: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[int | None] = mapped_column(Integer)
    active_runs: Mapped[int] = mapped_column(Integer, default=1, server_default="1",
                                             comment="consecutive assessments the condition held")
    missing_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                              comment="consecutive assessments absent while kept firing")
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ack_comment: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A notification waiting for (or done with) delivery.

    Deleted-from-the-queue semantics: a message leaves ``pending`` only when the
    receiver acknowledged it (``delivered``) or retries are exhausted (``dead``).
    The receiver's URL and secret are not stored: they are resolved from config at
    delivery time, so no secret lands in the database.
    """

    __tablename__ = "notification_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    receiver: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="a dispatcher is sending it until then (lease; a crash lets it lapse)")


class SilenceRecord(Base):
    """A silence: label matchers muting notifications from ``starts_at`` to ``ends_at``."""

    __tablename__ = "silences"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[list] = mapped_column(JSON, comment='matcher strings, e.g. chain="batteries"')
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotificationLogRecord(Base):
    """What one receiver was last told about one alert group (Alertmanager's nflog)."""

    __tablename__ = "notification_log"
    key: Mapped[str] = mapped_column(String(64), primary_key=True, comment="sha256 of receiver and group key")
    receiver: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(Text)
    firing: Mapped[dict] = mapped_column(JSON, comment="fingerprint -> label-set hash of firing alerts last sent")
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sequence: Mapped[int] = mapped_column(Integer, default=0)


class StressRun(Base):
    """One run of the stress-test suite: when, on which data month, which scenarios, how it went."""

    __tablename__ = "stress_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), index=True)
    as_of: Mapped[date | None] = mapped_column(Date, comment="last data month of the baseline")
    config_hash: Mapped[str] = mapped_column(String(64))
    scenarios: Mapped[list] = mapped_column(JSON, default=list, comment="id, name, name_zh, horizon_months of each")
    error: Mapped[str | None] = mapped_column(Text)


class StressResult(Base):
    """A scenario's result for one node, or (node = "") for its chain."""

    __tablename__ = "stress_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("stress_runs.id", ondelete="CASCADE"), index=True)
    scenario: Mapped[str] = mapped_column(String(64))
    chain: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    impact_score: Mapped[float] = mapped_column(Float, comment="0-100")
    level: Mapped[str] = mapped_column(String(8))
    peak_shortfall: Mapped[float] = mapped_column(Float, comment="share of normal demand, 0-1")
    time_to_impact_months: Mapped[int | None] = mapped_column(Integer)
    months_to_recovery: Mapped[int | None] = mapped_column(Integer)
    value_at_risk_usd: Mapped[float | None] = mapped_column(
        Float, comment="shortfall-months x normal monthly demand at import prices, USD (NULL: before 0011)")
    time_to_survive_months: Mapped[int | None] = mapped_column(
        Integer, comment="months supply meets demand before the first shortfall (NULL: none within the horizon)")
    time_to_recover_months: Mapped[int | None] = mapped_column(
        Integer, comment="months until supply is whole again (0: never hit; NULL: not within the horizon)")
    path: Mapped[list | None] = mapped_column(JSON, comment="nodes the loss came through, this node first")
    monthly: Mapped[list | None] = mapped_column(JSON, comment="per month: shortfall, inventory_days, ...")

    __table_args__ = (UniqueConstraint("run_id", "scenario", "chain", "node"),)


class PolicyEvent(Base):
    """A policy or supply event (an export control, a listing, an outage...) as one source published it.

    ``canonical_id`` links a revision to the event it repeats or amends: the same
    measure from a second source, an amendment, a correction. A row without it is a
    canonical event; its warnings follow the newest status of the whole family
    (docs/events.md, migration 0012).
    """

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200), comment="the source's own id (document number, row id)")
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32), comment="export_ban, sanction, licensing, outage, tariff, listing, notice")
    issuer: Mapped[str] = mapped_column(String(8), comment="ISO alpha-3 of the issuing country, or EU")
    issuing_body: Mapped[str] = mapped_column(String(128), default="")
    affected: Mapped[str] = mapped_column(String(400), comment="';'-separated ISO alpha-3; '*' = every destination")
    hs_codes: Mapped[str] = mapped_column(String(400), default="", comment="';'-separated HS headings/subheadings")
    announced: Mapped[date] = mapped_column(Date)
    effective: Mapped[date | None] = mapped_column(Date)
    link: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[str] = mapped_column(String(16), default="active", comment="active or withdrawn")
    canonical_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="SET NULL"), index=True,
        comment="the event this row repeats or amends (NULL: a canonical event)")
    retrieved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("source", "external_id"), Index("ix_events_announced", "announced"))
