"""Pydantic models of chainwatch's configuration files.

Every model forbids unknown keys so a typo is an error, not a silently ignored
setting. Cross-field checks (dangling ``depends_on``, cycles, duplicate ids) live
here too, so ``load_config`` is the single place a broken config is rejected.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, ClassVar, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from indicators import dimension_scores
from monitor.clock import parse_duration

_HS_CODE = re.compile(r"^(\d{4}|\d{6})$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_hs(code: str) -> str:
    if not _HS_CODE.match(code):
        raise ValueError(f"{code!r} is not an HS code (4 or 6 digits, HS 2017/2022)")
    return code


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"{value!r} is not a valid id (lower-case letters, digits, '-' and '_')"
        )
    return value


def _check_cron(expr: str) -> str:
    try:
        CronTrigger.from_crontab(expr)
    except ValueError as err:
        raise ValueError(f"{expr!r} is not a valid cron expression: {err}") from None
    return expr


def _check_bool(value: object) -> object:
    # Only true/false: YAML 1.1's yes/on/no reach here as strings (monitor/config/yaml_reader.py);
    # the strings "true"/"false" come from ${VAR} interpolation.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


HsCode = Annotated[str, AfterValidator(_check_hs)]
#: A boolean setting: true or false, nothing else (not yes/on/1).
Flag = Annotated[bool, BeforeValidator(_check_bool)]
Identifier = Annotated[str, AfterValidator(_check_id)]
Cron = Annotated[str, AfterValidator(_check_cron)]


class Names(StrictModel):
    """A name in English and Chinese."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class Keywords(StrictModel):
    """Words that name a node's product in announcements (policy-event mapping, docs/configuration.md)."""

    en: list[Annotated[str, Field(min_length=2)]] = Field(
        default_factory=list, description="English words or phrases, matched as whole words, any case")
    zh: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Chinese words, matched as substrings")


class Person(StrictModel):
    """A named official, e.g. the chain chief (链长)."""

    name: str = Field(min_length=1)
    title: str | None = None


class Contact(StrictModel):
    """Someone who receives a chain's alerts and reports."""

    name: str = Field(min_length=1)
    role: str = Field(min_length=1)
    email: str | None = None
    receiver: str | None = Field(
        default=None, description="name of a receiver in alerts.yaml that reaches this contact"
    )


class WorldSupplyStage(StrictModel):
    """One stage of world supply a node stands on (mine, refinery, fab...), by its series stem.

    The stored observations ``<series>.<ISO3>`` give each country's output per year,
    ``<series>.WORLD`` the world total (the denominator; without it the named countries
    are taken as the whole) and ``<series>.OTHERS`` the unnamed rest, as the ``usgs``
    source stores them (docs/sources/usgs.md).
    """

    series: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$",
                        description="observation-id stem, e.g. usgs.galli.primary")
    name: Names = Field(description="what is produced at this stage, e.g. primary gallium / 原生镓")


class NodeInput(StrictModel):
    """A node of any chain that this node consumes (an edge of the supply network).

    Stress tests propagate the input's shortfall to this node's domestic output, times
    ``share``, ``lead_months`` later (indicators/stress.py). Within one chain
    ``depends_on`` does the same with no lead time.
    """

    node: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$",
                      description="chain/node reference, e.g. critical-minerals/cobalt")
    share: float = Field(ge=0, le=1, description="share of this node's domestic output that cannot be made "
                         "without the input (essential, whatever its value; not a cost share)")
    lead_months: int = Field(default=0, ge=0, le=24, description="months before the input's shortfall bites")
    source: str = Field(default="illustrative", min_length=1,
                        description="where share and lead time come from, or 'illustrative'")


class Node(StrictModel):
    """A link of a chain (环节): the products it trades and what it depends on."""

    id: Identifier
    name: Names
    stage: Literal["upstream", "midstream", "downstream"]
    criticality: float = Field(gt=0, le=1, description="weight in the chain score, (0, 1]")
    hs_codes: list[HsCode] = Field(min_length=1)
    production_series: list[str] = Field(default_factory=list)
    depends_on: list[Identifier] = Field(default_factory=list)
    inputs: list[NodeInput] = Field(
        default_factory=list, description="nodes of any chain this node consumes (stress-test propagation)")
    detector_threshold: float | None = Field(
        default=None, gt=0, le=20,
        description="this node's disruption-engine threshold (z units); unset: the chain's, else "
                    "assessment.detector.threshold")
    description: Names | None = Field(
        default=None, description="what the node's HS codes measure, and through which baskets")
    world_supply: list[WorldSupplyStage] = Field(
        default_factory=list, description="stages of world supply behind the node (world-supply dimension)")
    baskets: dict[str, Names] = Field(
        default_factory=dict,
        description="basket codes among hs_codes -> what else each carries besides the node's product, "
                    "as a phrase starting 'also ...' / '还包括…'")
    keywords: Keywords = Field(
        default_factory=Keywords,
        description="words naming the node's product in announcements (policy-event mapping)")

    def basket_note(self) -> tuple[str, str] | None:
        """A short English and Chinese phrase saying the node is measured through basket codes.

        None when no code is a basket. "partly" when some of the node's codes are not
        baskets. The lead engineer appends it to the node's drivers, so a reader of an
        assessment sees the caveat next to the number it qualifies.
        """
        if not self.baskets:
            return None
        codes = [code for code in self.hs_codes if code in self.baskets]  # catalog order, not dict order
        partly = len(codes) < len(self.hs_codes)
        en_parts = [f"HS {code} ({self.baskets[code].en})" for code in codes]
        zh_parts = [f"HS {code}（{self.baskets[code].zh}）" for code in codes]
        en_how = f"measured {'partly ' if partly else ''}through basket{'s' if len(codes) > 1 else ''}"
        zh_how = "部分通过" if partly else "通过"
        return f"{en_how} {'; '.join(en_parts)}", f"{zh_how} {'、'.join(zh_parts)}篮子税目测度"


