"""Issue #20 item 9: real Comtrade data with partial partner coverage, end to end.

A new user's setup: the default catalog, a ``file`` source over a real UN Comtrade
extract (``tests/fixtures/comtrade_critical_minerals_annual_2020_2024.csv``, see
``tests/fixtures/README.md``) whose only partners are World (code 0) and one other
economy, then ``chainwatch collect`` and ``chainwatch assess --once --format json`` as
subprocesses on a temp SQLite database. Each home economy in :data:`HOMES` is one run.

What chainwatch says is checked against a hand computation done here, with pandas, on
the fixture itself (no result is typed in):

* every share it states (drivers, alert summaries, concentration details) is within
  :data:`SHARE_TOLERANCE` of that partner's share of the node's World imports;
* below ``min_partner_coverage`` (default 0.8) of World imports covered by named
  partners, concentration is not scored, no driver states a top-partner share or a
  point HHI, and no alert fires only because of concentration on such a node;
* the net-import ratio ``(M - X) / (M + X)`` equals the one from the World rows.

The JSON field names relied on are the constants just below, to adapt in one place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from indicators.vocabulary import level_index
from indicators.scoring import chain_score, level_for, node_score, propagate_along_dependencies, weakest_link_floor
from indicators.trade_totals import WORLD_PARTNERS
from monitor.config.countries import country_name_en, country_name_zh
from monitor.config.loader import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"
FIXTURE = REPO / "tests" / "fixtures" / "comtrade_critical_minerals_annual_2020_2024.csv"
CHAINWATCH = Path(sys.executable).with_name("chainwatch")

# --- the assess JSON / API fields this test relies on ------------------------------
AS_OF = "as_of"                      # top level of `assess --json`: "YYYY-MM"
CHAINS, NODES, ALERTS = "chains", "nodes", "alerts"
DIMENSIONS = "dimensions"            # node: {dimension: score or null}
DRIVER_KEYS = ("drivers", "drivers_zh")
ALERT_TEXT_KEYS = ("summary", "description")
# Per-dimension details: taken from the node in `assess --json` when one of these keys
# holds {dimension: {...}}, else from GET /api/v1/chains/{id} (nodes[].dimensions[d].details).
DETAIL_KEYS_IN_ASSESS_JSON = ("dimension_details", "details")
API_DETAILS = "details"
CONCENTRATION, DEPENDENCE = "concentration", "dependence"
PARTNER_COVERAGE = "partner_coverage"      # named partners' share of the World total, 0-1
UNALLOCATED_SHARE = "unallocated_share"    # 1 - partner_coverage (no "n.e.s." partner here)
TOP_PARTNERS, PARTNER, SHARE = "top_partners", "partner", "share"   # shares of the World total
TOP_PARTNER, TOP_SHARE = "top_partner", "top_share"
TOP_SHARE_BOUNDS, HHI, HHI_BOUNDS = "top_share_bounds", "hhi", "hhi_bounds"   # [lo, hi]
MISSING = "missing"                        # why a dimension is not scored
IMPORTS, EXPORTS, NET_IMPORT_RATIO = "imports", "exports", "net_import_ratio"
MIN_PARTNER_COVERAGE = "min_partner_coverage"   # setting name, looked up in settings.assessment
DEFAULT_MIN_PARTNER_COVERAGE = 0.8
LEVEL_ALERT_KINDS = {"risk_level": "level", "level_change": "level_change"}   # alert kind -> rule kind
# a claim "<partner> <share>%" in English or Chinese text ("top partner United States 100%", "美国占 100%"),
# partners by name (texts for people) or, should one slip through, by ISO code
PARTNER_NAMES = {name(iso): iso for iso in ("CHN", "USA") for name in (country_name_en, country_name_zh)}
PARTNER_SHARE_CLAIM = re.compile(r"(?P<partner>\b[A-Z]{3}\b|\bWORLD\b|" + "|".join(map(re.escape, PARTNER_NAMES))
                                 + r")(?: ?占)? ?(?P<share>\d+(?:\.\d+)?)\s?%")
TOP_PARTNER_CLAIM = re.compile(r"top partner \S+ \d+(?:\.\d+)?\s?%|最大来源国 \S+ 占 \d+(?:\.\d+)?\s?%")
POINT_HHI_CLAIM = re.compile(r"HHI (?P<hhi>\d\.\d+)(?!\s*(?:–|-|\.\.|to)\s*\d)")
HHI_THRESHOLD_CLAIM = re.compile(r"HHI > (?P<hhi>\d\.\d+)")

# --- tolerances of the done-when -----------------------------------------------------
SHARE_TOLERANCE = 0.02          # 2 percentage points
RATIO_TOLERANCE = 0.01          # net-import ratio
TOTAL_TOLERANCE = 0.01          # relative, stated imports/exports vs World totals

HOMES = {"CHN": "156", "USA": "842"}          # home economy -> Comtrade reporterCode
PARTNER_ISO = {"156": "CHN", "842": "USA"}    # the fixture's named partners (hand map)
WORLD_CODE = "0"


# --- the hand computation ------------------------------------------------------------

def fixture_rows() -> pd.DataFrame:
    """The fixture as typed rows: reporter/partner codes as strings, year, flow, USD."""
    raw = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    assert set(raw["freqCode"]) == {"A"} and set(raw["refMonth"]) == {"52"}, "fixture is annual"
    assert set(raw["partnerCode"]) <= {WORLD_CODE, *PARTNER_ISO}, set(raw["partnerCode"])
    return pd.DataFrame({
        "reporter": raw["reporterCode"], "partner": raw["partnerCode"], "product": raw["cmdCode"],
        "flow": raw["flowCode"], "year": raw["period"].astype(int), "value": raw["primaryValue"].astype(float),
    })


@dataclass
class HandNode:
    """One node's World totals and named-partner shares over the assessment window."""

    world_imports: float
    world_exports: float
    named: dict[str, float]                     # partner ISO -> share of World imports
    has_world_imports: bool
    has_world_exports: bool

    @property
    def coverage(self) -> float:
        return sum(self.named.values())

    @property
    def net_import_ratio(self) -> float:
        m, x = self.world_imports, self.world_exports
        return (m - x) / (m + x)

    @property
    def hhi_range(self) -> tuple[float, float]:
        """What the HHI can be: the rest spread thinly (lo) or all from one more partner (hi)."""
        known = sum(s * s for s in self.named.values())
        return known, known + max(0.0, 1.0 - self.coverage) ** 2

    @property
    def top_share_range(self) -> tuple[float, float]:
        top = max(self.named.values(), default=0.0)
        return top, max(top, 1.0 - self.coverage)


