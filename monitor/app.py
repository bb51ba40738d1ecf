"""The composition root: builds the concrete objects the commands and the service use."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor import __version__
from monitor.notify.alerting import AlertEvaluation, AlertPipeline, DeliveryReport
from monitor.assess.assessment import AssessmentResult, run_assessment
from monitor.clock import Clock, system_clock
from monitor.collect.collection import CollectionOutcome, CollectionRunner, build_collectors, request_observer
from monitor.collect.http import HttpOptions
from monitor.config.loader import load_config
from monitor.config.models import Config
from monitor.telemetry.metrics import ChainwatchRegistry, ServiceMetrics, build_registry
from monitor.store.assessments import abandon_stale_runs
from monitor.store.database import make_engine, migrate, session_factory
from monitor.store.simulated_data import (
    SimulatedDataError,
    assessed_rows_simulated,
    assessed_series,
    has_demo_source,
    simulated_rows_stored,
)

log = logging.getLogger(__name__)




@dataclass
class App:
    """chainwatch's objects, wired once."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    http: httpx.Client
    registry: ChainwatchRegistry
    metrics: ServiceMetrics
    collection: CollectionRunner
    alerting: AlertPipeline
    last_outcomes: list[CollectionOutcome] = field(default_factory=list)

    def collect(self, source_id: str) -> CollectionOutcome:
        """Collect one source and count the outcome."""
        outcome = self.collection.collect(source_id)
        self.metrics.collections.labels(outcome.source, "success" if outcome.ok else "failure").inc()
        return outcome

    def collect_all(self) -> list[CollectionOutcome]:
        """Collect every configured source."""
        outcomes = [self.collect(source_id) for source_id in self.collection.source_ids]
        self.last_outcomes = outcomes
        return outcomes

    def assess(self) -> AssessmentResult:
        """Run one assessment on the stored data (after marking runs a dead process left as abandoned)."""
        self.abandon_stale_runs()
        result = run_assessment(self.config, self.sessions, self.clock)
        self.registry.stored.prepare()  # the next /metrics scrape of this process does not read the run
        return result

    def abandon_stale_runs(self) -> list[int]:
        """Mark runs ``running`` for longer than ``assessment.abandon_after_hours`` as ``abandoned``.

        Called at the start of every assessment (by the leader's scheduled job or
        ``assess --once``) and by the leader's ``abandon-stale-runs`` job every
        ``scheduler.stale_run_check_minutes``. The age is the guard against marking a run
        another live process is still executing.
        """
        hours = self.config.settings.assessment.abandon_after_hours
        marked = abandon_stale_runs(self.sessions, timedelta(hours=hours), self.clock())
        if marked:
            log.warning("assessment run(s) %s still running %g h after they started: marked abandoned "
                        "(their process died; they stored nothing)", ", ".join(map(str, marked)), hours)
        return marked

    def assess_once(self) -> tuple[AssessmentResult, AlertEvaluation, DeliveryReport]:
        """Collect, assess, evaluate alerts and deliver: the whole path once."""
        self.collect_all()
        result = self.assess()
        evaluation = self.alerting.evaluate(result)
        report = self.alerting.deliver_due()
        return result, evaluation, report

    def write_report(self, out_dir: Path | str, run_id: int | None = None) -> Path:
        """Write the report of run ``run_id`` (default: latest successful) into ``out_dir``."""
        from monitor.report.content import build_report
        from monitor.report.render import write_report

        with self.sessions() as session:
            document, plots = build_report(self.config, session, run_id, simulated=self.simulated)
        return write_report(document, plots, Path(out_dir))

    @property
    def simulated(self) -> bool:
        """True when the rows an assessment reads include simulated ones (the data decide, not the config)."""
        with self.sessions() as session:
            return assessed_rows_simulated(session, self.config.catalog.home, assessed_series(self.config))

    def refuse_simulated_mix(self, allow_simulated: bool = False) -> None:
        """Raise :class:`SimulatedDataError` when a configuration without a demo source meets simulated rows.

        ``allow_simulated`` (``--allow-simulated``): proceed; every output is then
        labelled simulated as long as simulated rows are read.
        """
        if allow_simulated or has_demo_source(self.config):
            return
        with self.sessions() as session:
            stored = simulated_rows_stored(session)
        if stored:
            raise SimulatedDataError(
                "this database holds simulated demo rows and the configuration has no demo source: "
                "use a separate database for real data (--db URL or CHAINWATCH_DB_URL), "
                "or pass --allow-simulated to proceed with results labelled simulated")

    def close(self) -> None:
        """Release connections."""
        self.collection.close()
        self.http.close()
        self.engine.dispose()


def build_app(config_dir: Path | str | None, db_url: str, clock: Clock = system_clock) -> App:
    """Load config, open and migrate the database, and wire everything."""
    config = load_config(config_dir)
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    home, series = config.catalog.home, assessed_series(config)
    registry, metrics = build_registry(
        sessions, top_partners=config.settings.metrics.top_partners,
        simulated=lambda session: assessed_rows_simulated(session, home, series))
    http = httpx.Client(
        headers={"User-Agent": f"chainwatch/{__version__} (+https://github.com/chainwatch/chainwatch)"},
        timeout=httpx.Timeout(10.0, connect=5.0),
        follow_redirects=False,
        trust_env=False,  # a proxy from the environment must not intercept webhook traffic
    )
    return App(
        config=config, engine=engine, sessions=sessions, clock=clock, http=http,
        registry=registry, metrics=metrics,
        collection=CollectionRunner(
            build_collectors(config, HttpOptions(observer=request_observer(metrics)), clock),
            sessions, clock, metrics),
        alerting=AlertPipeline(config, sessions, http, clock, metrics),
    )
