"""End to end: ``chainwatch collect`` against a local fake Comtrade (real sockets)."""

from __future__ import annotations

import json
import shutil
from urllib.parse import parse_qs, urlparse

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from monitor.cli.main import main
from monitor.collect.collection import CollectionRunner, build_collectors
from monitor.config.loader import load_config
from monitor.telemetry.metrics import ServiceMetrics
from monitor.store.database import make_engine, migrate, session_factory
from tests.collector_fakes import fixture_json, fixture_text, local_server, send
from tests.conftest import CONFIG_DIR


class FakeComtrade:
    """Serves the recorded annual rows filtered by period/cmdCode; can revise a value or break."""

    def __init__(self) -> None:
        self.revised: float | None = None
        self.broken_after: int | None = None  # answer HTML after this many requests
        self.requests: list[dict] = []

    def __call__(self, handler) -> None:
        query = parse_qs(urlparse(handler.path).query)
        self.requests.append(query)
        if self.broken_after is not None and len(self.requests) > self.broken_after:
            send(handler, 200, fixture_text("comtrade/gateway_error.html"), "text/html")
            return
        document = fixture_json("comtrade/preview_annual_usa_8105_2846.json")
        periods = set(query["period"][0].split(","))
        codes = set(query["cmdCode"][0].split(","))
        rows = [r for r in document["data"] if r["period"] in periods and r["cmdCode"] in codes]
        for row in rows:
            if self.revised is not None and row["cmdCode"] == "8105" and row["partnerCode"] == 156 \
                    and row["period"] == "2023":
                row["primaryValue"] = self.revised
        document["data"], document["count"] = rows, len(rows)
        send(handler, 200, json.dumps(document))


@pytest.fixture
def fake_comtrade():
    fake = FakeComtrade()
    with local_server(fake) as url:
        yield fake, url


def config_dir(tmp_path, url: str):
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus"))
    (target / "sources.yaml").write_text(f"""
sources:
  - id: comtrade
    kind: comtrade
    base_url: {url}
    frequency: A
    reporters: [USA]
    products: ["8105", "2846"]
    products_per_request: 1
    start: "2022-01"
    lookback_months: 12
    rate_per_second: 100
    burst: 10
    max_attempts: 2
    backoff_seconds: 0
""")
    return target


