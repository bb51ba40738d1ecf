"""Partner-share collapse judged for many keys at once: a key's verdicts come from its own rows only."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from indicators.partner_share import PartnerShareCollapseDetector
from monitor.assess.assessment import PartitionTask, judge_partner_shares
from monitor.config.models import AssessmentSettings
from tests.conftest import examples

PARTNERS = ["AUS", "BRA", "CAN", "CHL", "CHN", "DEU", "IDN", "IND", "JPN", "KOR", "USA", "VNM", "ZAF"]


def exact(results) -> list[tuple]:
    """The results with every float as its bit pattern (NaN-safe, no tolerance)."""
    return [tuple(v.hex() if isinstance(v, float) else v for v in dataclasses.astuple(r)) for r in results]


def month(i: int) -> pd.Timestamp:
    return pd.Timestamp(2020 + i // 12, i % 12 + 1, 1)


@st.composite
def key_flows(draw, reporter: str, product: str) -> pd.DataFrame:
    """One key's rows: a few overlapping partners, gaps, zeros, sometimes a World total."""
    partners = draw(st.lists(st.sampled_from(PARTNERS), min_size=1, max_size=len(PARTNERS), unique=True))
    value = st.one_of(st.none(), st.just(0.0), st.floats(1e-3, 1e9), st.integers(1, 10**6).map(float))
    world = draw(st.booleans())
    rows = []
    for i in range(draw(st.integers(1, 16))):
        cells = draw(st.lists(value, min_size=len(partners), max_size=len(partners)))
        rows += [(reporter, p, product, month(i), v) for p, v in zip(partners, cells) if v is not None]
        if world and draw(st.booleans()):
            scale = draw(st.sampled_from([0.0, 1.0, 1.3]))
            rows.append((reporter, "WORLD", product, month(i), scale * sum(v or 0.0 for v in cells)))
    return pd.DataFrame(rows, columns=["reporter", "partner", "product", "period", "value"])


# Alone, "JPN/2846" has all 9 partners each month (pandas sums a complete table pairwise);
# next to a key with other partners the old one-table path summed a table with gaps, left
# to right, and moved these totals by a rounding error.
_NINE = [7.1, 9.4, 4.2, 8.3, 6.7, 3.0, 5.9, 8.8, 8.5]  # pairwise 61.9, left to right 61.900000000000006
_PAIRWISE = pd.DataFrame([("JPN", p, "2846", month(i), v) for i in range(8) for p, v in zip(PARTNERS, _NINE)],
                         columns=["reporter", "partner", "product", "period", "value"])
_OTHER = pd.DataFrame([("JPN", "ZAF", "9999", month(i), 1.0) for i in range(9)],
                      columns=["reporter", "partner", "product", "period", "value"])


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=key_flows("JPN", "2846"),
       others=st.lists(st.tuples(st.sampled_from(["CHN", "JPN", "KOR"]), st.sampled_from(["0000", "2846x", "9999"]))
                       .flatmap(lambda key: key_flows(*key)), max_size=3),
       window=st.integers(1, 6), shuffle=st.integers(0, 2**16))
@example(target=_PAIRWISE, others=[_OTHER], window=3, shuffle=0)
def test_a_keys_verdicts_do_not_depend_on_the_keys_judged_with_it(target, others, window, shuffle):
    others = [o.assign(product=f"{o['product'].iloc[0]}-{i}") for i, o in enumerate(others) if len(o)]
    det = PartnerShareCollapseDetector(window=window, min_periods=min(window, 2))
    together = pd.concat([*others, target], ignore_index=True).sample(frac=1.0, random_state=shuffle)

    def own(results):
        return exact(r for r in results if r.series_id == "JPN/2846")

    assert own(det.replay(together)) == exact(det.replay(target))
    assert own(det.detect(together)) == exact(det.detect(target))
    for at in (month(0), month(5), month(20)):
        assert own(det.detect(together, at=at)) == exact(det.detect(target, at=at))


def reference(rows: pd.DataFrame, window: int, min_periods: int) -> list[tuple]:
    """The docstring's formula on one key's own table, in plain pandas: per period, its
    status, main partner, observed and expected share and score."""
    world = rows["partner"] == "WORLD"
    wide = rows[~world].pivot(index="period", columns="partner", values="value").sort_index()
    # the documented sum: numpy's pairwise summation along each period's own partner cells
    cells = np.ascontiguousarray(wide.fillna(0.0).to_numpy())
    partner_sum = pd.Series(cells.sum(axis=1), index=wide.index).where(wide.notna().any(axis=1))
    total = rows[world].set_index("period")["value"].reindex(wide.index).fillna(partner_sum)
    total = total.where(total > 0)
    share = wide.div(total, axis=0).clip(upper=1.0)[total.notna()].fillna(0.0)
    past = share.shift(1).rolling(window, min_periods=min_periods).mean()
    out = []
    for period in share.index:
        if past.loc[period].isna().all():
            out.append((period, "insufficient_history", None, None, None, None))
            continue
        main = past.loc[period].idxmax()
        observed, expected = float(share.loc[period, main]), float(past.loc[period, main])
        out.append((period, "judged", main, observed, expected, 100.0 * (observed - expected)))
    return out


