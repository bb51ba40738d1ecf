"""Eurostat Comext collector against recorded JSON-stat 2.0 answers (fixtures/comext, numbers illustrative)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import httpx
import pytest

from monitor.collect.collection import CollectionRunner
from monitor.collect.base import CollectionError, CollectionWindow
from monitor.records import trade_key
from monitor.collect.comext import ComextCollector, partner_iso3
from monitor.collect.eurostat import jsonstat_cells
from monitor.collect.http import HttpError, PayloadError
from monitor.config.models import ComextSource
from monitor.store.observations import load_trade_flows
from tests.collector_fakes import FakeTime, Script, fixture_json, html_response, json_response, options
from tests.conftest import FrozenClock

CUBE = "comext/ds-045409_de_2846_8105.json"
RATES = "comext/ert_bil_eur_m_usd.json"
USD_PER_EUR = {"2024-01": 1.0905, "2024-02": 1.0795, "2024-03": 1.0872}
CLOCK = lambda: datetime(2024, 3, 20, tzinfo=UTC)


def settings(**overrides) -> ComextSource:
    base = dict(id="comext", kind="comext", base_url="https://comext.test/data", rates_base_url="https://es.test/data",
                reporters=["DEU"], products=["2846", "8105"], start="2024-01", periods_per_request=12,
                products_per_request=5, backoff_seconds=1.0, rate_per_second=100, burst=10)
    return ComextSource(**{**base, **overrides})


def collector(handler, catalog, fake: FakeTime | None = None, **overrides) -> ComextCollector:
    return ComextCollector(settings(**overrides), catalog, options(handler, fake), CLOCK)


def sliced(document: dict, keep: dict[str, set[str]]) -> dict:
    """``document`` restricted to the categories in ``keep`` (re-encoded as JSON-stat 2.0)."""
    dims, cells = jsonstat_cells(document, "fixture")
    out = {**document, "dimension": dict(document["dimension"]), "size": []}
    kept_codes = []
    for dim in dims:
        index = document["dimension"][dim]["category"]["index"]
        codes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1]) if dim not in keep or c in keep[dim]]
        kept_codes.append(codes)
        out["dimension"][dim] = {**document["dimension"][dim],
                                 "category": {**document["dimension"][dim]["category"],
                                              "index": {c: i for i, c in enumerate(codes)}}}
        out["size"].append(len(codes))
    strides = [1] * len(dims)
    for i in range(len(dims) - 2, -1, -1):
        strides[i] = strides[i + 1] * out["size"][i + 1]
    out["value"] = {}
    for labels, value in cells:
        if all(labels[d] in kept_codes[d] for d in range(len(dims))):
            flat = sum(kept_codes[d].index(labels[d]) * strides[d] for d in range(len(dims)))
            out["value"][str(flat)] = value
    return out


def months_between(since: str, until: str) -> set[str]:
    return {m for m in USD_PER_EUR if since <= m <= until}


class FakeComext:
    """Serves the recorded cube sliced to each request's products and months, and the rates."""

    def __init__(self, too_large_above: int | None = None):
        self.too_large_above = too_large_above  # refuse (HTTP 413) requests of more product-months
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        months = months_between(params["sinceTimePeriod"], params["untilTimePeriod"])
        if request.url.path.endswith("ert_bil_eur_m"):
            return json_response(sliced(fixture_json(RATES), {"time": months}))
        products = set(params.get_list("product"))
        if self.too_large_above is not None and len(products) * len(months) > self.too_large_above:
            return json_response({"error": [{"status": 413, "id": "EXTRACTION_TOO_BIG",
                                             "label": "Extraction too big, please change the filters"}]}, 413)
        return json_response(sliced(fixture_json(CUBE), {"product": products, "time": months}))