def window_years(as_of: str, window_months: int) -> list[int]:
    """Years whose annual value (stored at January) falls in the trailing window up to ``as_of``."""
    end = pd.Period(as_of, freq="M")
    start = end - (window_months - 1)
    return [p.year for p in pd.period_range(start, end, freq="M") if p.month == 1]


def hand_nodes(home: str, catalog, years: list[int]) -> dict[tuple[str, str], HandNode]:
    """(chain, node) -> :class:`HandNode` for every node with fixture rows in the window."""
    rows = fixture_rows()
    rows = rows[(rows["reporter"] == HOMES[home]) & rows["year"].isin(years)]
    out = {}
    for chain in catalog.chains:
        for node in chain.nodes:
            mine = rows[rows["product"].isin(node.hs_codes)]
            if mine.empty:
                continue
            world = mine[mine["partner"] == WORLD_CODE]
            imports = world[world["flow"] == "M"]
            exports = world[world["flow"] == "X"]
            total = imports["value"].sum()
            named = mine[(mine["partner"] != WORLD_CODE) & (mine["flow"] == "M")]
            shares = (named.groupby("partner")["value"].sum() / total) if total > 0 else pd.Series(dtype=float)
            out[(chain.id, node.id)] = HandNode(
                world_imports=float(total), world_exports=float(exports["value"].sum()),
                named={PARTNER_ISO[p]: float(s) for p, s in shares.items()},
                has_world_imports=not imports.empty, has_world_exports=not exports.empty)
    return out


# --- running chainwatch as a user would ------------------------------------------------

