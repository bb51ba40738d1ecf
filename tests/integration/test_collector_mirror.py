"""Mirror fallback: a period the reporter has not reported is filled from the partner's side, marked.

Recorded rows (``fixtures/comtrade/preview_annual_usa_chn_mirror_2022_2024.json``) are
real Comtrade v1 records: the USA's imports (reporter 842, flow M, partners World and
China) and China's exports to the USA (reporter 156, partner 842, flow X) of HS 8105
and 2846, 2022-2024. The fake API withholds the USA's own 2024 report until a test
"publishes" it.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import httpx
import pandas as pd
import pytest
from sqlalchemy import select

from monitor.collect.collection import CollectionRunner
from monitor.records import MIRROR, REPORTED, CollectedBatch
from monitor.collect.comtrade import ComtradeCollector
from monitor.config.models import ComtradeSource
from monitor.store.observations import load_trade_flows, store_batch
from monitor.store.tables import TradeFlow
from tests.collector_fakes import Script, fixture_json, json_response, options
from tests.conftest import FrozenClock

RECORDS = "comtrade/preview_annual_usa_chn_mirror_2022_2024.json"
FACTOR = 1.06
# China's reported exports to the USA in 2024 (fixture rows, USD, FOB)
CHN_X_2024 = {"8105": 28419604.0, "2846": 106253098.0}
USA_M_FROM_CHN_2024 = {"8105": 8662979.0, "2846": 116100303.0}


class FakeComtrade:
    """Answers like the preview endpoint; the USA's 2024 rows exist only once ``published``."""

    def __init__(self) -> None:
        self.published: set[str] = {"2022", "2023"}
        self.requests: list[httpx.QueryParams] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params
        self.requests.append(query)
        document = fixture_json(RECORDS)

        def wanted(row: dict) -> bool:
            if "reporterCode" in query and str(row["reporterCode"]) not in query["reporterCode"].split(","):
                return False
            if "partnerCode" in query and str(row["partnerCode"]) not in query["partnerCode"].split(","):
                return False
            if row["reporterCode"] == 842 and row["period"] not in self.published:
                return False
            return (row["flowCode"] == query["flowCode"] and row["period"] in query["period"].split(",")
                    and row["cmdCode"] in query["cmdCode"].split(","))

        document["data"] = [row for row in document["data"] if wanted(row)]
        document["count"] = len(document["data"])
        return json_response(document)


def settings(**overrides) -> ComtradeSource:
    base = dict(id="comtrade", kind="comtrade", base_url="https://comtrade.test", frequency="A",
                reporters=["USA"], products=["8105", "2846"], start="2022-01", lookback_months=12,
                mirror={"partners": ["CHN"], "cif_fob_factor": FACTOR})
    return ComtradeSource(**{**base, **overrides})


def test_missing_reporter_period_is_filled_from_the_partner_and_marked(catalog):
    fake = FakeComtrade()
    collector = ComtradeCollector(settings(), catalog, options(fake), lambda: datetime(2025, 6, 1, tzinfo=UTC))
    flows = collector.collect().trade_flows
    mirror_requests = [q for q in fake.requests if q.get("reporterCode") == "156"]
    assert len(mirror_requests) == 1
    asked = mirror_requests[0]
    # the partner's exports towards the home economy, only for the missing year
    assert (asked["partnerCode"], asked["flowCode"], asked["period"]) == ("842", "X", "2024")
    assert set(asked["cmdCode"].split(",")) == {"8105", "2846"}

    mirrored = flows[flows["provenance"] == MIRROR]
    assert set(mirrored["period"]) == {pd.Timestamp("2024-01-01")}
    assert set(mirrored["partner"]) == {"CHN"} and set(mirrored["flow"]) == {"M"}
    assert set(mirrored["reporter"]) == {"USA"}
    for product, fob in CHN_X_2024.items():
        row = mirrored[mirrored["product"] == product].iloc[0]
        assert row["value"] == pytest.approx(fob * FACTOR)
        assert row["cif_fob_factor"] == FACTOR
    reported = flows[flows["provenance"] == REPORTED]
    assert set(reported["period"]) == {pd.Timestamp("2022-01-01"), pd.Timestamp("2023-01-01")}
    assert reported["cif_fob_factor"].isna().all()


def test_without_a_factor_mirror_values_are_the_partners_figures(catalog):
    fake = FakeComtrade()
    collector = ComtradeCollector(settings(mirror={"partners": ["CHN"]}), catalog, options(fake),
                                  lambda: datetime(2025, 6, 1, tzinfo=UTC))
    mirrored = collector.collect().trade_flows.query("provenance == @MIRROR")
    assert dict(zip(mirrored["product"], mirrored["value"])) == CHN_X_2024
    assert mirrored["cif_fob_factor"].isna().all()


def test_without_a_partner_list_every_reporting_partner_is_asked(catalog):
    fake = FakeComtrade()
    collector = ComtradeCollector(settings(mirror={}), catalog, options(fake),
                                  lambda: datetime(2025, 6, 1, tzinfo=UTC))
    mirrored = collector.collect().trade_flows.query("provenance == @MIRROR")
    asked = [q for q in fake.requests if q["flowCode"] == "X"]
    assert len(asked) == 1 and "reporterCode" not in asked[0] and asked[0]["partnerCode"] == "842"
    assert set(mirrored["partner"]) == {"CHN"} and len(mirrored) == 2


def test_a_reported_period_is_never_mirrored_and_no_mirror_without_config(catalog):
    fake = FakeComtrade()
    fake.published.add("2024")
    ComtradeCollector(settings(), catalog, options(fake), lambda: datetime(2025, 6, 1, tzinfo=UTC)).collect()
    assert all(q["reporterCode"] == "842" for q in fake.requests)

    fake = FakeComtrade()
    flows = ComtradeCollector(settings(mirror=None), catalog, options(fake),
                              lambda: datetime(2025, 6, 1, tzinfo=UTC)).collect().trade_flows
    assert all(q["reporterCode"] == "842" for q in fake.requests)
    assert set(flows["provenance"]) == {REPORTED}