def stored(db_url: str) -> list[tuple]:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT partner, product, period, vintage, value FROM trade_flows ORDER BY 1, 2, 3, 4")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def dump_tables(db_url: str) -> bytes:
    engine = create_engine(db_url)
    out = []
    with engine.connect() as connection:
        for table in ("trade_flows", "observations", "series"):
            out.append(repr(connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2, 3")).all()))
    engine.dispose()
    return "\n".join(out).encode()


def test_collect_ingests_then_nothing_new_then_a_revision_as_new_vintage(tmp_path, fake_comtrade, capsys,
                                                                         monkeypatch):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    fake, url = fake_comtrade
    config = config_dir(tmp_path, url)
    db_url = f"sqlite:///{tmp_path / 'cw.db'}"

    assert main(["collect", "--config", str(config), "--db", db_url]) == 0
    assert "comtrade: 8 new, 0 revised, 0 unchanged, 0 rejected row(s)" in capsys.readouterr().out
    first = stored(db_url)
    assert len(first) == 8 and {p for p, *_ in first} == {"WORLD", "CHN"}

    assert main(["collect", "--config", str(config), "--db", db_url, "--source", "comtrade"]) == 0
    assert "comtrade: 0 new, 0 revised, 8 unchanged" in capsys.readouterr().out
    assert stored(db_url) == first

    fake.revised = 7_100_000.0
    assert main(["collect", "--config", str(config), "--db", db_url]) == 0
    assert "comtrade: 0 new, 1 revised, 7 unchanged" in capsys.readouterr().out
    after = stored(db_url)
    revised = [r for r in after if r[0] == "CHN" and r[1] == "8105" and str(r[2]).startswith("2023")]
    assert [v for *_, v in revised] == [6998425.0, 7_100_000.0]  # previous vintage kept, new one added
    assert revised[0][3] < revised[1][3]

    engine = make_engine(db_url)
    with engine.connect() as connection:
        runs = connection.execute(text(
            "SELECT status, rows_written FROM collector_runs WHERE source = 'comtrade' ORDER BY id")).all()
    engine.dispose()
    assert [r[0] for r in runs] == ["succeeded"] * 3

    from monitor.store.observations import load_trade_flows
    sessions = session_factory(make_engine(db_url))
    with sessions() as session:
        latest = load_trade_flows(session, "USA", ["8105"])
    value = latest[(latest["partner"] == "CHN") & (latest["period"] == "2023-01-01")]["value"].iloc[0]
    assert value == 7_100_000.0


def test_a_failed_collection_leaves_stored_data_intact(tmp_path, fake_comtrade, capsys, monkeypatch):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    fake, url = fake_comtrade
    config = config_dir(tmp_path, url)
    db_url = f"sqlite:///{tmp_path / 'cw.db'}"
    assert main(["collect", "--config", str(config), "--db", db_url]) == 0
    before = dump_tables(db_url)

    fake.revised = 1.0           # the first chunk would revise a value ...
    fake.broken_after = len(fake.requests) + 1   # ... but the second chunk is an HTML error page
    assert main(["collect", "--config", str(config), "--db", db_url, "--since", "2022-01"]) == 1
    out = capsys.readouterr().out
    assert "comtrade: FAILED" in out and "HTML page instead of JSON" in out and url.split("//")[1] in out
    assert dump_tables(db_url) == before

    engine = make_engine(db_url)
    with engine.connect() as connection:
        status, error = connection.execute(text(
            "SELECT status, error FROM collector_runs ORDER BY id DESC LIMIT 1")).one()
    engine.dispose()
    assert status == "failed" and "HTML page" in error


def test_collect_rejects_bad_arguments(tmp_path, fake_comtrade, capsys):
    _, url = fake_comtrade
    config = config_dir(tmp_path, url)
    db_url = f"sqlite:///{tmp_path / 'cw.db'}"
    assert main(["collect", "--config", str(config), "--db", db_url, "--since", "2022-13"]) == 2
    assert main(["collect", "--config", str(config), "--db", db_url, "--source", "nope"]) == 2
    assert "not configured" in capsys.readouterr().err


def test_runner_metrics(tmp_path, fake_comtrade, monkeypatch):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    fake, url = fake_comtrade
    config = load_config(config_dir(tmp_path, url))
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    from monitor.collect.collection import request_observer
    from monitor.collect.http import HttpOptions

    runner = CollectionRunner(build_collectors(config, HttpOptions(observer=request_observer(metrics))),
                              session_factory(engine), lambda: __import__("datetime").datetime.now(
                                  __import__("datetime").timezone.utc), metrics)
    assert runner.collect("comtrade").rows_ingested == 8
    again = runner.collect("comtrade")  # the same rows again: nothing stored, all counted unchanged
    assert again.rows_ingested == 0 and again.rows_unchanged == 8
    fake.broken_after = len(fake.requests)
    assert not runner.collect("comtrade").ok
    runner.close()
    engine.dispose()
    get = registry.get_sample_value
    assert get("chainwatch_collector_rows_ingested_total", {"source": "comtrade"}) == 8
    assert get("chainwatch_collector_rows_unchanged_total", {"source": "comtrade"}) == 8
    assert get("chainwatch_collector_requests_total", {"source": "comtrade", "outcome": "success"}) == 4
    assert get("chainwatch_collector_requests_total", {"source": "comtrade", "outcome": "bad_payload"}) == 1
    assert get("chainwatch_collector_duration_seconds_count", {"source": "comtrade"}) == 3