def test_happy_path_values_in_usd_quantities_in_kg(catalog):
    fake = FakeComext()
    batch = collector(fake, catalog).collect()
    data, rates = fake.requests
    assert data.url.path == "/data/ds-045409"
    params = data.url.params
    assert (params["freq"], params["reporter"], params["flow"], params["format"]) == ("M", "DE", "1", "JSON")
    assert params.get_list("indicators") == ["VALUE_IN_EUROS", "QUANTITY_IN_100KG"]
    assert params.get_list("product") == ["2846", "8105"]
    assert (params["sinceTimePeriod"], params["untilTimePeriod"]) == ("2024-01", "2024-03")
    assert rates.url.path == "/data/ert_bil_eur_m" and rates.url.params["currency"] == "USD"
    assert rates.url.params["statinfo"] == "AVG"

    flows = batch.trade_flows.set_index(["partner", "product", "period"])
    assert set(batch.trade_flows["reporter"]) == {"DEU"} and set(batch.trade_flows["flow"]) == {"M"}
    # EU aggregates are skipped; Comext's "stores and provisions" (QS) is an unallocated partner
    assert set(batch.trade_flows["partner"]) == {"CHN", "USA", "COD", "_X", "WORLD"}
    row = flows.loc[("CHN", "2846", "2024-01-01")]
    assert row["value"] == pytest.approx(4125000 * USD_PER_EUR["2024-01"])
    assert row["quantity"] == 3120 * 100
    assert flows.loc[("COD", "8105", "2024-03-01"), "value"] == pytest.approx(2150600 * USD_PER_EUR["2024-03"])
    assert math.isnan(flows.loc[("USA", "8105", "2024-02-01"), "quantity"])  # value without a quantity
    assert batch.rejected == {"unknown_country": 1}  # partner code ZZ
    assert batch.vintage == "2024-05-16T23:00:00+0200" and batch.requests == 2


def test_chunks_by_product_and_period(catalog):
    fake = FakeComext()
    batch = collector(fake, catalog, products_per_request=1, periods_per_request=2).collect()
    data = [r.url.params for r in fake.requests if r.url.path.endswith("ds-045409")]
    asked = sorted((p["product"], p["sinceTimePeriod"], p["untilTimePeriod"]) for p in data)
    assert asked == [("2846", "2024-01", "2024-02"), ("2846", "2024-03", "2024-03"),
                     ("8105", "2024-01", "2024-02"), ("8105", "2024-03", "2024-03")]
    assert len(batch.trade_flows) == len(collector(FakeComext(), catalog).collect().trade_flows)


def test_too_large_extractions_are_split_until_they_fit(catalog):
    fake = FakeComext(too_large_above=2)
    batch = collector(fake, catalog).collect()
    assert len(batch.trade_flows) == len(collector(FakeComext(), catalog).collect().trade_flows)
    asked = [(r.url.params["sinceTimePeriod"], r.url.params["untilTimePeriod"])
             for r in fake.requests if r.url.path.endswith("ds-045409")]
    # 2 products x 3 months refused; Jan fits; Feb-Mar refused again; Feb and Mar fit
    assert asked == [("2024-01", "2024-03"), ("2024-01", "2024-01"), ("2024-02", "2024-03"),
                     ("2024-02", "2024-02"), ("2024-03", "2024-03")]
    with pytest.raises(CollectionError, match="extraction too large"):
        collector(FakeComext(too_large_above=0), catalog).collect()


def test_incremental_window_starts_at_latest_minus_lookback(catalog):
    fake = FakeComext()
    window = CollectionWindow(latest={trade_key("DEU", "2846", "M"): date(2024, 3, 1),
                                      trade_key("DEU", "8105", "M"): date(2024, 3, 1)}, lookback_months=1)
    collector(fake, catalog).collect(window)
    assert fake.requests[0].url.params["sinceTimePeriod"] == "2024-02"


def test_a_month_without_exchange_rate_is_rejected_not_guessed(catalog):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("ert_bil_eur_m"):  # March not published yet
            return json_response(sliced(fixture_json(RATES), {"time": {"2024-01", "2024-02"}}))
        return json_response(fixture_json(CUBE))

    batch = collector(Script(default=handler), catalog).collect()
    assert pd_months(batch.trade_flows) == {"2024-01", "2024-02"}
    assert batch.rejected["no_exchange_rate"] == 6  # CN, US, CD 2846/8105 ... in March, WORLD twice


def pd_months(frame) -> set[str]:
    return {t.strftime("%Y-%m") for t in frame["period"]}


def test_malformed_answers_fail_with_the_url(catalog):
    with pytest.raises(PayloadError, match="HTML page"):
        collector(Script(html_response()), catalog).collect()
    truncated = httpx.Response(200, text=httpx.Response(200, json=fixture_json(CUBE)).text[:500],
                               headers={"Content-Type": "application/json"})
    with pytest.raises(PayloadError, match="malformed JSON"):
        collector(Script(truncated), catalog).collect()
    with pytest.raises(CollectionError, match="No results found"):
        collector(Script(json_response({"error": [{"status": 404, "id": 100, "label": "No results found"}]})),
                  catalog).collect()
    broken = fixture_json(CUBE)
    broken["value"]["9999"] = 1.0
    with pytest.raises(PayloadError, match="comext.test/data/ds-045409.*outside the cube"):
        collector(Script(json_response(broken)), catalog).collect()
    with pytest.raises(HttpError, match="HTTP 400"):
        collector(Script(json_response({"error": {"status": 400, "label": "bad"}}, 400)), catalog).collect()