def test_mirror_rows_outside_the_request_or_from_elsewhere_are_rejected(catalog):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["reporterCode"] == "842":
            return json_response({"elapsedTime": "0 secs", "count": 0, "data": [], "error": ""})
        rows = [r for r in fixture_json(RECORDS)["data"] if r["reporterCode"] == 156]
        bogus = dict(rows[0], partnerCode=392)  # China's exports to Japan: not a mirror of the USA
        return json_response({"elapsedTime": "0 secs", "count": len(rows) + 1, "data": [*rows, bogus],
                              "error": ""})

    collector = ComtradeCollector(settings(start="2024-01"), catalog, options(Script(default=answer)),
                                  lambda: datetime(2025, 6, 1, tzinfo=UTC))
    batch = collector.collect()
    # asked for 2024 only: the 2022/2023 rows the fake sent anyway are not taken
    assert set(batch.trade_flows["period"]) == {pd.Timestamp("2024-01-01")}
    assert batch.rejected == {"mirror_not_requested": 4, "mirror_unknown_country": 1}


def test_end_to_end_mirror_then_reported_data_replaces_it(sessions, catalog):
    fake = FakeComtrade()
    clock = FrozenClock(datetime(2025, 6, 1, tzinfo=UTC))
    collector = ComtradeCollector(settings(), catalog, options(fake), clock)
    runner = CollectionRunner([collector], sessions, clock)

    first = runner.collect("comtrade")
    assert first.ok and first.rows_ingested == 8 + 2
    with sessions() as session:
        flows = load_trade_flows(session, "USA", ["8105", "2846"], with_provenance=True)
        stored = session.execute(select(TradeFlow.provenance, TradeFlow.cif_fob_factor)
                                 .where(TradeFlow.period == date(2024, 1, 1))).all()
    assert sorted(stored) == [(MIRROR, FACTOR), (MIRROR, FACTOR)]
    year = flows[flows["period"] == "2024-01-01"]
    assert set(year["provenance"]) == {MIRROR}
    assert dict(zip(year["product"], year["value"])) == pytest.approx(
        {p: v * FACTOR for p, v in CHN_X_2024.items()})

    # nothing new upstream: the mirror rows are unchanged, nothing is written again
    clock.now += timedelta(days=7)
    again = runner.collect("comtrade")
    assert again.ok and again.rows_ingested == 0

    # the USA publishes 2024: its own figures replace the mirror ones
    fake.published.add("2024")
    clock.now += timedelta(days=7)
    fake.requests.clear()
    third = runner.collect("comtrade")
    assert third.ok and third.rows_ingested == 4  # World and China rows of both products
    assert all(q["reporterCode"] == "842" for q in fake.requests)
    with sessions() as session:
        flows = load_trade_flows(session, "USA", ["8105", "2846"], with_provenance=True)
        kept = session.scalar(select(TradeFlow.value).where(TradeFlow.provenance == MIRROR,
                                                            TradeFlow.product == "8105"))
    year = flows[flows["period"] == "2024-01-01"]
    assert set(year["provenance"]) == {REPORTED}
    china = year[year["partner"] == "CHN"]
    assert dict(zip(china["product"], china["value"])) == USA_M_FROM_CHN_2024
    assert kept == pytest.approx(CHN_X_2024["8105"] * FACTOR)  # the mirror rows stay stored, shadowed


def test_reported_beats_mirror_whatever_the_arrival_order(sessions):
    """A mirror row stored *after* a reported one of the same period still loses to it."""
    def batch(vintage: str, provenance: str, rows: list[tuple[str, float]]) -> CollectedBatch:
        frame = pd.DataFrame({
            "reporter": "USA", "partner": [p for p, _ in rows], "product": "8105", "flow": "M",
            "period": pd.Timestamp("2024-01-01"), "value": [v for _, v in rows], "quantity": math.nan,
            "provenance": provenance, "cif_fob_factor": FACTOR if provenance == MIRROR else math.nan})
        return CollectedBatch(source="comtrade", vintage=vintage, trade_flows=frame)

    now = datetime(2025, 6, 1, tzinfo=UTC)
    store_batch(sessions, batch("v1", REPORTED, [("CHN", 100.0), ("JPN", 50.0)]), now)
    store_batch(sessions, batch("v2", MIRROR, [("CHN", 130.0), ("KOR", 20.0)]), now + timedelta(days=1))
    with sessions() as session:
        flows = load_trade_flows(session, "USA", ["8105"], with_provenance=True)
    assert sorted(zip(flows["partner"], flows["value"], flows["provenance"])) == [
        ("CHN", 100.0, REPORTED), ("JPN", 50.0, REPORTED)]  # no mirror KOR mixed into a reported year


def test_unknown_provenance_is_refused_and_nothing_is_written(sessions):
    from monitor.store.observations import BatchError
    frame = pd.DataFrame({"reporter": ["USA"], "partner": ["CHN"], "product": ["8105"], "flow": ["M"],
                          "period": [pd.Timestamp("2024-01-01")], "value": [1.0], "quantity": [math.nan],
                          "provenance": ["guessed"]})
    with pytest.raises(BatchError, match="provenance"):
        store_batch(sessions, CollectedBatch(source="comtrade", vintage="v", trade_flows=frame),
                    datetime(2025, 6, 1, tzinfo=UTC))
    with sessions() as session:
        assert session.scalar(select(TradeFlow.value)) is None