def build_config(target: Path, fixture: Path, home: str) -> Path:
    """The packaged config with one ``file`` source reading ``fixture``; catalog home = ``home``."""
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("grafana", "prometheus", "live"))
    (target / "sources.yaml").write_text(f"""
sources:
  - id: comtrade-extract
    kind: file
    location: {json.dumps(str(fixture))}
    table: trade_flows
    columns: {{reporter: reporterCode, partner: partnerCode, product: cmdCode, flow: flowCode,
               period: period, value: primaryValue, quantity: netWgt}}
    country_codes: m49
""", encoding="utf-8")
    chains = target / "chains.yaml"
    catalog, replaced = re.subn(r"(?m)^home: \w+$", f"home: {home}", chains.read_text(encoding="utf-8"), count=1)
    assert replaced == 1, "no top-level 'home:' line in chains.yaml"
    chains.write_text(catalog, encoding="utf-8")
    return target


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAINWATCH_")}


def _chainwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHAINWATCH), *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=300)


@dataclass
class NodeView:
    dimensions: dict
    drivers: list[str]
    details: dict = field(default_factory=dict)     # dimension -> details dict (or None)


@dataclass
class Run:
    home: str
    config: object
    db_url: str
    collect: subprocess.CompletedProcess
    document: dict
    nodes: dict[tuple[str, str], NodeView]
    chain_drivers: dict[str, list[str]]
    hand: dict[tuple[str, str], HandNode]
    min_coverage: float

    def gated(self) -> dict[tuple[str, str], HandNode]:
        return {k: h for k, h in self.hand.items() if h.has_world_imports and h.coverage < self.min_coverage}


def _api_details(config, db_url: str) -> dict[tuple[str, str], dict]:
    """(chain, node) -> {dimension: details} from GET /api/v1/chains/{id}."""
    from fastapi.testclient import TestClient

    from monitor.serve.api import ApiContext
    from monitor.telemetry.metrics import build_registry
    from monitor.serve.server import create_http_app
    from monitor.store.database import make_engine, session_factory

    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        registry, _ = build_registry(sessions)
        client = TestClient(create_http_app(registry, engine, ApiContext(config, sessions)))
        out = {}
        for chain in config.catalog.chains:
            response = client.get(f"/api/v1/chains/{chain.id}")
            assert response.status_code == 200, response.text
            for node in response.json()[NODES]:
                out[(chain.id, node["id"])] = {d: v.get(API_DETAILS) for d, v in node[DIMENSIONS].items()}
        return out
    finally:
        engine.dispose()


def _min_partner_coverage(config) -> float:
    assessment = config.settings.assessment
    for holder in (assessment, getattr(assessment, "dimensions", None),
                   getattr(getattr(assessment, "dimensions", None), CONCENTRATION, None)):
        value = getattr(holder, MIN_PARTNER_COVERAGE, None) if holder is not None else None
        if value is not None:
            return float(value)
    return DEFAULT_MIN_PARTNER_COVERAGE


@pytest.fixture(scope="module", params=list(HOMES))
def run(request, tmp_path_factory) -> Run:
    home = request.param
    cwd = tmp_path_factory.mktemp(f"realdata-{home}")
    fixture = cwd / FIXTURE.name
    shutil.copyfile(FIXTURE, fixture)
    config_dir = build_config(cwd / "config", fixture, home)
    db_url = f"sqlite:///{cwd / 'chainwatch.db'}"
    common = ("--config", str(config_dir), "--db", db_url)
    collect = _chainwatch("collect", *common, cwd=cwd)
    assert collect.returncode == 0, collect.stdout + collect.stderr
    assess = _chainwatch("assess", "--once", "--format", "json", *common, cwd=cwd)
    assert assess.returncode == 0, assess.stderr
    document = json.loads(assess.stdout)
    config = load_config(config_dir)
    api = None
    nodes = {}
    for chain in document[CHAINS]:
        for node in chain[NODES]:
            key = (chain["id"], node["id"])
            details = next((node[k] for k in DETAIL_KEYS_IN_ASSESS_JSON if isinstance(node.get(k), dict)), None)
            if details is None:
                api = api if api is not None else _api_details(config, db_url)
                details = api[key]
            drivers = [d for k in DRIVER_KEYS for d in node.get(k) or []]
            nodes[key] = NodeView(dimensions=node[DIMENSIONS], drivers=drivers, details=details)
    years = window_years(document[AS_OF], config.settings.assessment.window_months)
    hand = hand_nodes(home, config.catalog, years)
    return Run(home=home, config=config, db_url=db_url, collect=collect, document=document, nodes=nodes,
               chain_drivers={c["id"]: [d for k in DRIVER_KEYS for d in c.get(k) or []] for c in document[CHAINS]},
               hand=hand, min_coverage=_min_partner_coverage(config))