def test_schema_drift_is_a_payload_error(catalog):
    drifted = fixture_json(CUBE)
    drifted["id"][5] = "indic"  # "indicators" renamed
    drifted["dimension"]["indic"] = drifted["dimension"].pop("indicators")
    with pytest.raises(PayloadError, match=r"lacks dimension\(s\) \['indicators'\]"):
        collector(Script(json_response(drifted)), catalog).collect()
    resized = fixture_json(CUBE)
    resized["size"][2] = 8
    with pytest.raises(PayloadError, match="'partner' has 7 codes but size 8"):
        collector(Script(json_response(resized)), catalog).collect()


def test_retries_a_server_error_then_succeeds(catalog):
    fake = FakeTime()
    comext = FakeComext()
    script = Script(httpx.Response(503), default=comext)
    batch = collector(script, catalog, fake).collect()
    assert len(batch.trade_flows) > 0 and fake.sleeps == [1.0]


@pytest.mark.parametrize(("code", "iso3"), [("CN", "CHN"), ("GR", "GRC"), ("EL", "GRC"), ("WORLD", "WORLD"),
                                            ("QU", "_X"), ("EU27_2020_EXTRA", ""), ("EXT_EU27_2020", ""),
                                            ("ZZ", None), ("CHN", None)])
def test_partner_codes(code, iso3):
    assert partner_iso3(code) == iso3


def test_end_to_end_store_then_nothing_new(sessions, catalog):
    clock = FrozenClock(datetime(2024, 3, 20, tzinfo=UTC))
    comext = ComextCollector(settings(), catalog, options(FakeComext()), clock)
    runner = CollectionRunner([comext], sessions, clock)
    dims, cells = jsonstat_cells(fixture_json(CUBE), "fixture")
    partner, indicator = dims.index("partner"), dims.index("indicators")
    expected = sum(1 for labels, _ in cells if labels[indicator] == "VALUE_IN_EUROS"
                   and labels[partner] not in {"EU27_2020_EXTRA", "ZZ"})  # aggregate skipped, unknown rejected
    first = runner.collect("comext")
    assert first.ok and first.rows_ingested == expected and first.rows_rejected == {"unknown_country": 1}
    with sessions() as session:
        flows = load_trade_flows(session, "DEU", ["2846", "8105"])
    assert len(flows) == expected
    second = runner.collect("comext")
    assert second.ok and second.rows_ingested == 0 and second.rows_unchanged == expected


def test_chainwatch_collect_against_a_local_comext_server(tmp_path, capsys):
    """Real sockets: ``chainwatch collect`` with a ``comext`` source stores USD flows, then nothing new."""
    import json
    import shutil
    from urllib.parse import parse_qs, urlparse

    from monitor.cli.main import main
    from tests.collector_fakes import local_server, send
    from tests.conftest import CONFIG_DIR

    def serve(handler) -> None:
        url = urlparse(handler.path)
        query = parse_qs(url.query)
        months = months_between(query["sinceTimePeriod"][0], query["untilTimePeriod"][0])
        if url.path.endswith("ert_bil_eur_m"):
            send(handler, 200, json.dumps(sliced(fixture_json(RATES), {"time": months})))
        else:
            send(handler, 200, json.dumps(sliced(fixture_json(CUBE), {"product": set(query["product"]),
                                                                         "time": months})))

    with local_server(serve) as url:
        target = tmp_path / "config"
        shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus", "live"))
        (target / "sources.yaml").write_text(f"""
sources:
  - id: comext
    kind: comext
    base_url: {url}/comext
    rates_base_url: {url}/stats
    reporters: [DEU]
    products: ["2846", "8105"]
    start: "2024-01"
    rate_per_second: 100
    burst: 10
    max_attempts: 1
""")
        db_url = f"sqlite:///{tmp_path / 'cw.db'}"
        assert main(["collect", "--config", str(target), "--db", db_url, "--since", "2024-01"]) == 0
        first = capsys.readouterr().out
        assert main(["collect", "--config", str(target), "--db", db_url, "--since", "2024-01"]) == 0
        second = capsys.readouterr().out
    assert "comext: 20 new, 0 revised, 0 unchanged, 1 rejected row(s)" in first
    assert "comext: 0 new, 0 revised, 20 unchanged" in second