class Chain(StrictModel):
    """A key industrial chain (重点产业链) and its accountability (链长制)."""

    id: Identifier
    name: Names
    owner: Person = Field(description="chain chief (链长)")
    lead_department: str = Field(min_length=1, description="牵头部门")
    co_departments: list[str] = Field(default_factory=list, description="责任部门")
    chain_leader_firm: str | None = Field(default=None, description="链主 (core enterprise)")
    contacts: list[Contact] = Field(default_factory=list)
    receivers: list[str] = Field(
        default_factory=list, description="receivers (alerts.yaml) for this chain's alerts"
    )
    nodes: list[Node] = Field(min_length=1)
    detector_threshold: float | None = Field(
        default=None, gt=0, le=20,
        description="disruption-engine threshold (z units) of this chain's nodes that set none; unset: "
                    "assessment.detector.threshold")

    def detector_threshold_of(self, node: Node, default: float) -> float:
        """The threshold that judges ``node``'s series: its own, else the chain's, else ``default``."""
        for value in (node.detector_threshold, self.detector_threshold):
            if value is not None:
                return value
        return default

    @model_validator(mode="after")
    def _graph_is_sound(self) -> "Chain":
        ids = [n.id for n in self.nodes]
        seen: set[str] = set()
        for i, node_id in enumerate(ids):
            if node_id in seen:
                raise ValueError(f"nodes[{i}].id: duplicate node id {node_id!r}")
            seen.add(node_id)
        for i, node in enumerate(self.nodes):
            for j, dep in enumerate(node.depends_on):
                if dep not in seen:
                    raise ValueError(
                        f"nodes[{i}].depends_on[{j}]: {dep!r} is not a node of chain {self.id!r}"
                    )
                if dep == node.id:
                    raise ValueError(f"nodes[{i}].depends_on[{j}]: node {dep!r} depends on itself")
            for code in node.baskets:
                # A note on a code the node does not measure would put a caveat on the wrong number.
                if code not in node.hs_codes:
                    raise ValueError(
                        f"nodes[{i}].baskets: HS {code!r} is not one of the hs_codes of node {node.id!r} "
                        f"in chain {self.id!r} ({', '.join(node.hs_codes)})")
        cycle = _find_cycle({n.id: n.depends_on for n in self.nodes})
        if cycle:
            raise ValueError("dependency cycle: " + " -> ".join(cycle))
        return self


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle of the graph as a list of node ids (first repeated last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in edges:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


class Catalog(StrictModel):
    """``chains.yaml``: whose supply security is watched, and the chains."""

    home: str = Field(description="ISO 3166-1 alpha-3 code of the watched economy, or EU27")
    chains: list[Chain] = Field(min_length=1)

    @field_validator("home")
    @classmethod
    def _home_is_an_economy(cls, value: str) -> str:
        import pycountry

        if value == "EU27" or pycountry.countries.get(alpha_3=value) is not None:
            return value
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 country code or EU27")

    @model_validator(mode="after")
    def _unique_chain_ids(self) -> "Catalog":
        seen: set[str] = set()
        for i, chain in enumerate(self.chains):
            if chain.id in seen:
                raise ValueError(f"chains[{i}].id: duplicate chain id {chain.id!r}")
            seen.add(chain.id)
        return self

    def input_problems(self) -> list[str]:
        """Every ``inputs`` reference must name a catalog node; the whole network
        (``depends_on`` and ``inputs``) must have no cycle. One line per problem (the
        loader prefixes ``chains.yaml: ``; ``check-config`` prints them)."""
        keys = {f"{c.id}/{n.id}" for c in self.chains for n in c.nodes}
        problems: list[str] = []
        edges: dict[str, list[str]] = {}
        for i, chain in enumerate(self.chains):
            for j, node in enumerate(chain.nodes):
                key = f"{chain.id}/{node.id}"
                edges[key] = [f"{chain.id}/{dep}" for dep in node.depends_on]
                for k, inp in enumerate(node.inputs):
                    where = f"chains[{i}].nodes[{j}].inputs[{k}].node"
                    if inp.node not in keys:
                        problems.append(f"{where}: {inp.node!r} is not a node of the catalog")
                    elif inp.node == key:
                        problems.append(f"{where}: node {key!r} consumes itself")
                    else:
                        edges[key].append(inp.node)
        cycle = _find_cycle(edges) if not problems else None
        if cycle:
            problems.append("inputs: supply-network cycle: " + " -> ".join(cycle))
        return problems

    def chain(self, chain_id: str) -> Chain:
        """The chain with this id (KeyError if absent)."""
        for chain in self.chains:
            if chain.id == chain_id:
                return chain
        raise KeyError(chain_id)


class DemoSource(StrictModel):
    """The embedded, deterministic simulator (offline default)."""

    id: Identifier = "demo"
    kind: Literal["demo"]
    schedule: Cron = "0 3 * * *"
    seed: int = 20230224
    start: str = Field(default="2016-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    end: str = Field(default="2025-12", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


_MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _HttpSource(StrictModel):
    """Settings every network source shares (see ``monitor/collect/http.py``).

    The API key is never written in YAML: ``api_key_env`` names the environment
    variable the loader reads it from (unset or empty: the source's key-less mode).
    """

    id: Identifier
    schedule: Cron = "0 4 * * *"
    base_url: str = Field(pattern=r"^https?://[^\s]+$", description="API root; change it for mirrors, proxies, tests")
    start: str = Field(default="2015-01", pattern=_MONTH_PATTERN, description="first period of a backfill")
    lookback_months: int = Field(default=12, ge=0, le=240, description="re-fetched recent months (revisions)")
    timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="read timeout per request")
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_attempts: int = Field(default=5, ge=1, le=20, description="attempts per request (1 = no retry)")
    backoff_seconds: float = Field(default=2.0, ge=0, le=600, description="first retry delay; doubles each retry")
    rate_per_second: float = Field(default=1.0, gt=0, le=100, description="token-bucket refill rate")
    burst: int = Field(default=1, ge=1, le=100, description="token-bucket size")
    api_key_env: str | None = Field(default=None, pattern=_ENV_NAME, description="env var holding the API key")
    api_key: SecretStr | None = Field(default=None, description="filled by the loader from api_key_env")

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class SeriesMapping(StrictModel):
    """One upstream series and where it lands in chainwatch."""

    id: str = Field(min_length=1, description="the source's own series id / code")
    series_id: str | None = Field(default=None, description="chainwatch series id (default: <source>.<id>)")
    unit: str = "index"
    description: str | None = None
    chain: Identifier | None = None
    node: Identifier | None = None
    allow_negative: Flag = Field(default=False, description="keep negative values (growth rates, balances)")


class MirrorSettings(StrictModel):
    """Partner-reported (mirror) flows standing in for periods the reporter has not reported.

    The home economy's imports from a partner are read from the partner's exports to it
    (and its exports from the partner's imports). Imports are valued CIF, exports FOB, so
    a mirror import is the partner's FOB export times ``cif_fob_factor`` (a mirror export
    the partner's CIF import divided by it). The IMF's Direction of Trade Statistics
    estimates non-reporters' trade from partner data with a CIF/FOB factor of 1.06
    (DOTS Yearbook 2017, "Introduction"; 1.10 in earlier editions).
    """

    partners: list[str] = Field(
        default_factory=list,
        description="ISO alpha-3 partners whose reports fill the gaps; empty: every reporting partner (a "
                    "complete month; a list gives a month covering only those partners, smaller than a reported one)")
    cif_fob_factor: float | None = Field(
        default=None, ge=1.0, le=1.5,
        description="CIF/FOB adjustment of mirror values, e.g. 1.06 (IMF DOTS); unset: not adjusted")


class ComtradeSource(_HttpSource):
    """UN Comtrade API v1: bilateral flows by HS code (preview without key, data with key)."""

    kind: Literal["comtrade"]
    base_url: str = Field(default="https://comtradeapi.un.org", pattern=r"^https?://[^\s]+$")
    api_key_env: str | None = Field(default="COMTRADE_API_KEY", pattern=_ENV_NAME)
    frequency: Literal["M", "A"] = "M"
    reporters: list[str] = Field(default_factory=list, description="ISO alpha-3; empty: the catalog's home")
    partners: list[str] = Field(default_factory=list, description="ISO alpha-3; empty: every partner")
    flows: list[Literal["M", "X"]] = Field(default_factory=lambda: ["M"], min_length=1)
    products: list[HsCode] = Field(default_factory=list, description="empty: every HS code of the catalog")
    products_per_request: int = Field(default=5, ge=1, le=50)
    periods_per_request: int = Field(default=12, ge=1, le=12)
    max_records: int | None = Field(default=None, ge=1, description="default: 500 (preview) / 100000 (key)")
    rate_per_second: float = Field(default=1.0, gt=0, le=100)
    mirror: MirrorSettings | None = Field(
        default=None, description="fill the reporter's missing periods from partner-reported flows (marked)")


class FredSource(_HttpSource):
    """FRED: series observations API (key) or the key-less fredgraph.csv download."""

    kind: Literal["fred"]
    base_url: str = Field(default="https://api.stlouisfed.org", pattern=r"^https?://[^\s]+$")
    graph_url: str = Field(default="https://fred.stlouisfed.org", pattern=r"^https?://[^\s]+$",
                           description="host of fredgraph.csv, used without a key")
    api_key_env: str | None = Field(default="FRED_API_KEY", pattern=_ENV_NAME)
    series: list[SeriesMapping] = Field(min_length=1)
    rate_per_second: float = Field(default=1.0, gt=0, le=2, description="FRED allows 120 requests/minute")


class WorldBankIndicator(StrictModel):
    """One World Bank indicator for some economies."""

    indicator: str = Field(min_length=1, description="e.g. NV.IND.MANF.KD")
    countries: list[str] = Field(min_length=1, description="ISO alpha-3 (or WLD)")
    unit: str = ""
    chain: Identifier | None = None
    node: Identifier | None = None
    allow_negative: Flag = False


class FederalRegisterSource(_HttpSource):
    """US Federal Register documents of the agencies that issue export controls and sanctions.

    Read by ``monitor/collect/federal_register.py``; no key (docs/sources/federal_register.md). Its
    batches carry events, not observations: ``start`` is the first month of a backfill and
    ``lookback_months`` the months re-read before the latest stored publication day.
    """

    kind: Literal["federal_register"]
    base_url: str = Field(default="https://www.federalregister.gov", pattern=r"^https?://[^\s]+$")
    agencies: list[Annotated[str, Field(pattern=r"^[a-z-]+$")]] = Field(
        default_factory=lambda: ["industry-and-security-bureau", "foreign-assets-control-office"],
        min_length=1, description="Federal Register agency slugs")
    per_page: int = Field(default=100, ge=1, le=1000, description="documents per page (API maximum 1000)")


class FeedSource(_HttpSource):
    """An official announcement page's feed (RSS 2.0, Atom or JSON Feed), read as policy events.

    ``base_url`` is the feed's URL. Items carry no country or kind of their own, so the
    feed says who publishes (``issuer``, ``issuing_body``) and in which ``language``; an
    item's kind is read from its title (docs/events.md), else ``event_kind``.
    """

    kind: Literal["feed"]
    issuer: str = Field(pattern=r"^(?:[A-Z]{3}|EU)$", description="ISO alpha-3 of the publishing country, or EU")
    issuing_body: str = Field(default="", max_length=128)
    language: str = Field(default="en", min_length=2, max_length=16)
    affected: list[str] = Field(default_factory=lambda: ["*"], description="ISO alpha-3; * = every destination")
    event_kind: Literal["export_ban", "sanction", "licensing", "outage", "tariff", "listing", "notice"] = Field(
        default="notice", description="kind of an item whose title names none")


class WorldBankSource(_HttpSource):
    """World Bank Indicators API v2 (JSON, paged; annual values stored as January)."""

    kind: Literal["worldbank"]
    base_url: str = Field(default="https://api.worldbank.org/v2", pattern=r"^https?://[^\s]+$")
    indicators: list[WorldBankIndicator] = Field(min_length=1)
    per_page: int = Field(default=1000, ge=1, le=32500)
    schedule: Cron = "0 5 * * 1"


class EurostatDataset(StrictModel):
    """One Eurostat dataset query: fixed dimension filters, one series per remaining combination."""

    dataset: str = Field(min_length=1, description="e.g. sts_inpr_m")
    filters: dict[str, str | list[str]] = Field(default_factory=dict, description="dimension -> code(s)")
    unit: str = "index"
    chain: Identifier | None = None
    node: Identifier | None = None
    allow_negative: Flag = False


class EurostatSource(_HttpSource):
    """Eurostat Statistics API, JSON-stat 2.0 (observations series)."""

    kind: Literal["eurostat"]
    base_url: str = Field(default="https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data",
                          pattern=r"^https?://[^\s]+$")
    datasets: list[EurostatDataset] = Field(min_length=1)


class CensusSource(_HttpSource):
    """US Census international trade time series: US imports/exports by HS code and country."""

    kind: Literal["census"]
    base_url: str = Field(default="https://api.census.gov/data/timeseries/intltrade",
                          pattern=r"^https?://[^\s]+$")
    api_key_env: str | None = Field(default="CENSUS_API_KEY", pattern=_ENV_NAME)
    flows: list[Literal["M", "X"]] = Field(default_factory=lambda: ["M"], min_length=1)
    products: list[HsCode] = Field(default_factory=list, description="empty: every HS code of the catalog")
    start: str = Field(default="2013-01", pattern=_MONTH_PATTERN, description="the API starts in 2013-01")


class ComextSource(_HttpSource):
    """Eurostat Comext (EU trade by HS code and partner), JSON-stat 2.0 from the Comext dissemination API."""

    kind: Literal["comext"]
    base_url: str = Field(default="https://ec.europa.eu/eurostat/api/comext/dissemination/statistics/1.0/data",
                          pattern=r"^https?://[^\s]+$")
    dataset: str = Field(default="ds-045409", pattern=r"^[A-Za-z0-9_-]+$",
                         description="ds-045409: EU trade since 1988 by HS2-4-6 and CN8")
    rates_base_url: str = Field(
        default="https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data", pattern=r"^https?://[^\s]+$",
        description="Eurostat Statistics API serving ert_bil_eur_m (monthly average USD per EUR)")
    reporters: list[str] = Field(default_factory=list, description="ISO alpha-3 member states or EU27; "
                                                                   "empty: the catalog's home")
    partners: list[str] = Field(default_factory=list, description="ISO alpha-3; empty: every partner")
    flows: list[Literal["M", "X"]] = Field(default_factory=lambda: ["M"], min_length=1)
    products: list[HsCode] = Field(default_factory=list, description="empty: every HS code of the catalog")
    products_per_request: int = Field(default=5, ge=1, le=50)
    periods_per_request: int = Field(default=12, ge=1, le=120, description="months per request")
    start: str = Field(default="2015-01", pattern=_MONTH_PATTERN)
    schedule: Cron = "0 6 * * 3"


class FileSource(StrictModel):
    """A CSV, JSON or Parquet file (path or http(s) URL) with a column mapping onto a chainwatch table.

    ``columns`` maps contract columns (``series_id, period, value`` or ``reporter,
    partner, product, flow, period, value, quantity``) to the file's column names;
    ``constants`` fills contract columns the file lacks (e.g. ``reporter: CHN``).
    ``columns`` may also map ``estimate_flags`` (optional) to a column of estimate
    flags, and ``released`` dates the release the file holds (docs/provenance.md).
    """

    id: Identifier
    kind: Literal["file"]
    schedule: Cron = "0 4 * * *"
    location: str = Field(min_length=1, description="file path or http(s) URL")
    format: Literal["csv", "json", "parquet"] = "csv"
    table: Literal["observations", "trade_flows"]
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    records_path: str | None = Field(default=None, description="JSON: dotted path to the list of records")
    country_codes: Literal["iso3", "iso2", "m49", "name"] = "iso3"
    value_scale: float = Field(default=1.0, gt=0, description="multiplies values, e.g. 1000 for thousands")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    unit: str = ""
    allow_negative: Flag = Field(default=False, description="observations: keep negative values (e.g. the GSCPI)")
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_attempts: int = Field(default=3, ge=1, le=20)
    released: date | None = Field(
        default=None, description="publication date of the release the file holds (e.g. USGS MCS 2024: "
                                  "2024-01-31): of two releases giving the same period, the later-released "
                                  "one is read, whichever was loaded last (default: the loading time counts)")


class UsgsSource(StrictModel):
    """USGS Mineral Commodity Summaries world files (``mcsYYYY-<code>_world.csv``), local.

    ``location``: a directory (searched for world files, not recursively) or a list
    of files/directories. ``commodities``: the commodity codes to keep (``lithi``,
    ``cobal``, ``galli``...; empty: every file found). ``released`` overrides the
    publication date of a release (``MCS2024: 2024-03-06``); by default
    :data:`monitor.collect.usgs.MCS_RELEASE_DATES`. See docs/sources/usgs.md.
    """

    series_prefix: ClassVar[str] = "usgs"
    id: Identifier
    kind: Literal["usgs"]
    schedule: Cron = "0 5 1 * *"
    location: str | list[str] = Field(min_length=1, description="directory or files of USGS MCS world CSVs")
    commodities: list[Annotated[str, Field(pattern=r"^[a-z]{3,6}(-[a-z]{3,6})?$")]] = Field(
        default_factory=list, description="MCS commodity codes of the file names, mostly 5 letters (lithi), also "
                                          "gold, tin, mgcomp, zirco-hafni; empty: all files found")
    reserves: Flag = Field(default=True, description="also store reserves (stage 'reserves')")
    released: dict[Annotated[str, Field(pattern=r"^MCS\d{4}$")], date] = Field(
        default_factory=dict, description="release date per MCS release, overriding the built-in table")


ETO_PROVISION_RELEASED = date(2022, 9, 13)
"""Date of the last data commit of the CSET/ETO ``provision.csv`` (the market shares)."""


class EtoChipsSource(StrictModel):
    """CSET/ETO Chip Explorer files (``provision.csv``, ``providers.csv``, ``inputs.csv``,
    ``stages.csv``), local: world market shares by country of semiconductor inputs and
    stages. Licensed CC BY-NC 4.0, so never shipped: ``location`` is a directory the user
    downloaded them to (empty: not supplied; the source then fails saying how to get
    them). See docs/sources/eto.md.
    """

    series_prefix: ClassVar[str] = "eto"
    id: Identifier
    kind: Literal["eto_chips"]
    schedule: Cron = "0 5 1 * *"
    location: str = Field(default="", description="directory of the ETO data/*.csv files; empty: not supplied")
    year: int = Field(default=2019, ge=1990, le=2100,
                      description="the year the shares describe (the CSET report's market data: 2019)")
    released: date = Field(default=ETO_PROVISION_RELEASED,
                           description="publication date of the shares (last data commit of provision.csv)")


SourceConfig = Annotated[
    DemoSource | ComtradeSource | FredSource | WorldBankSource | EurostatSource | CensusSource | ComextSource
    | FileSource | UsgsSource | EtoChipsSource | FederalRegisterSource | FeedSource,
    Field(discriminator="kind"),
]


class SourcesFile(StrictModel):
    """``sources.yaml``: where observations come from."""

    sources: list[SourceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "SourcesFile":
        seen: set[str] = set()
        for i, src in enumerate(self.sources):
            if src.id in seen:
                raise ValueError(f"sources[{i}].id: duplicate source id {src.id!r}")
            seen.add(src.id)
        return self


class LevelThresholds(StrictModel):
    """Lowest score (0–100) of each early-warning level; below ``blue`` is ``none``."""

    blue: float = 25.0
    yellow: float = 50.0
    orange: float = 70.0
    red: float = 85.0

    @model_validator(mode="after")
    def _increasing(self) -> "LevelThresholds":
        values = [self.blue, self.yellow, self.orange, self.red]
        if values != sorted(values) or len(set(values)) != 4:
            raise ValueError("level thresholds must increase: blue < yellow < orange < red")
        if not (0 <= self.blue and self.red <= 100):
            raise ValueError("level thresholds must lie in [0, 100]")
        return self


class DetectorSettings(StrictModel):
    """Sensitivity of the two-stage disruption engine (indicators/disruption_engine.py)."""

    threshold: float = Field(
        default=3.5, gt=0, le=20,
        description="|score| (z units, weaker of screen and model) that flags a month; 3.5 gave 1.9 false "
                    "alarms per 100 series-years on the evaluation set")
    max_lag: int = Field(default=3, ge=1, le=12, description="longest window (months) of a level shift")
    max_history_months: int = Field(default=120, ge=48, le=120, description="months the confirmation model sees")


class PartnerShareSettings(StrictModel):
    """Sensitivity of the partner-share-collapse detector (indicators/partner_share.py)."""

    drop_points: float = Field(default=20.0, gt=0, le=100, description="fall of the main partner's share, points")
    window_months: int = Field(default=12, ge=3, le=60, description="trailing window of the average share")
    min_share: float = Field(default=0.2, gt=0, le=1, description="a main partner has at least this average share")


def _placeholders(allowed: tuple[str, ...]):
    """A validator: the text may use only these ``{name}`` placeholders (str.format)."""
    def check(value: str | None) -> str | None:
        if value is None:
            return value
        try:
            value.format(**{name: "x" for name in allowed})
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"{value!r} may only use the placeholders {', '.join('{' + a + '}' for a in allowed)}") \
                from None
        return value
    return AfterValidator(check)


def _anchor_list(direction: str):
    """A validator of ``[[value, score], ...]`` anchors (indicators.dimension_scores.check_anchors)."""
    def check(value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return list(dimension_scores.check_anchors(value, "anchors", direction))
    return AfterValidator(check)


class DependenceSettings(StrictModel):
    """Import dependence: net-import ratio (M - X) / (M + X) of the node's HS codes over the window."""

    enabled: Flag = True
    anchors: Annotated[list[tuple[float, float]], _anchor_list("increasing")] = Field(
        default_factory=lambda: list(dimension_scores.NET_IMPORT_RATIO_ANCHORS),
        description="[net-import ratio, score] knots; see indicators/dimension_scores.py")
    bloc: list[str] | None = Field(
        default=None,
        description="ISO alpha-3 partners inside the home economy's bloc (intra-bloc trade, EU test criterion 2); "
                    "unset: the 27 EU members when home is EU27, else no bloc (criterion 2 not applicable)")


class PartnerRiskSettings(StrictModel):
    """Partner risk (decoupling): imports concentrated on partners with poor governance scores.

    ``series`` are observation ids with ``{partner}`` (ISO alpha-3), e.g. the World
    Bank WGI estimates ``wb.PV.EST.{partner}``; a partner's score is the mean of the
    configured indicators' latest values not older than ``max_age_months``.
    """

    enabled: Flag = True
    series: list[Annotated[str, Field(pattern=r"\{partner\}"), _placeholders(("partner",))]] = Field(
        default_factory=lambda: ["wb.PV.EST.{partner}", "wb.GE.EST.{partner}"], min_length=1,
        description="observation ids holding one partner's score; {partner} = ISO alpha-3")
    scale: Literal["wgi_estimate", "risk_score"] = Field(
        default="wgi_estimate",
        description="wgi_estimate: -2.5 (worst) .. 2.5, rescaled to risk 0-10; risk_score: already 0-10, 10 = riskiest")
    reference_score: float = Field(default=dimension_scores.WGI_REFERENCE_RISK, gt=0, le=10, description="risk score (0-10) of an average supplier")
    max_age_months: int = Field(default=36, ge=1, le=240, description="older partner scores are not used")
    min_coverage: float = Field(
        default=0.8, gt=0, le=1, description="share of the window's imports whose partner has a score, else missing")
    anchors: Annotated[list[tuple[float, float]], _anchor_list("increasing")] = Field(
        default_factory=lambda: list(dimension_scores.PARTNER_RISK_ANCHORS),
        description="[governance-relative HHI (0-1 scale), score] knots")


class LogisticsSettings(StrictModel):
    """Logistics pressure: a supply-chain pressure index in standard deviations (GSCPI-like)."""

    enabled: Flag = True
    series: Annotated[str | None, _placeholders(("chain", "node"))] = Field(
        default=None, min_length=1,
        description="observation id of the index; may hold {chain} and {node}; unset: dimension not measured")
    max_age_months: int = Field(default=3, ge=0, le=24, description="a latest value older than this is missing")
    anchors: Annotated[list[tuple[float, float]], _anchor_list("increasing")] = Field(
        default_factory=lambda: list(dimension_scores.LOGISTICS_PRESSURE_ANCHORS),
        description="[standard deviations, score] knots")


class ValueSettings(StrictModel):
    """Value: export/import unit-value ratio of the node's HS codes (unit-value gap, 低端锁定)."""

    enabled: Flag = True
    min_coverage: float = Field(
        default=0.5, ge=0, le=1, description="share of import and of export value that must report quantities")
    anchors: Annotated[list[tuple[float, float]], _anchor_list("decreasing")] = Field(
        default_factory=lambda: list(dimension_scores.UNIT_VALUE_RATIO_ANCHORS),
        description="[export/import unit-value ratio, score] knots (falling)")


class WorldSupplySettings(StrictModel):
    """World supply: where the world's output of the node's stages sits (docs/dimensions.md)."""

    enabled: Flag = True
    max_age_years: int = Field(
        default=5, ge=0, le=30, description="a latest world figure older than this many years is missing")


class DimensionSettings(StrictModel):
    """The exposure dimensions beside concentration and disruption (monitor/assess/dimensions.py)."""

    dependence: DependenceSettings = DependenceSettings()
    partner_risk: PartnerRiskSettings = PartnerRiskSettings()
    logistics: LogisticsSettings = LogisticsSettings()
    value: ValueSettings = ValueSettings()
    world_supply: WorldSupplySettings = WorldSupplySettings()


class AssessmentSettings(StrictModel):
    """How the assessment judges nodes."""

    schedule: Cron = "30 3 * * *"
    window_months: int = Field(default=12, ge=1, le=60, description="concentration window")
    min_partner_coverage: float = Field(
        default=0.8, gt=0, le=1,
        description="named partners' least share of the World total for a concentration score; below it the "
                    "dimension is missing (unknown), never risk")
    min_completeness: float = Field(
        default=0.5, ge=0, le=1,
        description="least share of a node's inputs with data for a level; below it the node is 'unknown' "
                    "(neither safe nor at risk) and raises no alert")
    min_history_months: int = Field(default=36, ge=24, le=240)
    levels: LevelThresholds = LevelThresholds()
    hysteresis_runs: int = Field(
        default=2, ge=1, le=24, description="consecutive runs below a level before it falls (1 = none)")
    propagation_factor: float = Field(
        default=0.8, ge=0, le=1, description="share of an upstream node's score its dependants inherit per hop")
    weakest_link_min_criticality: float = Field(
        default=0.8, gt=0, le=1, description="a node this critical at red puts its chain at least at orange")
    detector: DetectorSettings = DetectorSettings()
    partner_share: PartnerShareSettings = PartnerShareSettings()
    executor: Literal["serial", "local", "dask"] = Field(
        default="serial",
        description="where nodes are measured: serial (in process), local (process pool), "
                    "dask (partitions sent to the cluster at dask_scheduler)")
    workers: int | None = Field(
        default=None, ge=1, le=1024, description="processes of the local executor (default: the machine's cores)")
    dask_scheduler: str | None = Field(
        default=None, pattern=r"^(tcp|tls|inproc|ucx)://[^\s/]+$",
        description="address of the Dask scheduler, e.g. tcp://10.0.0.5:8786 (executor: dask)")
    partition_max_nodes: int = Field(
        default=50, ge=1, le=100000,
        description="largest group of one chain's nodes measured together (one database read each)")
    bilateral_series_top_partners: int = Field(
        default=0, ge=0, le=50,
        description="also judge each HS code x partner import flow of a node's N largest partners (0 = off)")
    dimensions: DimensionSettings = DimensionSettings()
    abandon_after_hours: float = Field(
        default=6, gt=0, le=720,
        description="a run still 'running' this long after it started is marked abandoned (its process died); "
                    "keep it well above the longest run")

    @model_validator(mode="after")
    def _history_fits(self) -> "AssessmentSettings":
        if self.detector.max_history_months < self.min_history_months:
            raise ValueError("detector.max_history_months must be at least min_history_months")
        if self.executor == "dask" and self.dask_scheduler is None:
            raise ValueError("dask_scheduler: required when executor is dask (e.g. tcp://host:8786)")
        return self


class ReportSettings(StrictModel):
    """The regular risk-assessment report."""

    schedule: Cron = Field(default="0 6 15 * *", description="cron; default monthly on day 15, 06:00 UTC")
    language: Literal["en", "zh"] = "en"
    out_dir: str = Field(default="reports", min_length=1, description="where scheduled reports are written")


class MetricsSettings(StrictModel):
    """What ``/metrics`` exports beyond the defaults."""

    top_partners: int = Field(
        default=0, ge=0, le=10,
        description="export each node's N largest partner shares (adds chain×node×N series; 0 = off)")


class ApiSettings(StrictModel):
    """The HTTP API under ``/api/v1`` (tokens come from ``CHAINWATCH_API_TOKENS``, never from YAML)."""

    read_requires_token: Flag = Field(
        default=False, description="true: GET endpoints need a bearer token too (mutating calls always do)")
    max_page_size: int = Field(default=500, ge=1, le=10000, description="largest accepted ?limit=")
    max_request_bytes: int = Field(
        default=65536, ge=1024, le=16 * 1024 * 1024,
        description="largest accepted request body; larger ones are answered 413 before they are read")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300,
        description="a connection whose request headers are not complete in this time is closed (slowloris)")


class SchedulerSettings(StrictModel):
    """Leadership and shutdown of ``chainwatch run``'s job scheduler."""

    leader_poll_seconds: float = Field(
        default=5.0, gt=0, le=300,
        description="how often a replica tries to take the leader lock (and the leader checks it still holds it); "
                    "takeover after a leader dies is bounded by this plus the database's connection-loss detection")
    shutdown_grace_seconds: float = Field(
        default=300.0, ge=0, description="on SIGTERM, how long a running job may take to finish before it is abandoned")
    dispatch_interval_seconds: float = Field(default=30.0, gt=0, description="notification dispatcher interval")
    bootstrap: Flag = Field(
        default=True, description="at start, collect, assess, run the stress suite and write a report "
                                  "when the database holds none of them (false: wait for the cron schedules)")
    stale_run_check_minutes: float = Field(
        default=60.0, gt=0, le=1440,
        description="how often the leader marks assessment runs left 'running' by a dead process as abandoned "
                    "(assessment.abandon_after_hours after their start), besides at each assessment")


class NodeBufferSettings(StrictModel):
    """A node's buffers and supply structure for stress tests (see indicators/stress.py).

    Every field is optional: unset fields inherit (settings default → settings node →
    scenario default → scenario node; later wins).
    """

    inventory_days: float | None = Field(default=None, ge=0, le=3650, description="stock, days of normal use")
    ramp_up_share_per_month: float | None = Field(
        default=None, ge=0, le=1, description="share of lost imports alternative suppliers add per month")
    alternative_capacity: float | None = Field(
        default=None, ge=0, le=100, description="extra shipments of unaffected partners, multiple of their volume")
    substitution_share: float | None = Field(default=None, ge=0, le=1, description="share of a gap met by substitutes")
    domestic_share: float | None = Field(default=None, ge=0, le=1, description="share of normal supply produced at home")
    input_dependence: float | None = Field(
        default=None, ge=0, le=1, description="share of domestic output that stops when inputs are short")
    kind: Literal["consumable", "capacity"] | None = Field(
        default=None, description="consumable (used up) or capacity (equipment: a cut delays capacity additions)")
    spare_capacity: float | None = Field(
        default=None, ge=0, le=1, description="spare capacity of the world's unaffected producers, share of output")
    capacity_growth_per_year: float | None = Field(
        default=None, ge=0, le=1, description="capacity nodes: consumer capacity a year of deliveries adds")
    world_shares: dict[str, float] | None = Field(
        default=None, description="ISO3 -> share of world supply at the node's binding stage (when no "
                                  "usgs.* output is stored for the node)")
    source: str | None = Field(
        default=None, min_length=1, description="where the node's assumptions come from, or 'illustrative'")

    @field_validator("world_shares")
    @classmethod
    def _shares_are_shares(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return value
        for country, share in value.items():
            if not 0 <= share <= 1:
                raise ValueError(f"{country}: a world share must lie in [0, 1], got {share!r}")
        if sum(value.values()) > 1.0 + 1e-9:
            raise ValueError(f"world shares add up to {sum(value.values()):.2f}, more than 1")
        return value


class BufferAssumptions(StrictModel):
    """Buffers for every node (``default``) and per node (keys ``chain/node``)."""

    default: NodeBufferSettings = NodeBufferSettings()
    nodes: dict[str, NodeBufferSettings] = Field(default_factory=dict, description="keys: chain/node")


class StressSettings(StrictModel):
    """Routine stress tests (常态化压力测试): when, which scenarios, when to alert."""

    schedule: Cron = Field(default="0 5 * * 1", description="cron; default Mondays 05:00 UTC")
    scenarios_dir: str = Field(default="scenarios", min_length=1,
                               description="directory of scenario files, relative to the config directory")
    alert_threshold: float = Field(default=70.0, ge=0, le=100,
                                   description="chain stress impact score (0-100) at or above which an alert fires")
    window_months: int = Field(default=12, ge=1, le=60, description="baseline: trailing months of imports averaged")
    buffers: BufferAssumptions = BufferAssumptions()


class ServiceSettings(StrictModel):
    """``settings.yaml``: the service as a whole."""

    assessment: AssessmentSettings = AssessmentSettings()
    report: ReportSettings = ReportSettings()
    metrics: MetricsSettings = MetricsSettings()
    stress: StressSettings = StressSettings()
    api: ApiSettings = ApiSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    external_url: str = "http://localhost:9464"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _check_matcher(text: str) -> str:
    from alerts.matchers import Matcher

    Matcher.parse(text)  # raises MatcherError (a ValueError) naming the text
    return text


MatcherText = Annotated[str, AfterValidator(_check_matcher)]


class _Receiver(StrictModel):
    """Settings every receiver kind shares.

    ``url`` and ``secret`` are secrets (chat webhook URLs carry their token): set
    them with ``${VAR}`` from the environment; they never print. An unset URL turns
    the receiver off.
    """

    name: Identifier
    url: SecretStr | None = None
    secret: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_attempts: int = Field(default=5, ge=1, le=100)
    max_age: Duration = Field(default=timedelta(hours=24), description="older undelivered messages are dead-lettered")
    language: Literal["en", "zh"] = "en"

    @field_validator("url", "secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value.get_secret_value()):
            raise ValueError("is not an http(s) URL (value not shown: it may hold a token)")
        return value

    @field_validator("max_age")
    @classmethod
    def _positive_age(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("max_age must be positive")
        return value


class WebhookReceiver(_Receiver):
    """Generic JSON webhook (Alertmanager-compatible body, see docs/webhooks.md)."""

    kind: Literal["webhook"]


class AlertmanagerReceiver(_Receiver):
    """A Prometheus Alertmanager: alerts are POSTed to ``<url>/api/v2/alerts``."""

    kind: Literal["alertmanager"]
    resend_interval: Duration = Field(default=timedelta(minutes=5),
                                      description="firing alerts are re-posted this often (they are alive while "
                                                  "re-posted)")
    validity: Duration | None = Field(default=None,
                                      description="endsAt of firing alerts = send time + validity; default "
                                                  "4 x resend_interval; at least resend_interval")

    @model_validator(mode="after")
    def _validity_covers_resends(self) -> "AlertmanagerReceiver":
        if self.resend_interval <= timedelta(0):
            raise ValueError("resend_interval must be positive")
        if self.validity is None:
            object.__setattr__(self, "validity", self.resend_interval * 4)
        elif self.validity < self.resend_interval:
            raise ValueError(
                f"validity {self.validity} is shorter than resend_interval {self.resend_interval}: Alertmanager "
                "would resolve firing alerts between two re-posts (use several resend intervals, e.g. 4x)")
        return self


class ChatReceiver(_Receiver):
    """Slack, Feishu, DingTalk or WeCom robot webhook (markdown messages)."""

    kind: Literal["slack", "feishu", "dingtalk", "wecom"]
    max_bytes: int | None = Field(default=None, ge=256, description="message size cap; default: the platform's")
    rate_per_minute: int | None = Field(default=None, ge=1, le=6000,
                                        description="at most the platform's (the default): DingTalk, WeCom 20, "
                                                    "Feishu 100, Slack 60")
    mentions: list[str] = Field(default_factory=list,
                                description="who each message @mentions: DingTalk mobile numbers or user ids, "
                                            "Feishu open_ids (ou_...), WeCom user ids")
    mention_all: Flag = Field(default=False, description="@mention everyone (DingTalk, Feishu)")

    @model_validator(mode="after")
    def _platform_limits(self) -> ChatReceiver:
        from alerts.ratelimit import CHAT_LIMITS

        platform = {"slack": "Slack", "feishu": "Feishu", "dingtalk": "DingTalk", "wecom": "WeCom"}[self.kind]
        per_minute = min(n for n, seconds in CHAT_LIMITS[self.kind] if seconds == 60.0)
        if self.rate_per_minute is not None and self.rate_per_minute > per_minute:
            raise ValueError(f"rate_per_minute {self.rate_per_minute} is above {platform}'s limit of "
                             f"{per_minute} messages a minute per bot")
        if (self.mentions or self.mention_all) and self.kind == "slack":
            raise ValueError("mentions and mention_all are not supported for slack receivers "
                             "(Slack incoming webhooks mention with <@U...> in the text only)")
        if self.mention_all and self.kind == "wecom":
            raise ValueError("mention_all is not supported for wecom receivers (WeCom markdown cannot "
                             "mention everyone); list the user ids in mentions")
        bad = [m for m in self.mentions if not m or any(c.isspace() or c in "<>" for c in m)]
        if bad:
            raise ValueError(f"mentions must be ids or mobile numbers without spaces or <>, got {bad[0]!r}")
        return self


ReceiverConfig = Annotated[WebhookReceiver | AlertmanagerReceiver | ChatReceiver, Field(discriminator="kind")]

_Level = Literal["blue", "yellow", "orange", "red"]
_Severity = Literal["info", "warning", "critical"]


class AlertRule(StrictModel):
    """One alert rule.

    ``kind: level`` (default) fires while a chain's or node's level is at least
    ``min_level``; ``level_change`` when it rose to at least ``min_level`` since the
    previous assessment; ``finding`` for detector findings of the listed ``kinds``.
    ``for``: consecutive assessments the condition must hold before firing;
    ``keep_firing_for``: assessments a firing alert stays firing after the condition
    stopped; ``severity``: overrides the file's level → severity map for this rule.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Identifier
    kind: Literal["level", "level_change", "exposure_change", "finding"] = "level"
    scope: Literal["chain", "node"] | None = None
    min_level: _Level | None = None
    kinds: list[str] = Field(default_factory=list, description="finding kinds, e.g. shock_down")
    for_runs: int = Field(default=1, ge=1, le=100, alias="for")
    keep_firing_for: int = Field(default=0, ge=0, le=100)
    severity: dict[_Level, _Severity] | None = None
    resolve_after: Duration | None = Field(
        default=None, description="finding rules (events): resolve a firing event alert this long after it "
                                  "started even if the finding persists")

    @model_validator(mode="after")
    def _fits_kind(self) -> "AlertRule":
        if self.resolve_after is not None and self.kind != "finding":
            raise ValueError("resolve_after: only finding (event) rules take resolve_after")
        if self.kind in ("level", "level_change", "exposure_change") and self.scope is None:
            raise ValueError(f"scope: a {self.kind} rule needs scope chain or node")
        if self.kind == "finding":
            if not self.kinds:
                raise ValueError("kinds: a finding rule needs at least one finding kind")
            if self.scope is not None:
                raise ValueError("scope: finding rules are about nodes; leave scope out")
        elif self.kinds:
            raise ValueError(f"kinds: only finding rules take kinds, this is a {self.kind} rule")
        return self


class EscalationConfig(StrictModel):
    """Also notify ``receiver`` about firing alerts nobody acknowledged within ``after``."""

    receiver: str
    after: Duration


class RouteConfig(StrictModel):
    """A node of the routing tree (Alertmanager's ``route``); unset fields inherit."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    matchers: list[MatcherText] = Field(default_factory=list, description='e.g. severity="critical"')
    receivers: list[str] | None = Field(default=None, description="unset at the root: the chain's own receivers")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    escalate: EscalationConfig | None = None
    continue_: Flag = Field(default=False, alias="continue")
    routes: list["RouteConfig"] = Field(default_factory=list)


class InhibitRuleConfig(StrictModel):
    """Mute alerts matching ``target_matchers`` while one matching ``source_matchers`` fires."""

    source_matchers: list[MatcherText] = Field(min_length=1)
    target_matchers: list[MatcherText] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class AlertsFile(StrictModel):
    """``alerts.yaml``: rules, receivers, the routing tree and inhibition."""

    receivers: list[ReceiverConfig] = Field(default_factory=list)
    rules: list[AlertRule] = Field(default_factory=list)
    default_receivers: list[str] = Field(
        default_factory=list, description="receivers for chains that name none"
    )
    severity: dict[_Level, _Severity] = Field(
        default_factory=lambda: {"blue": "info", "yellow": "warning", "orange": "critical", "red": "critical"}
    )
    route: RouteConfig = RouteConfig()
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    resolved_retention: Duration = Field(default=timedelta(days=30), description="resolved alerts kept this long")

    @model_validator(mode="after")
    def _names(self) -> "AlertsFile":
        names: set[str] = set()
        for i, rcv in enumerate(self.receivers):
            if rcv.name in names:
                raise ValueError(f"receivers[{i}].name: duplicate receiver {rcv.name!r}")
            names.add(rcv.name)
        for i, name in enumerate(self.default_receivers):
            if name not in names:
                raise ValueError(f"default_receivers[{i}]: unknown receiver {name!r}")
        rule_names: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in rule_names:
                raise ValueError(f"rules[{i}].name: duplicate rule {rule.name!r}")
            rule_names.add(rule.name)

        def check_route(route: RouteConfig, path: str) -> None:
            for j, name in enumerate(route.receivers or []):
                if name not in names:
                    raise ValueError(f"{path}.receivers[{j}]: unknown receiver {name!r}")
            if route.escalate is not None and route.escalate.receiver not in names:
                raise ValueError(f"{path}.escalate.receiver: unknown receiver {route.escalate.receiver!r}")
            for j, child in enumerate(route.routes):
                check_route(child, f"{path}.routes[{j}]")

        check_route(self.route, "route")
        return self


class Config(StrictModel):
    """All of chainwatch's configuration, validated together."""

    catalog: Catalog
    sources: SourcesFile
    settings: ServiceSettings
    alerts: AlertsFile
    config_hash: str = Field(description="sha256 of the raw config files, for run provenance")
    directory: str | None = Field(default=None, description="where the files were read; settings' relative paths resolve here")
