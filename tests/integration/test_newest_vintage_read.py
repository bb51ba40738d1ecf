"""The readers keep exactly one row per key, the newest vintage, on SQLite and PostgreSQL.

The database chooses the vintage (monitor/store/observations.py): a later release
beats a later retrieval, an unknown release counts as the retrieval time, a reported
flow shadows the mirror flows of its period whatever their vintages.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from monitor.records import CollectedBatch, SeriesInfo
from monitor.store.observations import load_observations, load_trade_flows, store_batch

JAN, FEB, MAR = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01"), pd.Timestamp("2025-03-01")


def _batch(source, vintage, rows, released=None, observations=()):
    """Import flows of CHN for product 2605: ``rows`` of (partner, period, value, provenance)."""
    flows = pd.DataFrame([{"reporter": "CHN", "partner": partner, "product": "2605", "flow": "M", "period": period,
                           "value": value, "quantity": float("nan"), "provenance": provenance}
                          for partner, period, value, provenance in rows])
    obs = pd.DataFrame([{"series_id": "prod.x", "period": p, "value": v} for p, v in observations],
                       columns=["series_id", "period", "value"])
    return CollectedBatch(source=source, vintage=vintage, released=released,
                          series=[SeriesInfo("prod.x", source, "t", "test")] if observations else [],
                          observations=obs, trade_flows=flows)


def test_the_newest_vintage_wins_and_no_row_is_doubled(sessions, clock):
    t0 = clock()
    january_release = datetime(2025, 12, 1, tzinfo=timezone.utc)
    # Retrieved first, released last: newest by release, whatever arrives later.
    store_batch(sessions, _batch("comtrade", "r2", [("COD", JAN, 300.0, "reported"), ("ZMB", JAN, 30.0, "reported")],
                                 released=january_release + timedelta(days=20),
                                 observations=[(JAN, 3.0), (FEB, 4.0)]), t0)
    store_batch(sessions, _batch("comtrade", "r1", [("COD", JAN, 100.0, "reported"), ("ZMB", JAN, 10.0, "reported"),
                                                    ("COD", FEB, 110.0, "reported")],
                                 released=january_release, observations=[(JAN, 1.0), (FEB, 2.0)]),
                t0 + timedelta(hours=1))
    # No release known: its retrieval time (later than both releases) counts.
    store_batch(sessions, _batch("mirror", "m1", [("COD", FEB, 999.0, "mirror"), ("COD", MAR, 130.0, "mirror"),
                                                  ("ZMB", MAR, 13.0, "mirror")]), t0 + timedelta(days=2))
    store_batch(sessions, _batch("mirror", "m2", [("COD", MAR, 140.0, "mirror")]), t0 + timedelta(days=3))
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
        observed = load_observations(session, ["prod.x"])

    assert not flows.duplicated(["partner", "product", "period"]).any()
    got = {(r.partner, r.period, r.provenance): r.value for r in flows.itertuples()}
    assert got == {
        ("COD", JAN, "reported"): 300.0, ("ZMB", JAN, "reported"): 30.0,  # the later release, stored first
        ("COD", FEB, "reported"): 110.0,  # the newer mirror row of a reported period is left out
        ("COD", MAR, "mirror"): 140.0, ("ZMB", MAR, "mirror"): 13.0,  # mirror only: its newest vintage
    }
    assert list(zip(flows["partner"], flows["period"])) == sorted(zip(flows["partner"], flows["period"]))
    assert observed["value"].tolist() == [3.0, 4.0] and observed["period"].tolist() == [JAN, FEB]


def test_a_later_retrieval_wins_when_releases_are_unknown(sessions, clock):
    store_batch(sessions, _batch("a", "zz-old", [("COD", JAN, 1.0, "reported")], observations=[(JAN, 1.0)]), clock())
    store_batch(sessions, _batch("b", "aa-new", [("COD", JAN, 2.0, "reported")], observations=[(JAN, 2.0)]),
                clock() + timedelta(minutes=1))
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605"])
        observed = load_observations(session, ["prod.x"])
    assert flows["value"].tolist() == [2.0] and observed["value"].tolist() == [2.0]


def test_columns_keep_their_types_when_nothing_matches(sessions, clock):
    store_batch(sessions, _batch("a", "v", [("COD", JAN, 1.0, "reported")], observations=[(JAN, 1.0)]), clock())
    with sessions() as session:
        found = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
        empty = load_trade_flows(session, "CHN", ["9999"], with_provenance=True)
        none_observed = load_observations(session, ["other"])
    assert empty.empty and empty.dtypes.to_dict() == found.dtypes.to_dict()
    assert found["quantity"].dtype == "float64" and found["period"].dtype == "datetime64[s]"
    assert none_observed.empty and str(none_observed["period"].dtype) == "datetime64[s]"


def test_trade_flows_come_partner_first_in_byte_order(sessions, clock):
    # The database returns its primary key's order (product, period, partner); the reader
    # puts the partner first. Byte order, as SQLite compares, whatever PostgreSQL's collation.
    partners = ["ZMB", "_X", "COD", "abc", "Aus"]
    rows = [{"reporter": "CHN", "partner": partner, "product": product, "flow": "M", "period": period,
             "value": float(i), "quantity": float("nan"), "provenance": "reported"}
            for i, (product, period, partner) in enumerate(
                (product, period, partner) for product in ("8507", "2605", "26050") for period in (MAR, JAN)
                for partner in partners)]
    store_batch(sessions, CollectedBatch(source="comtrade", vintage="v1", released=None, series=[],
                                         observations=pd.DataFrame(columns=["series_id", "period", "value"]),
                                         trade_flows=pd.DataFrame(rows)), clock())
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", ["2605", "26050", "8507"])
    keys = list(zip(flows["partner"], flows["product"], flows["period"]))
    assert len(keys) == 30
    assert keys == sorted(keys, key=lambda k: (k[0].encode(), k[1].encode(), k[2]))
    assert flows.index.tolist() == list(range(30))


def test_a_failing_bulk_read_raises_and_the_session_recovers(sessions):
    # On PostgreSQL the rows come through libpq's COPY directly (monitor/store/columnar.py):
    # a server error mid-read must surface as an error, and the connection stay usable.
    from sqlalchemy import literal_column, select
    from sqlalchemy.exc import DBAPIError

    from monitor.store.columnar import read_columns

    failing = select(literal_column("1.0 / (2 - generate_series(1, 3))").label("x"))
    with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite divides by zero into NULL, no error to raise")
        with pytest.raises((DBAPIError, Exception), match="division by zero"):
            read_columns(session, failing, {"x": "float"})
        session.rollback()
        fine = read_columns(session, select(literal_column("2.5").label("x")), {"x": "float"})
    assert fine["x"].tolist() == [2.5]


def _reference(stored: list[dict]) -> dict:
    """The documented rules, row by row: per product and period reported beats mirror; per
    partner, product, period and provenance the newest (release or retrieval, retrieval, vintage)."""
    reported = {(r["product"], r["period"]) for r in stored if r["provenance"] != "mirror"}
    kept = [r for r in stored if r["provenance"] != "mirror" or (r["product"], r["period"]) not in reported]
    best: dict = {}
    for r in kept:
        key = (r["partner"], r["product"], r["period"], r["provenance"])
        rank = (r["released"] or r["retrieved"], r["retrieved"], r["vintage"])
        if key not in best or rank > best[key][0]:
            best[key] = (rank, r["value"])
    return {(p, product, period, provenance): value for (p, product, period, provenance), (_, value) in best.items()}


@pytest.mark.parametrize(("seed", "months_per_read"), [(1, 2000), (2, 2000), (3, 1)])
def test_codes_with_revised_months_and_codes_without_read_as_the_rules_say(sessions, clock, monkeypatch, seed,
                                                                           months_per_read):
    # The reader takes the rows of keys with one stored row as they are and reads the
    # months with a revised key again with the newest-vintage rule (in reads of
    # ``months_per_read`` months): each partition mixes both kinds. A random store of
    # several vintages, some codes revised, some not, must read back exactly as the rules
    # applied row by row.
    import random

    monkeypatch.setattr("monitor.store.observations._MONTHS_PER_READ", months_per_read)

    rng = random.Random(seed)
    products = ["2605", "26050", "2836", "8507", "850760"]
    partners = ["AUS", "COD", "ZMB", "_X", "chl"]
    stored = []
    for b in range(4):
        source, vintage = rng.choice(["comtrade", "mirror-src"]), f"v{rng.randint(0, 9)}-{b}"
        released = rng.choice([None, datetime(2025, 11, 1 + rng.randint(0, 20), tzinfo=timezone.utc)])
        retrieved = clock() + timedelta(hours=rng.randint(0, 30 * 24))
        revised = products[:2 + b % 2] if b else products  # the first batch stores every code
        rows = [{"reporter": "CHN", "partner": p, "product": product, "flow": "M", "period": period,
                 "value": float(rng.randint(1, 1000)), "quantity": float("nan"),
                 "provenance": "mirror" if rng.random() < 0.2 else "reported"}
                for product in revised for period in (JAN, FEB, MAR) for p in partners if rng.random() < 0.7]
        if not rows:
            continue
        store_batch(sessions, CollectedBatch(source=source, vintage=vintage, released=released, series=[],
                                             observations=pd.DataFrame(columns=["series_id", "period", "value"]),
                                             trade_flows=pd.DataFrame(rows)), retrieved)
        stored += [{**r, "source": source, "vintage": vintage, "released": released, "retrieved": retrieved}
                   for r in rows]
    # A later store of the same source and vintage replaces its rows: keep the last of each primary key.
    last = {(r["product"], r["period"], r["partner"], r["source"], r["vintage"]): r for r in stored}
    with sessions() as session:
        flows = load_trade_flows(session, "CHN", products, with_provenance=True)
    got = {(r.partner, r.product, r.period, r.provenance): r.value for r in flows.itertuples()}
    assert got == _reference(list(last.values()))
    keys = list(zip(flows["partner"], flows["product"], flows["period"]))
    assert keys == sorted(keys, key=lambda k: (k[0].encode(), k[1].encode(), k[2]))
    assert flows.index.tolist() == list(range(len(flows)))


def test_only_the_provenance_columns_asked_for_are_read_with_the_same_rows(sessions, clock):
    t0 = clock()
    store_batch(sessions, _batch("comtrade", "r1", [("COD", JAN, 1.0, "reported"), ("COD", FEB, 2.0, "reported")]), t0)
    store_batch(sessions, _batch("comtrade", "r2", [("COD", FEB, 3.0, "reported")]), t0 + timedelta(hours=1))
    store_batch(sessions, _batch("mirror", "m1", [("ZMB", MAR, 4.0, "mirror")]), t0 + timedelta(hours=2))
    with sessions() as session:
        full = load_trade_flows(session, "CHN", ["2605"], with_provenance=True)
        some = load_trade_flows(session, "CHN", ["2605"], with_provenance=["estimate_flags", "provenance"])
        plain = load_trade_flows(session, "CHN", ["2605"])
        with pytest.raises(ValueError, match="not provenance columns: \\['released_at'\\]"):
            load_trade_flows(session, "CHN", ["2605"], with_provenance=["provenance", "released_at"])
    # in PROVENANCE_COLUMNS' order, whatever the order asked in
    assert list(some.columns) == [*plain.columns, "provenance", "estimate_flags"]
    pd.testing.assert_frame_equal(some, full[list(some.columns)])
    pd.testing.assert_frame_equal(plain, full[list(plain.columns)])
    assert some["value"].tolist() == [1.0, 3.0, 4.0] and some["provenance"].tolist() == ["reported", "reported", "mirror"]
