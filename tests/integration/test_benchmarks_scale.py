"""The ingest and assessment benchmarks run (tiny sizes; the numbers come from ``python -m benchmarks``)."""

from __future__ import annotations

from sqlalchemy import func, select

from benchmarks import bench_assessment, bench_ingest
from benchmarks.synthetic import SyntheticCatalog
from monitor.store.database import make_engine, session_factory
from monitor.store.tables import TradeFlow

TINY = SyntheticCatalog(nodes=3, hs_per_node=2, partners=2, months=40, chains=1)


def test_synthetic_catalog_sizes_add_up():
    catalog = TINY.catalog()
    assert sum(len(c.nodes) for c in catalog.chains) == TINY.nodes
    flows = TINY.flows(0, TINY.nodes)
    assert len(flows) == TINY.rows == TINY.series * TINY.months
    assert not flows.duplicated(["partner", "product", "period"]).any()
    assert (flows["value"] > 0).all()


def test_ingest_benchmark_stores_every_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    first, again = bench_ingest.ingest(url, TINY, nodes_per_batch=2)
    assert first > 0 and again > 0
    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(TradeFlow)) == TINY.rows
    engine.dispose()


def test_assessment_benchmark_judges_every_bilateral_series(tmp_path):
    url = f"sqlite:///{tmp_path / 'assessment.db'}"
    bench_assessment.prepare(url, TINY)
    outcome = bench_assessment.assess(url, TINY, "serial")
    assert outcome["findings"] >= TINY.series + TINY.nodes
    assert outcome["seconds"] > 0 and len(outcome["digest"]) == 64
    assert bench_assessment.assess(url, TINY, "serial")["digest"] == outcome["digest"]
