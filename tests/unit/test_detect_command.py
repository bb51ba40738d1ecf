"""``chainwatch detect`` and ``chainwatch evaluate``: output contract and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.disruption_engine import DisruptionEngine
from monitor.cli import evaluate as evaluation_command
from monitor.cli.main import main
from monitor.cli.detect import OUTPUT_COLUMNS
from monitor.cli.evaluate import evaluate_detectors
from tests.shared_data import EVAL



def series_rows(series_id: str, n: int = 72, shock: float = 1.0, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    values = 100 * np.exp(np.cumsum(rng.normal(0.002, 0.01, n)))
    values[-1] *= shock
    months = pd.period_range("2015-01", periods=n, freq="M").astype(str)
    return [f"{series_id},{m},{v:.4f}" for m, v in zip(months, values)]


def write(tmp_path: Path, lines: list[str], name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return path


def test_detect_json_and_csv_contract(tmp_path, capsys):
    path = write(tmp_path, ["series_id,period,value", *series_rows("ok"), *series_rows("hit", shock=0.8, seed=1)])
    assert main(["detect", "--input", str(path)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["series_id"] for r in records] == ["hit"]
    assert list(records[0]) == OUTPUT_COLUMNS
    assert records[0]["period"] == "2020-12" and records[0]["direction"] == "down" and records[0]["score"] < -3.5
    assert main(["detect", "--input", str(path), "--format", "csv"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == ",".join(OUTPUT_COLUMNS) and table[1].startswith("hit,2020-12,shock,down,")


def test_detect_says_what_it_did_on_stderr(tmp_path, capsys):
    path = write(tmp_path, ["series_id,period,value", *series_rows("calm"), *series_rows("hit", shock=0.8, seed=1),
                            "bad,2015-01,1", "bad,2015-01,2"])
    assert main(["detect", "--input", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == "2 series, 1 flagged (1 flagged period(s)), 1 skipped"
    assert [r["series_id"] for r in json.loads(captured.out)] == ["hit"]  # stdout stays the JSON contract
    calm = write(tmp_path, ["series_id,period,value", *series_rows("calm")], name="calm.csv")
    assert main(["detect", "--input", str(calm)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [] and "1 series, 0 flagged (0 flagged period(s)), 0 skipped" in captured.err


def test_detect_replay_flags_past_months(tmp_path, capsys):
    rows = series_rows("s", shock=1.0)
    month, value = rows[50].split(",")[1:]
    rows[50] = f"s,{month},{float(value) * 0.8:.4f}"
    path = write(tmp_path, ["series_id,period,value", *rows])
    assert main(["detect", "--input", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["detect", "--input", str(path), "--replay"]) == 0
    assert [r["period"] for r in json.loads(capsys.readouterr().out)] == [month]


@pytest.mark.parametrize("bad_rows, message", [
    (["bad,2015-02,1", "bad,2015-01,2"], "row 3: period '2015-01' comes after '2015-02' (row 2)"),
    (["bad,2015-01,1", "bad,2015-01,2"], "row 3: duplicate period 2015-01"),
    (["bad,2015-01,1", "bad,2015-01-20,2"], "second observation in the same month"),
    (["bad,2015-01,1", "bad,2015-02,abc"], "row 3: value 'abc' is not a number"),
    (["bad,2015-01,1", "bad,2015-Q2,2"], "row 3: mixed frequencies"),
    (["bad,2015-01,1", "bad,soon,2"], "row 3: period 'soon' is not YYYY-MM"),
    (["bad,2015-Q1,1", "bad,2015-Q2,2"], "quarterly; monthly data are needed"),
    (["bad,2015-01,1", "bad,2015-02,inf"], "'inf' is not a number"),
])
def test_a_bad_series_is_reported_and_skipped(tmp_path, capsys, bad_rows, message):
    path = write(tmp_path, ["series_id,period,value", *bad_rows, *series_rows("good", shock=0.8)])
    assert main(["detect", "--input", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"{path}: series 'bad': " in captured.err and message in captured.err and "series skipped" in captured.err
    assert [r["series_id"] for r in json.loads(captured.out)] == ["good"]


def test_mixed_monthly_and_quarterly_spacing(tmp_path, capsys):
    quarterly = [f"mix,{p},{100 + i}" for i, p in enumerate(pd.period_range("2010-01", periods=12, freq="Q")
                                                           .asfreq("M", how="start").astype(str))]
    monthly = [f"mix,{p},{200 + i}" for i, p in enumerate(pd.period_range("2013-01", periods=24, freq="M").astype(str))]
    path = write(tmp_path, ["series_id,period,value", *quarterly, *monthly, *series_rows("good")])
    assert main(["detect", "--input", str(path)]) == 1
    assert "series 'mix'" in capsys.readouterr().err


def test_missing_values_are_gaps_not_errors(tmp_path, capsys):
    rows = series_rows("gappy", shock=0.8)
    rows[30] = rows[30].rsplit(",", 1)[0] + ","
    rows[31] = rows[31].rsplit(",", 1)[0] + ",NA"
    path = write(tmp_path, ["series_id,period,value", *rows])
    assert main(["detect", "--input", str(path)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


@pytest.mark.parametrize("lines, message", [
    ([], "empty file"),
    (["series_id,period,value"], "no data rows"),
    (["id,period,value", "a,2015-01,1"], "missing column(s) series_id"),
    (["series_id,period,value", "a,2015-01,x"], "no usable series"),
])
def test_unusable_file(tmp_path, capsys, lines, message):
    path = write(tmp_path, lines)
    assert main(["detect", "--input", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_missing_file(tmp_path, capsys):
    assert main(["detect", "--input", str(tmp_path / "nope.csv")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_evaluate_command_on_the_evaluation_set(capsys, monkeypatch):
    # one replay for both output formats (the replay is the slow part, the formats are not)
    real, memo = evaluation_command.evaluate_detectors, {}
    monkeypatch.setattr(evaluation_command, "evaluate_detectors",
                        lambda *a, **k: memo["result"] if "result" in memo else memo.setdefault("result", real(*a, **k)))
    args = ["evaluate", "--input", str(EVAL / "series.csv"), "--events", str(EVAL / "events.csv")]
    assert main(args + ["--wide"]) == 0  # one line per row: the phrases below are not wrapped
    table = capsys.readouterr().out
    assert "two-stage engine (threshold 3.5)" in table and "naive rule (z <= -3)" in table
    assert "Winter storm Uri" in table
    assert main(args + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ours, naive3, naive2 = doc["detectors"]
    assert ours["caught"] >= 5 and ours["events"] == 7
    assert ours["false_alarms_per_100_series_years"] < naive3["false_alarms_per_100_series_years"]
    assert ours["recall"] > naive2["recall"]
    assert {e["onset"] for e in doc["events"]} >= {"2005-09", "2021-02", "2012-09"}
    sweep = {row["threshold"]: row for row in doc["threshold_sweep"]}
    assert sweep[3.5]["caught"] == ours["caught"] and sweep[3.5]["false_alarms"] == ours["false_alarms"]
    assert sweep[2.5]["false_alarms"] >= sweep[3.5]["false_alarms"] >= sweep[4.5]["false_alarms"]
    # thresholds chosen without the held-out series still meet the target on it
    held = {row["series_id"]: row for row in doc["leave_one_series_out"]}
    total = held.pop("all (held out)")
    assert set(held) == {"INDPRO", "JP_EXP_CN", "SEMI"}
    assert total["caught"] == sum(r["caught"] for r in held.values()) and total["events"] == 7
    assert total["caught"] / total["events"] >= 0.8
    assert 100 * total["false_alarms"] / total["series_years"] <= 6.0
    assert "median delay" in table and "Leave-one-series-out" in table
    # "caught up to threshold": the highest threshold at which each event is caught, the sweep's answer per event
    reach = [e["caught_up_to_threshold"] for e in doc["events"]]
    for threshold, row in sweep.items():
        assert sum(r is not None and r >= threshold for r in reach) == row["caught"], threshold
    senkaku = next(e for e in doc["events"] if e["onset"] == "2012-09")
    assert not senkaku["caught"] and (senkaku["caught_up_to_threshold"] is None
                                      or senkaku["caught_up_to_threshold"] < 3.5)
    assert "caught up to threshold" in table
    # strongest evidence per event against the budget's critical z: a caught event had
    # both statistics at or below -3.5 in one window, so it was reachable
    assert doc["false_alarm_budget"] == {"per_100_series_years": 6.0, "critical_z": -2.5758}
    for e in doc["events"]:
        strongest = min(e["strongest_screen_z"], e["strongest_model_z"])
        assert e["reachable_within_budget"] == (strongest <= -2.5758)
        if e["caught"]:
            assert max(e["strongest_screen_z"], e["strongest_model_z"]) <= -3.5
    assert senkaku["reachable_within_budget"] is False
    assert "reachable (z <= -2.58)" in table


def _small_evaluation():
    rng = np.random.default_rng(3)
    rows = []
    for sid, drop in (("INDPRO", 60), ("JP_EXP_CN", 75)):
        values = 100 * np.exp(np.cumsum(rng.normal(0.002, 0.01, 96)))
        values[drop:] *= 0.8
        rows += [(sid, m, v) for m, v in zip(pd.date_range("2010-01-01", periods=96, freq="MS"), values)]
    frame = pd.DataFrame(rows, columns=["series_id", "period", "value"])
    cause = "Anti-Japanese protests in China over the Senkaku/Diaoyu islands"
    events = pd.DataFrame([("INDPRO", "event", "2015-01", "", "Hurricanes Katrina and Rita shut refining"),
                           ("JP_EXP_CN", "event", "2016-04", "", cause)],
                          columns=["series_id", "kind", "start", "end", "cause"])
    return evaluate_detectors(frame, events, sweep=(2.5, 3.5)), cause


@pytest.mark.parametrize("width", [60, 80, 120])
def test_evaluate_table_fits_the_width_and_wraps_between_words(width):
    result, cause = _small_evaluation()
    text = evaluation_command._table(result, Path("in.csv"), Path("ev.csv"), width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    words = set(text.split())
    assert set(cause.split()) <= words and {"INDPRO", "JP_EXP_CN", "2015-01", "2016-04"} <= words
    assert "…" not in text
    main_result = next(iter(result.scored.values()))
    summary = " ".join(text.split("\n\n")[-1].split())  # one line, wrapped only when narrower than it
    assert summary.startswith(f"2 series, 2 judged events; engine: {main_result.n_caught}/2 caught")


def test_evaluate_wide_keeps_each_event_on_one_line():
    result, cause = _small_evaluation()
    lines = evaluation_command._table(result, Path("in.csv"), Path("ev.csv"), wide=True, width=60).splitlines()
    row = next(line for line in lines if line.startswith("JP_EXP_CN  2016-04"))
    assert row.endswith(cause)


def test_evaluate_rejects_bad_events_file(tmp_path, capsys):
    series = write(tmp_path, ["series_id,period,value", *series_rows("s")])
    events = write(tmp_path, ["series_id,kind,start,end,cause", "s,event,2016-01,,x", "s,outage,2016-02,,y"], "ev.csv")
    assert main(["evaluate", "--input", str(series), "--events", str(events)]) == 2
    err = capsys.readouterr().err
    assert f"{events}: row 3: kind must be 'event' or 'ignore'" in err


def test_evaluate_sweep_equals_direct_replays_even_with_a_payback_month():
    # a one-month spike and its payback: the drop back has a very low screen score
    # but only undoes the spike, so no threshold flags it
    rng = np.random.default_rng(7)
    months = pd.date_range("2010-01-01", periods=96, freq="MS")
    values = 100 * np.exp(np.cumsum(rng.normal(0.002, 0.01, 96)))
    values[70] *= 1.25
    values[85:] *= 0.85  # and a real drop that lasts
    frame = pd.DataFrame({"series_id": "s", "period": months, "value": values})
    events = pd.DataFrame([("s", "event", "2017-02", "", "drop")], columns=["series_id", "kind", "start", "end", "cause"])
    result = evaluate_detectors(frame, events, sweep=(2.5, 3.5))
    payback = result.sweep.set_index("threshold")
    for tau in (2.5, 3.5):
        direct = next(iter(evaluate_detectors(frame, events, engine=DisruptionEngine(threshold=tau),
                                              sweep=(tau,)).scored.values()))
        assert (payback.loc[tau, "caught"], payback.loc[tau, "false_alarms"]) == (direct.n_caught, direct.false_alarms)
    assert payback.loc[2.5, "caught"] == 1


def test_evaluation_replays_the_engine_with_its_own_confirmation_model():
    from monitor.cli.evaluate import _engine_settings

    for model in ("ar", "ma", "auto"):
        settings = _engine_settings(DisruptionEngine(nonseasonal_model=model))
        assert DisruptionEngine(**settings).nonseasonal_model == model
