"""Replays on data with vintages judge each month with the vintage known at that month."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.disruption_engine import DisruptionEngine
from indicators.naive_change import naive_change_flags
from indicators.real_time import latest_values, vintage_snapshots
from monitor.cli.main import main
from monitor.cli.series_input import parse_series_rows

N = 72
MONTHS = pd.date_range("2015-01-01", periods=N, freq="MS")
JUDGED = 60  # the month whose verdict must not depend on later revisions


def published(values: np.ndarray, months=MONTHS) -> pd.DataFrame:
    """One row per month, published on the 15th of the following month."""
    return pd.DataFrame({"series_id": "s", "period": months, "value": values,
                         "vintage": months + pd.DateOffset(months=1, days=14)})


def steady(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0.002, 0.01, N)))


def verdict(results, month) -> tuple[str, float]:
    (r,) = [r for r in results if r.period == month]
    return r.status, r.score


def test_a_revision_published_later_does_not_change_the_verdict():
    values = steady()
    values[JUDGED:] *= 0.75  # first release of month 60: a 25 % drop, and it stays down
    first = published(values)
    # Two months later the publisher revises month 60 (and the months after) back up:
    # with hindsight there was no drop.
    revised = values.copy()
    revised[JUDGED:] /= 0.75
    later = pd.DataFrame({"series_id": "s", "period": MONTHS[JUDGED:JUDGED + 3], "value": revised[JUDGED:JUDGED + 3],
                          "vintage": MONTHS[JUDGED] + pd.DateOffset(months=3, days=20)})
    data = pd.concat([first, later], ignore_index=True)
    engine = DisruptionEngine()
    month = MONTHS[JUDGED]

    real_time = verdict(engine.replay(data), month)
    # what the live service said when month 60 arrived: the data of its first vintage only
    live = verdict(engine.detect(first[first["period"] <= month].drop(columns="vintage")), month)
    hindsight = verdict(engine.replay(latest_values(data)), month)
    assert real_time[0] == live[0] == "flagged" and real_time[1] == pytest.approx(live[1])
    assert hindsight[0] == "normal"  # the revised data would have hidden it: the test can fail
    # live detection on the vintaged table sees the newest values
    assert verdict(engine.detect(data, at=month), month)[0] == "normal"


def test_a_revision_of_an_earlier_month_after_t_does_not_reach_t():
    values = steady(seed=3)
    first = published(values)
    # Long after month 60 was published, months 54-59 are revised 30 % up (a benchmark
    # revision): replaying on the latest values would see month 60 as a collapse;
    # month 60's own verdict must stay the one made on its first vintage.
    earlier = slice(JUDGED - 6, JUDGED)
    revision = pd.DataFrame({"series_id": "s", "period": MONTHS[earlier], "value": values[earlier] * 1.3,
                             "vintage": MONTHS[-1] + pd.DateOffset(months=2)})
    data = pd.concat([first, revision], ignore_index=True)
    engine = DisruptionEngine()
    month = MONTHS[JUDGED]
    plain = engine.replay(first.drop(columns="vintage"))
    real_time = engine.replay(data)
    assert verdict(real_time, month) == pytest.approx(verdict(plain, month))
    assert [(r.period, r.status) for r in real_time] == [(r.period, r.status) for r in plain]
    hindsight = verdict(engine.replay(latest_values(data)), month)
    assert hindsight[0] == "flagged"  # with hindsight month 60 looks like a 23 % drop


def test_naive_rule_also_uses_the_first_release():
    values = steady(seed=5)
    values[JUDGED] *= 0.7
    revised = pd.DataFrame({"series_id": "s", "period": [MONTHS[JUDGED]], "value": [values[JUDGED] / 0.7],
                            "vintage": [MONTHS[JUDGED] + pd.DateOffset(months=4)]})
    data = pd.concat([published(values), revised], ignore_index=True)
    flagged = naive_change_flags(data, threshold=3.0)
    assert MONTHS[JUDGED] in set(flagged.query("direction == 'down'")["period"])
    assert MONTHS[JUDGED] not in set(naive_change_flags(latest_values(data), threshold=3.0)["period"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8), st.floats(1, 100)), min_size=1, max_size=30))
def test_snapshots_never_read_a_later_vintage(rows):
    # (period index, vintage index, value); a period is published at or after its month
    frame = pd.DataFrame([{"series_id": "s", "period": MONTHS[p], "value": v, "vintage": MONTHS[p + d]}
                          for p, d, v in rows]).drop_duplicates(["series_id", "period", "vintage"])
    judged = []
    for vintage, snapshot, cells in vintage_snapshots(frame):
        known = frame[frame["vintage"] <= vintage]
        for period in snapshot["period"]:
            rows_p = known[known["period"] == period].sort_values("vintage")
            assert snapshot.loc[snapshot["period"] == period, "value"].item() == rows_p["value"].iloc[-1]
        assert set(snapshot["period"]) == set(known["period"])
        for period in cells["period"]:
            assert frame[frame["period"] == period]["vintage"].min() == vintage
        judged += list(cells["period"])
    assert sorted(judged) == sorted(frame["period"].unique())  # every month judged once


def test_csv_vintage_column_is_optional_and_checked(tmp_path, capsys):
    values = steady()
    values[JUDGED:] *= 0.75
    first = published(values)
    later = first.iloc[JUDGED:JUDGED + 3].assign(value=lambda f: f["value"] / 0.75,
                                                  vintage=MONTHS[JUDGED] + pd.DateOffset(months=3, days=20))
    data = pd.concat([first, later], ignore_index=True)
    path = tmp_path / "vintages.csv"
    data.assign(period=data["period"].dt.strftime("%Y-%m"), vintage=data["vintage"].dt.strftime("%Y-%m-%d")).to_csv(
        path, index=False)
    assert main(["detect", "--input", str(path), "--replay"]) == 0
    flags = json.loads(capsys.readouterr().out)
    assert "2020-01" in {f["period"] for f in flags if f["direction"] == "down"}
    # the same rows without vintages: the latest value of a month wins... and a month
    # repeated without vintages is an error, so drop the revisions to compare
    plain = tmp_path / "plain.csv"
    latest = latest_values(data)
    latest.assign(period=latest["period"].dt.strftime("%Y-%m")).to_csv(plain, index=False)
    assert main(["detect", "--input", str(plain), "--replay"]) == 0
    assert "2020-01" not in {f["period"] for f in json.loads(capsys.readouterr().out)}

    bad = tmp_path / "bad.csv"
    bad.write_text("series_id,period,value,vintage\na,2015-01,1,2015-02-15\na,2015-02,1,soon\n"
                   "b,2015-01,1,2015-02-15\nb,2015-01,2,2015-02-15\n", encoding="utf-8")
    assert main(["detect", "--input", str(bad)]) == 2  # both series bad: nothing usable
    err = capsys.readouterr().err
    assert f"{bad}: series 'a': row 3: vintage 'soon' is not a date" in err
    assert f"{bad}: series 'b': row 5: duplicate period 2015-01" in err


def test_parse_rows_with_vintages_keeps_revisions():
    parsed = parse_series_rows([(2, "s", "2020-01", "1.0", "2020-02-15"), (3, "s", "2020-01", "1.5", "2020-03-15"),
                                (4, "s", "2020-02", "2.0", "2020-03-15")])
    assert not parsed.problems
    assert list(parsed.frame.columns) == ["series_id", "period", "value", "vintage"]
    assert len(parsed.frame) == 3 and math.isclose(latest_values(parsed.frame)["value"].iloc[0], 1.5)
    old = parse_series_rows([(2, "s", "2020-01", "1.0"), (3, "s", "2020-02", "2.0")])
    assert list(old.frame.columns) == ["series_id", "period", "value"]


def test_evaluate_accepts_vintaged_series(tmp_path, capsys):
    data = published(steady())
    path = Path(tmp_path) / "v.csv"
    data.assign(period=data["period"].dt.strftime("%Y-%m"), vintage=data["vintage"].dt.strftime("%Y-%m-%d")).to_csv(
        path, index=False)
    events = tmp_path / "e.csv"
    events.write_text("series_id,kind,start,end,cause\ns,event,2020-01,,x\n", encoding="utf-8")
    assert main(["evaluate", "--input", str(path), "--events", str(events), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["detectors"][0]["events"] == 1 and doc["per_series"][0]["judged_months"] == N - 36
    # the evidence diagnostic would read revised values: not given for vintaged series
    assert doc["events"][0]["strongest_screen_z"] is None and doc["events"][0]["reachable_within_budget"] is None