def _fail_on(problems: list[str], run: Run, what: str) -> None:
    if problems:
        pytest.fail(f"home {run.home}: {len(problems)} {what}:\n" + "\n".join(problems), pytrace=False)


# --- the tests -------------------------------------------------------------------------

def test_the_file_source_stores_the_extract_as_annual_world_and_partner_rows(run):
    """Every fixture row is stored, partner 0 as a World code, each year as one period (January)."""
    rows = fixture_rows()
    found = re.search(r"(\d+) new, \d+ revised, (\d+) unchanged, (\d+) rejected", run.collect.stdout)
    assert found, run.collect.stdout
    assert (int(found.group(1)), int(found.group(3))) == (len(rows), 0), run.collect.stdout
    engine = create_engine(run.db_url)
    with engine.connect() as connection:
        stored = pd.DataFrame(connection.execute(text(
            "SELECT reporter, partner, product, flow, period, value FROM trade_flows")).all(),
            columns=["reporter", "partner", "product", "flow", "period", "value"])
    engine.dispose()
    world = set(stored["partner"]) - set(PARTNER_ISO.values())
    assert len(world) == 1 and world <= WORLD_PARTNERS, world
    periods = pd.to_datetime(stored["period"])
    assert ((periods.dt.month == 1) & (periods.dt.day == 1)).all()
    iso = {WORLD_CODE: world.pop(), **PARTNER_ISO}
    expected = rows.assign(reporter=rows["reporter"].map(PARTNER_ISO), partner=rows["partner"].map(iso),
                           period=[date(y, 1, 1) for y in rows["year"]]).drop(columns="year")
    stored = stored.assign(period=periods.dt.date)
    keys = ["reporter", "partner", "product", "flow", "period"]
    merged = expected.merge(stored, on=keys, how="outer", suffixes=("_file", "_db"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["value_file"] == merged["value_db"]).all()


def test_every_stated_share_matches_the_world_totals(run):
    """(a) Shares in drivers, alerts and concentration details are shares of the World total."""
    problems = []
    alert_texts: dict[tuple[str, str], list[str]] = {}
    for alert in run.document[ALERTS]:
        alert_texts.setdefault((alert["chain"], alert["node"]), []).extend(
            str(alert[k]) for k in ALERT_TEXT_KEYS if alert.get(k))
    for key, hand in sorted(run.hand.items()):
        if not hand.has_world_imports:
            continue
        where = "/".join(key)
        view = run.nodes[key]
        for text_ in view.drivers + alert_texts.get(key, []):
            for claim in PARTNER_SHARE_CLAIM.finditer(text_):
                partner, stated = PARTNER_NAMES.get(claim["partner"], claim["partner"]), float(claim["share"]) / 100
                if partner in WORLD_PARTNERS:
                    problems.append(f"{where}: names the World aggregate as a partner: {text_!r}")
                    continue
                true = hand.named.get(partner, 0.0)
                if abs(stated - true) > SHARE_TOLERANCE:
                    problems.append(f"{where}: states {partner} {stated:.1%}, World rows say {true:.1%}: {text_!r}")
        conc = (view.details or {}).get(CONCENTRATION) or {}
        for entry in conc.get(TOP_PARTNERS) or []:
            partner, stated = str(entry[PARTNER]), float(entry[SHARE])
            if partner in WORLD_PARTNERS:
                problems.append(f"{where}: {TOP_PARTNERS} lists the World aggregate ({partner}, {stated:.1%})")
                continue
            true = hand.named.get(partner, 0.0)
            if abs(stated - true) > SHARE_TOLERANCE:
                problems.append(f"{where}: {TOP_PARTNERS} {partner} {stated:.1%}, World rows say {true:.1%}")
        if conc.get(TOP_SHARE) is not None:
            partner = str(conc.get(TOP_PARTNER))
            true = hand.named.get(partner, 0.0)
            if abs(float(conc[TOP_SHARE]) - true) > SHARE_TOLERANCE:
                problems.append(f"{where}: {TOP_SHARE} {partner} {float(conc[TOP_SHARE]):.1%}, "
                                f"World rows say {true:.1%}")
        if conc.get(PARTNER_COVERAGE) is not None and abs(float(conc[PARTNER_COVERAGE]) - hand.coverage) \
                > SHARE_TOLERANCE:
            problems.append(f"{where}: {PARTNER_COVERAGE} {float(conc[PARTNER_COVERAGE]):.1%}, "
                            f"World rows say {hand.coverage:.1%}")
        if conc.get(UNALLOCATED_SHARE) is not None and abs(float(conc[UNALLOCATED_SHARE]) - (1 - hand.coverage)) \
                > SHARE_TOLERANCE:
            problems.append(f"{where}: {UNALLOCATED_SHARE} {float(conc[UNALLOCATED_SHARE]):.1%}, "
                            f"World rows say {1 - hand.coverage:.1%}")
        # bounds must not exclude anything the World rows allow
        for name, (lo, hi) in ((TOP_SHARE_BOUNDS, hand.top_share_range), (HHI_BOUNDS, hand.hhi_range)):
            if conc.get(name) is not None:
                stated_lo, stated_hi = (float(b) for b in conc[name])
                if stated_lo > lo + SHARE_TOLERANCE or stated_hi < hi - SHARE_TOLERANCE:
                    problems.append(f"{where}: {name} [{stated_lo:.3f}, {stated_hi:.3f}] excludes part of "
                                    f"[{lo:.3f}, {hi:.3f}] that the World rows allow")
    _fail_on(problems, run, "share claims contradict the World totals")


def test_concentration_is_not_scored_on_partial_partner_coverage(run):
    """(b) Below min_partner_coverage: no concentration score, no top-partner share, no point HHI."""
    gated = run.gated()
    assert gated, "the fixture should give nodes below the partner-coverage threshold"
    problems = []
    for key, hand in sorted(gated.items()):
        where = f"{'/'.join(key)} (coverage {hand.coverage:.1%})"
        view = run.nodes[key]
        score = view.dimensions.get(CONCENTRATION)
        if score is not None:
            problems.append(f"{where}: concentration scored {score}")
        conc = (view.details or {}).get(CONCENTRATION) or {}
        if not conc.get(MISSING):
            problems.append(f"{where}: concentration details give no {MISSING!r} reason")
        if conc.get(HHI) is not None:
            problems.append(f"{where}: details state a point {HHI} {conc[HHI]} (possible: "
                            f"{hand.hhi_range[0]:.4f}..{hand.hhi_range[1]:.4f})")
        for text_ in view.drivers:
            if TOP_PARTNER_CLAIM.search(text_):
                problems.append(f"{where}: driver states a top-partner share: {text_!r}")
            point = POINT_HHI_CLAIM.search(text_)
            if point:
                problems.append(f"{where}: driver states a point HHI {point['hhi']}: {text_!r}")
            threshold = HHI_THRESHOLD_CLAIM.search(text_)
            if threshold and hand.hhi_range[0] <= float(threshold["hhi"]):
                problems.append(f"{where}: driver relies on HHI > {threshold['hhi']} while the World rows "
                                f"allow HHI down to {hand.hhi_range[0]:.4f}: {text_!r}")
    _fail_on(problems, run, "concentration claims on partial partner coverage")


def _levels(run: Run, without: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Chain and node levels recomputed from the JSON's dimension scores, leaving out the
    concentration score of the nodes in ``without`` (same combination rules as chainwatch)."""
    settings = run.config.settings.assessment
    thresholds = settings.levels.model_dump()
    levels = {}
    stated = {(c["id"], n["id"]): n for c in run.document[CHAINS] for n in c[NODES]}

    def known(completeness: float) -> bool:  # below it a subject is 'unknown' (neither safe nor at risk)
        return completeness >= settings.min_completeness

    for chain in run.config.catalog.chains:
        own = {}
        completeness = {n.id: stated[(chain.id, n.id)]["completeness"] for n in chain.nodes}
        for node in chain.nodes:
            dims = dict(run.nodes[(chain.id, node.id)].dimensions)
            if (chain.id, node.id) in without:
                dims.pop(CONCENTRATION, None)
            own[node.id] = node_score(dims) if known(completeness[node.id]) else None
        scores = propagate_along_dependencies(own, {n.id: n.depends_on for n in chain.nodes},
                                              settings.propagation_factor)
        node_levels = [("unknown" if not known(completeness[n.id]) else
                        level_for(scores[n.id], thresholds) if scores[n.id] is not None else "none")
                       for n in chain.nodes]
        weights = [n.criticality for n in chain.nodes]
        combined = weakest_link_floor(
            chain_score([s if lv != "unknown" else None for s, lv in zip((scores[n.id] for n in chain.nodes),
                                                                          node_levels)], weights),
            node_levels, weights, thresholds, settings.weakest_link_min_criticality)
        chain_known = known(sum(completeness.values()) / len(completeness))
        levels[(chain.id, "")] = ("unknown" if not chain_known else
                                  level_for(combined, thresholds) if combined is not None else "none")
        levels.update({(chain.id, n.id): lv for n, lv in zip(chain.nodes, node_levels)})
    return levels


def test_no_alert_fires_only_on_gated_concentration(run):
    """(b) No alert whose level is reached only through concentration on a gated node."""
    gated = set(run.gated())
    stated = {(c["id"], ""): c["level"] for c in run.document[CHAINS]}
    stated.update({(c["id"], n["id"]): n["level"] for c in run.document[CHAINS] for n in c[NODES]})
    assert _levels(run, set()) == stated, "this test's recomputation of levels no longer matches chainwatch's"
    without = _levels(run, gated)
    rules = run.config.alerts.rules
    problems = []
    for alert in run.document[ALERTS]:
        subject = (alert["chain"], alert["node"])
        if alert["node"] and subject in gated and ("share" in alert["kind"] or CONCENTRATION in alert["kind"]):
            problems.append(f"{'/'.join(subject)}: {alert['kind']} alert on a gated node: {alert['summary']!r}")
        rule_kind = LEVEL_ALERT_KINDS.get(alert["kind"])
        if rule_kind is None:
            continue
        scope = "node" if alert["node"] else "chain"
        floors = [r.min_level for r in rules if r.kind == rule_kind and r.scope == scope and r.min_level]
        if floors and level_index(without[subject]) < min(level_index(f) for f in floors):
            problems.append(f"{'/'.join(p for p in subject if p)}: {alert['kind']} alert ({alert['severity']}, "
                            f"{alert['summary']!r}) would be {without[subject]} without concentration on "
                            f"nodes below {run.min_coverage:.0%} partner coverage")
    _fail_on(problems, run, f"of {len(run.document[ALERTS])} alerts fire only on gated concentration")


def test_net_import_ratio_follows_the_world_rows(run):
    """(c) (M - X) / (M + X) from World imports and World exports, right sign, within 0.01."""
    problems = []
    checked = 0
    for key, hand in sorted(run.hand.items()):
        if not (hand.has_world_imports and hand.has_world_exports):
            continue
        checked += 1
        where = "/".join(key)
        dep = (run.nodes[key].details or {}).get(DEPENDENCE) or {}
        stated = dep.get(NET_IMPORT_RATIO)
        if stated is None:
            problems.append(f"{where}: no {NET_IMPORT_RATIO} (World rows give {hand.net_import_ratio:+.3f})")
            continue
        stated = float(stated)
        if abs(stated - hand.net_import_ratio) > RATIO_TOLERANCE or (stated > 0) != (hand.net_import_ratio > 0):
            problems.append(f"{where}: {NET_IMPORT_RATIO} {stated:+.3f}, World rows give "
                            f"{hand.net_import_ratio:+.3f} (M {hand.world_imports:,.0f}, X {hand.world_exports:,.0f}"
                            f"; stated M {dep.get(IMPORTS)}, X {dep.get(EXPORTS)})")
        for name, true in ((IMPORTS, hand.world_imports), (EXPORTS, hand.world_exports)):
            if dep.get(name) is not None and abs(float(dep[name]) - true) > TOTAL_TOLERANCE * true:
                problems.append(f"{where}: {name} {float(dep[name]):,.0f}, World rows give {true:,.0f}")
        for text_ in run.nodes[key].drivers:
            found = re.search(r"(?:net-import ratio|净进口比) (?P<r>[-+−]?\d+\.\d+)", text_)
            if found and abs(float(found["r"].replace("−", "-")) - hand.net_import_ratio) > RATIO_TOLERANCE:
                problems.append(f"{where}: driver says net-import ratio {found['r']}, World rows give "
                                f"{hand.net_import_ratio:+.3f}")
    assert checked, "no node has World rows for both flows"
    _fail_on(problems, run, "net-import ratios contradict the World rows")
