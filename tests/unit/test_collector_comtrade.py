"""UN Comtrade collector against recorded API v1 responses (real rows, see fixtures/README.md)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import httpx
import pytest
from pydantic import SecretStr

from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import trade_key
from monitor.collect.comtrade import ComtradeCollector
from monitor.collect.http import HttpError, PayloadError
from monitor.config.models import Catalog, ComtradeSource
from tests.collector_fakes import (
    FakeTime,
    Script,
    fixture_json,
    fixture_text,
    html_response,
    json_response,
    options,
)

CLOCK = lambda: datetime(2025, 6, 1, tzinfo=UTC)
ANNUAL = "comtrade/preview_annual_usa_8105_2846.json"


def settings(**overrides) -> ComtradeSource:
    base = dict(id="comtrade", kind="comtrade", base_url="https://comtrade.test", frequency="A",
                reporters=["USA"], products=["8105", "2846"], start="2022-01", periods_per_request=12,
                products_per_request=5, backoff_seconds=1.0)
    return ComtradeSource(**{**base, **overrides})


def collector(handler, catalog: Catalog, fake: FakeTime | None = None, **overrides) -> ComtradeCollector:
    return ComtradeCollector(settings(**overrides), catalog, options(handler, fake), CLOCK)


def filtered(request: httpx.Request):
    """Serve the recorded rows that match the request's period and cmdCode filters."""
    document = fixture_json(ANNUAL)
    periods = set(request.url.params["period"].split(","))
    codes = set(request.url.params["cmdCode"].split(","))
    document["data"] = [r for r in document["data"] if r["period"] in periods and r["cmdCode"] in codes]
    document["count"] = len(document["data"])
    return json_response(document)


def test_happy_path_maps_codes_and_periods(catalog):
    script = Script(default=filtered)
    batch = collector(script, catalog).collect()
    request = script.requests[0]
    assert request.url.path == "/public/v1/preview/C/A/HS"
    assert request.url.params["reporterCode"] == "842"        # Comtrade's code for the USA
    assert request.url.params["period"] == "2022,2023,2024"
    assert request.url.params["partner2Code"] == "0" and request.url.params["customsCode"] == "C00"
    assert "Ocp-Apim-Subscription-Key" not in request.headers
    flows = batch.trade_flows
    assert len(flows) == 8 and batch.rejected == {}
    assert set(flows["reporter"]) == {"USA"} and set(flows["partner"]) == {"WORLD", "CHN"}
    row = flows[(flows["product"] == "8105") & (flows["partner"] == "CHN")
                & (flows["period"] == "2022-01-01")].iloc[0]
    assert row["value"] == 8824392.0 and row["flow"] == "M"
    assert batch.vintage == "2025-06-01T00:00:00.000000Z"


def test_keyed_endpoint_sends_the_header(catalog):
    script = Script(default=filtered)
    c = collector(script, catalog, api_key=SecretStr("k3y-value"))
    c.collect()
    assert script.requests[0].url.path == "/data/v1/get/C/A/HS"
    assert script.requests[0].headers["Ocp-Apim-Subscription-Key"] == "k3y-value"


def test_chunking_splits_when_the_record_cap_is_reached(catalog):
    script = Script(default=filtered)
    batch = collector(script, catalog, max_records=3).collect()
    assert len(batch.trade_flows) == 8
    # the first answer (8 rows >= 3) was split into periods, then products
    assert len(script.requests) > 3
    assert all(len(r.url.params["period"].split(",")) == 1 for r in script.requests[-2:])


def test_a_single_chunk_at_the_cap_is_an_error(catalog):
    script = Script(default=filtered)
    with pytest.raises(CollectionError, match="the cap"):
        collector(script, catalog, max_records=1, products=["8105"]).collect()


def test_window_fetches_only_recent_periods(catalog):
    script = Script(default=filtered)
    window = CollectionWindow(latest={trade_key("USA", "8105", "M"): date(2023, 1, 1),
                                      trade_key("USA", "2846", "M"): date(2023, 1, 1)}, lookback_months=12)
    collector(script, catalog).collect(window)
    assert script.requests[0].url.params["period"] == "2022,2023,2024"
    window = CollectionWindow(latest=window.latest, lookback_months=0)
    collector(script, catalog).collect(window)
    assert script.requests[-1].url.params["period"] == "2023,2024"


def test_429_with_the_comtrade_message_is_waited_out(catalog):
    fake = FakeTime()
    script = Script(json_response(fixture_json("comtrade/rate_limit_429.json"), 429), default=filtered)
    batch = collector(script, catalog, fake).collect()
    assert len(batch.trade_flows) == 8
    assert 3.0 in fake.sleeps


def test_5xx_then_success(catalog):
    fake = FakeTime()
    script = Script(httpx.Response(500), html_response(502), default=filtered)
    assert len(collector(script, catalog, fake).collect().trade_flows) == 8
    assert fake.sleeps[-2:] == [1.0, 2.0]


def test_timeout_everywhere_fails_cleanly(catalog):
    script = Script(default=lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow")))
    with pytest.raises(HttpError, match="ReadTimeout"):
        collector(script, catalog, max_attempts=2).collect()


@pytest.mark.parametrize(("response", "message"), [
    (html_response(200), "HTML page"),
    (httpx.Response(200, text=fixture_text(ANNUAL)[:700]), "malformed JSON"),
    (json_response({"elapsedTime": "0.1", "count": 0, "error": ""}), "no 'data' field"),
    (json_response({"data": [], "error": "Invalid parameter: cmdCode"}), "the API reported an error"),
])
def test_malformed_payloads(catalog, response, message):
    with pytest.raises(CollectionError, match=message):
        collector(Script(response), catalog).collect()


def test_schema_drift_names_the_missing_field(catalog):
    document = fixture_json(ANNUAL)
    for record in document["data"]:
        record["primaryValueUSD"] = record.pop("primaryValue")
    with pytest.raises(PayloadError, match=r"lacks field\(s\) \['primaryValue'\]"):
        collector(Script(json_response(document)), catalog).collect()


def test_bad_rows_are_rejected_and_counted(catalog):
    document = fixture_json(ANNUAL)
    good = document["data"][2]  # 8105 from CHN, 2022
    bad = []
    for field, value in [("primaryValue", -5.0), ("primaryValue", "n/a"), ("partnerCode", 9999),
                         ("cmdCode", "9999"), ("motCode", 1000)]:
        record = copy.deepcopy(good)
        record[field] = value
        record["refYear"] = 2021  # distinct key so only the tested problem applies
        bad.append(record)
    duplicate = copy.deepcopy(good)
    nes_a, nes_b = copy.deepcopy(good), copy.deepcopy(good)
    nes_a["partnerCode"], nes_b["partnerCode"] = 899, 838  # two n.e.s. codes: summed into _X
    document["data"] = [good, duplicate, nes_a, nes_b, *bad]
    batch = collector(Script(json_response(document)), catalog, products=["8105"]).collect()
    assert batch.rejected == {"negative": 1, "non_numeric": 1, "unknown_country": 1, "unknown_product": 1,
                              "breakdown_row": 1, "duplicate": 1}
    flows = batch.trade_flows.set_index("partner")
    assert flows.loc["CHN", "value"] == 8824392.0
    assert flows.loc["_X", "value"] == 2 * 8824392.0


def test_eu27_home_needs_explicit_reporters(catalog):
    eu = catalog.model_copy(update={"home": "EU27"})
    with pytest.raises(ValueError, match="EU27 is not a Comtrade reporter"):
        ComtradeCollector(settings(reporters=[]), eu)
