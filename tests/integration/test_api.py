"""The JSON API under /api/v1: reads, auth on writes, pagination, the error shape, /readyz."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from monitor.serve.api import ApiContext, _token_ok
from monitor.config.loader import load_api_tokens, load_config
from monitor.telemetry.metrics import build_registry
from monitor.serve.server import create_http_app
from tests.conftest import CONFIG_DIR
from monitor.store.assessments import complete_run, start_run
from tests.stored_state import populate, score

NOW = datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc)
TOKEN = "s3cret-token-a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _config(read_requires_token: bool = False, out_dir: str = "reports"):
    config = load_config(CONFIG_DIR)
    settings = config.settings.model_copy(update={
        "api": config.settings.api.model_copy(update={"read_requires_token": read_requires_token,
                                                      "max_page_size": 50}),
        "report": config.settings.report.model_copy(update={"out_dir": out_dir})})
    return config.model_copy(update={"settings": settings})


def _client(sessions, tmp_path, tokens=(TOKEN,), read_requires_token=False, scheduler_state=None) -> TestClient:
    config = _config(read_requires_token, str(tmp_path / "reports"))
    registry, _ = build_registry(sessions, lambda: NOW)
    context = ApiContext(config, sessions, tokens, lambda: NOW)
    return TestClient(create_http_app(registry, sessions.kw["bind"], context, scheduler_state))


@pytest.fixture
def client(sessions, tmp_path) -> TestClient:
    populate(sessions, NOW)
    return _client(sessions, tmp_path)


def _is_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_chains_list_and_detail(client):
    listed = client.get("/api/v1/chains").json()
    batteries = next(c for c in listed["items"] if c["id"] == "batteries")
    assert batteries["score"] == 65.0 and batteries["level"] == "yellow" and batteries["run_id"] == 1
    detail = client.get("/api/v1/chains/batteries").json()
    assert detail["score"] == 65.0 and [h["run_id"] for h in detail["history"]] == [1]
    assert {n["id"] for n in detail["nodes"]} >= {"cells-packs", "lithium-compounds"}
    _is_error(client.get("/api/v1/chains/nope"), 404, "not_found")


def test_chain_detail_has_node_scores_drivers_and_history(sessions, tmp_path):
    populate(sessions, NOW)
    scores = [score("batteries", "", "overall", 70.0, "orange"),
              {**score("batteries", "cells-packs", "overall", 90.0, "red"), "drivers": ["imports fell 40%"]},
              {**score("batteries", "cells-packs", "concentration", 80.0),
               "details": {"hhi": 0.5, "top_share": 0.7, "top_partner": "KOR"}}]
    run = start_run(sessions, "hash", NOW)
    complete_run(sessions, run, date(2026, 1, 1), [], scores, NOW + timedelta(seconds=1))
    detail = _client(sessions, tmp_path).get("/api/v1/chains/batteries", params={"history": 5}).json()
    assert detail["score"] == 70.0 and detail["level"] == "orange" and detail["run_id"] == run
    nodes = {n["id"]: n for n in detail["nodes"]}
    cells = nodes["cells-packs"]
    assert cells["score"] == 90.0 and cells["level"] == "red" and cells["drivers"] == ["imports fell 40%"]
    assert cells["dimensions"]["concentration"]["details"]["top_partner"] == "KOR"
    assert nodes["lithium-compounds"]["score"] is None
    assert [(h["run_id"], h["score"]) for h in detail["history"]] == [(run, 70.0), (1, 65.0)]


def test_findings_filters_and_pagination(client):
    everything = client.get("/api/v1/findings").json()
    assert everything["total"] == 4 and everything["next_offset"] is None
    flagged = client.get("/api/v1/findings", params={"status": "flagged"}).json()
    assert [f["node"] for f in flagged["items"]] == ["cells"]
    assert client.get("/api/v1/findings", params={"node": "lithium"}).json()["total"] == 2
    assert client.get("/api/v1/findings", params={"method": "nope"}).json()["total"] == 0
    late = client.get("/api/v1/findings", params={"period_from": "2025-11-01"}).json()
    assert {f["period"] for f in late["items"]} == {"2025-11-01", "2025-12-01"}
    first = client.get("/api/v1/findings", params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_offset"] == 3 and first["total"] == 4
    rest = client.get("/api/v1/findings", params={"limit": 3, "offset": 3}).json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    ids = [f["id"] for f in first["items"] + rest["items"]]
    assert len(set(ids)) == 4
    _is_error(client.get("/api/v1/findings", params={"limit": 0}), 422, "invalid_request")
    _is_error(client.get("/api/v1/findings", params={"limit": 51}), 422, "invalid_request")
    _is_error(client.get("/api/v1/findings", params={"run_id": 99}), 404, "not_found")


def test_runs(client):
    runs = client.get("/api/v1/runs").json()
    assert [r["status"] for r in runs["items"]] == ["failed", "succeeded"]
    assert client.get("/api/v1/runs", params={"status": "failed"}).json()["items"][0]["error"] == "boom"
    detail = client.get("/api/v1/runs/1").json()
    assert detail["findings_by_status"]["flagged"] == 1
    assert detail["chains"] == [{"id": "batteries", "score": 65.0, "level": "yellow"}]
    _is_error(client.get("/api/v1/runs/12345"), 404, "not_found")
    _is_error(client.get("/api/v1/runs/abc"), 422, "invalid_request")


def test_alerts_list_and_ack_needs_token(client):
    alerts = client.get("/api/v1/alerts", params={"state": "firing"}).json()
    assert alerts["total"] == 2
    fingerprint = next(a["fingerprint"] for a in alerts["items"] if a["labels"]["node"] == "cells")
    url = f"/api/v1/alerts/{fingerprint}/ack"
    _is_error(client.post(url, json={"by": "ops"}), 401, "unauthorized")
    wrong = client.post(url, json={"by": "ops"}, headers={"Authorization": "Bearer wrong"})
    _is_error(wrong, 401, "unauthorized")
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    _is_error(client.post(url, json={"by": "ops"}, headers={"Authorization": f"Basic {TOKEN}"}), 401, "unauthorized")
    done = client.post(url, json={"by": "ops", "comment": "on it"}, headers=AUTH)
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] == "ops"
    _is_error(client.post("/api/v1/alerts/abcdef/ack", json={"by": "ops"}, headers=AUTH), 404, "not_found")
    _is_error(client.post(url, json={"by": ""}, headers=AUTH), 422, "invalid_request")


def test_silences_create_list_expire(client):
    body = {"matchers": ['chain="batteries"'], "created_by": "ops", "comment": "maintenance", "duration": "1h"}
    _is_error(client.post("/api/v1/silences", json=body), 401, "unauthorized")
    created = client.post("/api/v1/silences", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["state"] == "active" and silence["ends_at"].startswith("2026-01-15T05:00")
    assert [s["id"] for s in client.get("/api/v1/silences").json()["items"]] == [silence["id"]]
    _is_error(client.delete(f"/api/v1/silences/{silence['id']}"), 401, "unauthorized")
    expired = client.delete(f"/api/v1/silences/{silence['id']}", headers=AUTH)
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    assert client.get("/api/v1/silences").json()["items"] == []
    assert client.get("/api/v1/silences", params={"include_expired": True}).json()["total"] == 1
    for bad in ({**body, "matchers": ["chain"]}, {**body, "matchers": ['chain=~".*"']}, {**body, "duration": "soon"},
                {**body, "matchers": ['chain!=""']}, {**body, "matchers": ['chain!~""', 'node=~".*"']},
                {**body, "matchers": ['chain="x" node="y"']},
                {**body, "ends_at": "2020-01-01T00:00:00Z", "duration": None}, {**body, "extra": 1}):
        _is_error(client.post("/api/v1/silences", json=bad, headers=AUTH), 422, "invalid_request")
    _is_error(client.delete(f"/api/v1/silences/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=AUTH), 404, "not_found")


def test_writes_refused_without_configured_tokens(sessions, tmp_path):
    populate(sessions, NOW)
    client = _client(sessions, tmp_path, tokens=())
    response = client.post("/api/v1/silences", headers=AUTH,
                           json={"matchers": ['chain="x"'], "created_by": "a", "comment": "b"})
    _is_error(response, 401, "unauthorized")
    assert "CHAINWATCH_API_TOKENS" in response.json()["error"]["message"]


def test_reads_protected_by_config(sessions, tmp_path):
    client = _client(sessions, tmp_path, read_requires_token=True)
    _is_error(client.get("/api/v1/chains"), 401, "unauthorized")
    assert client.get("/api/v1/chains", headers=AUTH).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes stay open


def test_reports_list_fetch_and_no_traversal(sessions, tmp_path):
    client = _client(sessions, tmp_path)
    assert client.get("/api/v1/reports").json()["items"] == []
    report = tmp_path / "reports" / "run-7"
    report.mkdir(parents=True)
    (report / "report.json").write_text(json.dumps({"run_id": 7}), encoding="utf-8")
    (report / "report.html").write_text("<html>r7</html>", encoding="utf-8")
    (tmp_path / "secret.json").write_text("{}", encoding="utf-8")
    listed = client.get("/api/v1/reports").json()
    assert [r["name"] for r in listed["items"]] == ["run-7"]
    assert client.get("/api/v1/reports/run-7").json()["document"] == {"run_id": 7}
    html = client.get(listed["items"][0]["html_url"])
    assert html.status_code == 200 and "r7" in html.text and html.headers["content-type"].startswith("text/html")
    for name in ("..", "%2e%2e", "run-8", ".hidden"):
        assert client.get(f"/api/v1/reports/{name}").status_code == 404


def test_stress_results_empty_with_note(client):
    body = client.get("/api/v1/stress").json()
    assert body["items"] == [] and body["total"] == 0 and body["note"]


def test_stress_results_carry_output_at_risk_and_the_path(client, sessions):
    from monitor.store.stress_results import complete_stress_run, start_stress_run

    now = datetime(2026, 1, 5, tzinfo=timezone.utc)
    run_id = start_stress_run(sessions, "hash", now)
    complete_stress_run(sessions, run_id, now, date(2025, 12, 1), [{"id": "cobalt", "name": "Cobalt stop"}], [
        {"scenario": "cobalt", "chain": "batteries", "node": "", "impact_score": 20.0, "level": "blue",
         "peak_shortfall": 0.4, "time_to_impact_months": 5, "months_to_recovery": None,
         "value_at_risk_usd": 6.7e9, "time_to_survive_months": 5, "time_to_recover_months": None},
        {"scenario": "cobalt", "chain": "batteries", "node": "cathode-precursors", "impact_score": 40.0,
         "level": "", "peak_shortfall": 0.4, "time_to_impact_months": 5, "months_to_recovery": None,
         "value_at_risk_usd": 6.7e9, "time_to_survive_months": 5, "time_to_recover_months": None,
         "path": ["batteries/cathode-precursors", "critical-minerals/cobalt"], "monthly": [{"month": 1}]}])
    chain, node = client.get("/api/v1/stress").json()["items"]
    assert (chain["value_at_risk_usd"], chain["time_to_survive_months"], chain["time_to_recover_months"]) == (
        6.7e9, 5, None)
    assert node["path"] == ["batteries/cathode-precursors", "critical-minerals/cobalt"] and "monthly" not in node


def test_errors_of_unknown_routes_and_methods_have_one_shape(client):
    _is_error(client.get("/api/v1/nothing"), 404, "not_found")
    _is_error(client.put("/api/v1/chains"), 405, "method_not_allowed")


def test_request_id_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers["X-Request-ID"]
    assert len(made) == 32


def test_openapi_documents_security_and_errors(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/chains/{chain_id}" in spec["paths"]
    post = spec["paths"]["/api/v1/silences"]["post"]
    assert post["security"] and "401" in post["responses"]
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_readyz_reports_schema_and_scheduler(sessions, tmp_path):
    state = {"role": "follower", "ok": True}
    client = _client(sessions, tmp_path, scheduler_state=lambda: state)
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and body["schema"]["up_to_date"] and body["scheduler"]["role"] == "follower"
    state["ok"] = False
    assert client.get("/readyz").status_code == 503
    state["ok"] = True
    with sessions.begin() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not not_ready.json()["schema"]["up_to_date"]


def test_tokens_from_environment_and_compare():
    assert load_api_tokens({"CHAINWATCH_API_TOKENS": " a, ,b "}) == ("a", "b")
    assert load_api_tokens({}) == ()
    assert _token_ok("b", ("a", "b")) and not _token_ok("c", ("a", "b")) and not _token_ok("", ("a",))


def test_silence_end_computed_from_start(client):
    start = (NOW + timedelta(hours=1)).isoformat()
    created = client.post("/api/v1/silences", headers=AUTH, json={
        "matchers": ['node="cells"'], "created_by": "ops", "comment": "later", "starts_at": start, "duration": "30m"})
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "pending"


def test_simulated_data_follows_the_stored_rows_and_estimated_share_is_lifted(sessions, tmp_path):
    import pandas as pd

    from monitor.records import CollectedBatch
    from monitor.store.observations import store_batch

    populate(sessions, NOW)  # empty batches: no simulated row stored
    client = _client(sessions, tmp_path)
    assert {c["simulated_data"] for c in client.get("/api/v1/chains").json()["items"]} == {False}
    flows = pd.DataFrame([{"reporter": "CHN", "partner": "COD", "product": "8105", "flow": "M",
                           "period": pd.Timestamp("2025-12-01"), "value": 1.0, "quantity": None}])
    store_batch(sessions, CollectedBatch(source="demo", vintage="demo", trade_flows=flows, simulated=True), NOW)
    assert {c["simulated_data"] for c in client.get("/api/v1/chains").json()["items"]} == {True}
    assert client.get("/api/v1/chains/batteries").json()["simulated_data"] is True

    scores = [score("batteries", "", "overall", 70.0, "orange"),
              {**score("batteries", "cells-packs", "concentration", 80.0),
               "details": {"hhi": 0.5, "estimated_share": 0.25}},
              {**score("batteries", "cells-packs", "disruption", 10.0), "details": {"missing": "no data"}}]
    run = start_run(sessions, "hash", NOW)
    complete_run(sessions, run, date(2026, 1, 1), [], scores, NOW + timedelta(seconds=1))
    nodes = {n["id"]: n for n in client.get("/api/v1/chains/batteries").json()["nodes"]}
    dimensions = nodes["cells-packs"]["dimensions"]
    assert dimensions["concentration"]["estimated_share"] == 0.25
    assert dimensions["disruption"]["estimated_share"] is None


def test_docs_load_without_a_cdn(client):
    """#25: /docs and /redoc name only this server's own assets, and it serves them."""
    import re

    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)=["\']([^"\']+\.(?:js|css|png))', html)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            response = client.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset


def test_readyz_logs_nothing_at_info(client, caplog):
    """#25: probes do not fill the log (alembic used to log two INFO lines per /readyz)."""
    import logging

    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert client.get("/readyz").status_code == 200
    # (httpx's lines are the test client's own requests)
    assert [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")] == []