def realistic_flows(seed: int = 7) -> pd.DataFrame:
    """Nine keys over 60 months: 3-40 partners each (a heavy main supplier and a long tail),
    a fifth of the cells missing (none for one key), World totals for some keys, a
    zero-trade month, a main supplier cut off in month 50, and a key with 4 months only."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(9):
        reporter, product = ("CHN", "JPN")[k % 2], f"28{k:02d}"
        size = 20 if k >= 7 else int(rng.integers(3, 41))
        partners = sorted(rng.choice(["P%02d" % i for i in range(60)], size=size, replace=False))
        weight = rng.lognormal(0.0, 1.5, len(partners))
        weight[0] = 1.5 * weight[1:].sum() + 1.0
        for i in range(56 if k == 8 else 0, 60):
            values = weight * rng.lognormal(6.0, 0.3, len(partners))
            present = rng.random(len(partners)) > 0.2
            if k == 7:  # a complete table
                present[:] = True
            if k == 3 and i >= 50:
                present[0] = False
            if k == 5 and i == 30:
                values[:] = 0.0
            rows += [(reporter, p, product, month(i), float(v)) for p, v, keep in zip(partners, values, present) if keep]
            if k % 3 == 0:
                rows.append((reporter, "WORLD", product, month(i), float(values.sum() * 1.05)))
    return pd.DataFrame(rows, columns=["reporter", "partner", "product", "period", "value"])


@pytest.mark.parametrize(("window", "min_periods"), [(12, 6), (3, 2)])
def test_judging_all_keys_at_once_gives_each_keys_own_table_numbers_bit_for_bit(window, min_periods):
    flows = realistic_flows()
    det = PartnerShareCollapseDetector(window=window, min_periods=min_periods)
    results = det.replay(flows)
    statuses = set()
    for key, rows in flows.groupby(["reporter", "product"]):
        mine = [r for r in results if r.series_id == "/".join(key)]
        expected = reference(rows, window, min_periods)
        assert [r.period for r in mine] == [e[0] for e in expected]
        for r, (_, status, main, observed, expect, score) in zip(mine, expected):
            statuses.add(r.status)
            if status == "insufficient_history":
                assert r.status == status
                continue
            assert r.status in ("normal", "flagged") and main in r.explanation_en
            assert (r.observed.hex(), r.expected.hex(), r.score.hex()) == (observed.hex(), expect.hex(), score.hex())
    # the set exercises every verdict: the cut-off supplier is flagged
    assert statuses == {"insufficient_history", "normal", "flagged"}
    assert any(r.series_id == "JPN/2803" and r.status == "flagged" and r.period == month(50) for r in results)


def test_the_new_errors_and_ignored_rows():
    det = PartnerShareCollapseDetector()
    two_totals = pd.DataFrame([("JPN", "WORLD", "2846", "2020-01", 5.0), ("JPN", "0", "2846", "2020-01", 5.0),
                               ("JPN", "CHN", "2846", "2020-01", 4.0)],
                              columns=["reporter", "partner", "product", "period", "value"])
    with pytest.raises(ValueError, match="more than one total"):
        det.detect(two_totals)
    flows = realistic_flows().head(400)
    with_gaps = pd.concat([flows, flows.head(3).assign(partner=None), flows.head(3).assign(reporter=np.nan)],
                          ignore_index=True)
    assert exact(det.replay(with_gaps)) == exact(det.replay(flows))


@pytest.fixture(scope="module")
def chain():
    from monitor.config.loader import load_config
    from tests.conftest import CONFIG_DIR
    return max(load_config(CONFIG_DIR, environ={}).catalog.chains, key=lambda c: len(c.nodes))


def node_frames(chain, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Per node: imports of each of its HS codes from a few partners over 36 months (some
    missing, some NaN values, one node without data)."""
    rng = np.random.default_rng(seed)
    frames = {}
    for n, node in enumerate(chain.nodes):
        partners = sorted(rng.choice(PARTNERS, size=int(rng.integers(2, 11)), replace=False))
        rows = [("CHN", p, code, "M", month(i), float(rng.lognormal(8, 1)))
                for code in node.hs_codes for p in partners for i in range(36) if rng.random() > 0.15]
        frame = pd.DataFrame(rows, columns=["reporter", "partner", "product", "flow", "period", "value"])
        frame.loc[frame.sample(frac=0.02, random_state=n).index, "value"] = np.nan
        frames[node.id] = frame.iloc[0:0] if n == 1 else frame
    return frames


def test_a_nodes_share_verdicts_are_the_same_in_any_partition(chain):
    frames = node_frames(chain)
    det = PartnerShareCollapseDetector(window=12)

    def task(nodes):
        return PartitionTask(chain=chain, nodes=tuple(nodes), home="CHN", as_of=date(2022, 12, 1),
                             settings=AssessmentSettings())

    together = judge_partner_shares(task(chain.nodes), frames, det)
    assert chain.nodes[1].id not in together
    for i, node in enumerate(chain.nodes):
        alone = judge_partner_shares(task([node]), frames, det)
        assert exact(together.get(node.id, [])) == exact(alone.get(node.id, [])), node.id
        if i == 1:
            continue
        # the per-node path the batch replaced: one pandas groupby and one detector call per node
        summed = (frames[node.id].assign(product=node.id)
                  .groupby(["reporter", "partner", "product", "period"], as_index=False)["value"].sum())
        assert exact(together[node.id]) == exact(det.detect(summed, at=pd.Timestamp(2022, 12, 1))), node.id
        assert [r.series_id for r in together[node.id]] == [f"CHN/{node.id}"]
