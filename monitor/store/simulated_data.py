"""Whether stored rows come from the demo simulator: the ``simulated_data`` flag follows the data.

Trade flows carry their own mark (``trade_flows.simulated``, migration 0009);
observations are marked through their series (``series.simulated``). What is
simulated is decided by the stored rows, never by which sources the configuration
names: a real configuration opened on a database the demo filled still reads
simulated rows (see docs/provenance.md).

- :func:`assessed_rows_simulated`: whether the rows an assessment reads (the home
  economy's trade flows, the observations of the configured series) include
  simulated ones; every ``simulated_data`` output and the ``chainwatch_data_simulated``
  gauge follow it.
- :func:`simulated_rows_stored`: whether any stored row is simulated (the refusal of a
  live configuration, ``--allow-simulated``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import exists, select, true
from sqlalchemy.orm import Session

from monitor.store.tables import Series, TradeFlow

if TYPE_CHECKING:
    from monitor.config.models import Config

class SimulatedDataError(RuntimeError):
    """A configuration without a demo source was opened on a database holding simulated rows.

    The command line reports it in one line and exits 2
    (:meth:`monitor.app.App.refuse_simulated_mix`).
    """


_PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")


def _series_pattern(series: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching the series ids: ``{partner}``-style placeholders match any text."""
    parts = [".*".join(re.escape(piece) for piece in _PLACEHOLDER.split(s)) for s in series if s]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def _simulated_flows(session: Session, reporter: str | None = None) -> bool:
    # "simulated = true" is the predicate of the partial index of migration 0009 (one seek).
    condition = [TradeFlow.simulated == true()]
    if reporter is not None:
        condition.append(TradeFlow.reporter == reporter)
    return bool(session.scalar(select(exists().where(*condition))))


def assessed_rows_simulated(session: Session, home: str, series: Iterable[str] = ()) -> bool:
    """Whether the rows an assessment of ``home`` reads include simulated ones.

    Parameters
    ----------
    home
        The watched economy: its trade flows (imports and exports, any product) count.
    series
        Ids of the observation series the assessment reads (production series, the
        dimensions' series); ``{partner}``, ``{chain}``, ``{node}`` placeholders match
        any text.

    A simulated row counts whether or not a newer real vintage stands over it: the
    flag errs towards "simulated" rather than hide demo rows.
    """
    if _simulated_flows(session, home):
        return True
    pattern = _series_pattern(series)
    if pattern is None:
        return False
    ids = session.scalars(select(Series.series_id).where(Series.simulated == true())).all()
    return any(pattern.fullmatch(series_id) for series_id in ids)


def simulated_rows_stored(session: Session) -> bool:
    """Whether the database holds any simulated row (trade flow or series)."""
    if _simulated_flows(session):
        return True
    return bool(session.scalar(select(exists().where(Series.simulated == true()))))


def has_demo_source(config: "Config") -> bool:
    """Whether any configured source is the demo simulator."""
    return any(s.kind == "demo" for s in config.sources.sources)


def assessed_series(config: "Config") -> list[str]:
    """Ids (or ``{placeholder}`` patterns) of the observation series an assessment reads."""
    ids = {s for chain in config.catalog.chains for node in chain.nodes for s in node.production_series}
    dimensions = config.settings.assessment.dimensions
    if dimensions.partner_risk.enabled:
        ids.update(dimensions.partner_risk.series)
    if dimensions.logistics.enabled and dimensions.logistics.series:
        ids.add(dimensions.logistics.series)
    return sorted(ids)
