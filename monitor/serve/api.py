"""The JSON API under ``/api/v1``: routers, auth, pagination and the one error shape.

Conventions (also visible in ``/openapi.json``):

* **Errors** always have the body ``{"error": {"code": "...", "message": "..."}}``;
  codes: ``unauthorized``, ``not_found``, ``invalid_request``, ``conflict``,
  ``payload_too_large`` (413: body over ``api.max_request_bytes``), ``internal``.
* **Auth**: ``Authorization: Bearer <token>``; tokens come from the environment
  variable ``CHAINWATCH_API_TOKENS`` (comma-separated) and are compared in constant
  time. Every mutating call (POST, DELETE) needs one; GET calls need one only when
  ``api.read_requires_token`` is true in ``settings.yaml``. Without any configured
  token, mutating calls are refused.
* **Pagination**: list endpoints take ``limit`` (1..``api.max_page_size``, default
  100) and ``offset`` (default 0) and return ``{"items", "total", "limit",
  "offset", "next_offset"}``; ``next_offset`` is null on the last page. Items are in
  a stable order (newest first for runs, alerts and silences).
"""

# No ``from __future__ import annotations``: FastAPI must see the route signatures'
# types (some are local to build_api) as objects, not strings.
import hmac
import json
import logging
import math
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from alerts.matchers import Matcher
from indicators.events import Event
from monitor.telemetry import logs
from monitor.clock import Clock, as_utc, system_clock
from monitor.clock import parse_duration
from monitor.config.models import Config
from monitor.collect.base import CollectionError
from monitor.collect.event_files import event_from_row
from monitor.store import alert_store
from monitor.store import events as stored_events
from monitor.store.simulated_data import assessed_rows_simulated, assessed_series
from monitor.store.tables import AlertRecord, AssessmentRun, Finding, RiskScore

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
DEFAULT_PAGE_SIZE = 100
_MAX_INT = 2**31 - 1
_IDENT = r"^[A-Za-z0-9_.:-]{1,64}$"
_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


# --- errors -----------------------------------------------------------------------

class ApiError(Exception):
    """An error answered with the API's error body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class ErrorDetail(BaseModel):
    """What went wrong: a stable code and a human message."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "payload_too_large", 422: "invalid_request", 500: "internal", 503: "unavailable"}
# 400: a path with a NUL or control character, refused before routing (monitor/serve/request_limits.py)
ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 404, 422)}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error (ours, routing, validation, unexpected) with :class:`ErrorBody`."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, err: ApiError) -> JSONResponse:
        return _error(err.status, err.code, err.message, err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = err.detail if isinstance(err.detail, str) else json.dumps(err.detail)
        return _error(err.status_code, _CODES.get(err.status_code, "error"), message, getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        problems = []
        for item in err.errors():
            where = ".".join(str(p) for p in item.get("loc", ()))
            problems.append(f"{where}: {item.get('msg', 'invalid')}")
        return _error(422, "invalid_request", "; ".join(problems) or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, err: Exception) -> JSONResponse:
        log.error("unhandled error in HTTP request", exc_info=err)
        return _error(500, "internal", "internal error (see the service log for this request id)")


def install_request_ids(app: FastAPI) -> None:
    """Give each request an id (``X-Request-ID`` if the caller sent a sane one), log it, echo it."""
    access = logging.getLogger("chainwatch.http")

    @app.middleware("http")
    async def _request_id(request: Request, call_next: Callable) -> Any:
        given = request.headers.get("x-request-id", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = logs.request_id.set(rid)
        start = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            logs.request_id.reset(token)
        response.headers["X-Request-ID"] = rid
        # Scrapes and probes come every few seconds: keep them out of the INFO log.
        quiet = request.url.path in ("/metrics", "/healthz", "/readyz")
        access.log(logging.DEBUG if quiet else logging.INFO, "%s %s -> %d (%.1f ms)", request.method,
                   request.url.path, response.status_code, 1000 * (time.perf_counter() - start),
                   extra={"request_id": rid, "status": response.status_code})
        return response


# --- context and auth -------------------------------------------------------------

@dataclass
class ApiContext:
    """What the API reads and writes: config, database, clock and the bearer tokens."""

    config: Config
    sessions: sessionmaker[Session]
    tokens: Sequence[str] = ()
    clock: Clock = system_clock

    @property
    def report_dir(self) -> Path:
        """Where scheduled reports are written (``report.out_dir``)."""
        return Path(self.config.settings.report.out_dir)


_bearer = HTTPBearer(auto_error=False, description="a token from CHAINWATCH_API_TOKENS")


def _token_ok(given: str, tokens: Sequence[str]) -> bool:
    # Compare against every token, without stopping early, in constant time each.
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(given.encode(), token.encode())
    return ok


def _check_token(context: ApiContext, credentials: HTTPAuthorizationCredentials | None) -> None:
    challenge = {"WWW-Authenticate": "Bearer"}
    if not context.tokens:
        raise ApiError(401, "unauthorized", "this call needs a bearer token, and none is configured "
                       "(set CHAINWATCH_API_TOKENS and restart)", challenge)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)", challenge)
    if not _token_ok(credentials.credentials, context.tokens):
        raise ApiError(401, "unauthorized", "invalid bearer token", challenge)


def build_api(context: ApiContext) -> APIRouter:
    """Every ``/api/v1`` route, bound to ``context``."""
    api_settings = context.config.settings.api
    max_page = api_settings.max_page_size

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        _check_token(context, credentials)

    # Open reads declare no security in /openapi.json; protected ones declare the bearer scheme.
    if api_settings.read_requires_token:
        def read_access(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
            _check_token(context, credentials)
    else:
        def read_access() -> None:
            return None

    def page(limit: Annotated[int, Query(ge=1, le=max_page, description="page size")] = min(DEFAULT_PAGE_SIZE, max_page),
             offset: Annotated[int, Query(ge=0, le=_MAX_INT, description="items to skip")] = 0) -> PageParams:
        return PageParams(limit, offset)

    Paging = Annotated[PageParams, Depends(page)]
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(read_access)], responses=ERRORS)
    writes = [Depends(require_token)]

    # --- chains ---

    @router.get("/chains", response_model=Page[ChainSummary], tags=["chains"])
    def list_chains(paging: Paging) -> dict:
        """The watched chains with their latest chain score and level."""
        with context.sessions() as session:
            run, scores = _latest_scores(session)
            simulated = _simulated(session, context.config)
        items = [_chain_summary(chain, scores, run, simulated) for chain in context.config.catalog.chains]
        return paging.of(items)

    @router.get("/chains/{chain_id}", response_model=ChainDetail, tags=["chains"])
    def get_chain(chain_id: Annotated[str, PathParam(pattern=_IDENT)],
                  history: Annotated[int, Query(ge=1, le=1000, description="runs of score history")] = 24) -> dict:
        """A chain: its nodes with latest scores and drivers, and the chain score over past runs."""
        chain = next((c for c in context.config.catalog.chains if c.id == chain_id), None)
        if chain is None:
            raise ApiError(404, "not_found", f"no chain {chain_id!r}")
        with context.sessions() as session:
            run, scores = _latest_scores(session)
            past = session.execute(
                select(AssessmentRun.id, AssessmentRun.as_of, AssessmentRun.finished_at, RiskScore.score,
                       RiskScore.level)
                .join(RiskScore, RiskScore.run_id == AssessmentRun.id)
                .where(AssessmentRun.status == "succeeded", RiskScore.chain == chain_id, RiskScore.node == "",
                       RiskScore.dimension == "overall")
                .order_by(AssessmentRun.id.desc()).limit(history)).all()
            simulated = _simulated(session, context.config)
        summary = _chain_summary(chain, scores, run, simulated)
        nodes = []
        for node in chain.nodes:
            own = {d: s for (c, n, d), s in scores.items() if c == chain_id and n == node.id}
            overall = own.get("overall")
            nodes.append({
                "id": node.id, "name": node.name.model_dump(), "stage": node.stage, "criticality": node.criticality,
                "hs_codes": list(node.hs_codes), "depends_on": list(node.depends_on),
                **_score_fields(overall),
                "dimensions": {d: _dimension(s) for d, s in own.items() if d != "overall"},
            })
        chain_overall = scores.get((chain_id, "", "overall"))
        return {**summary, "drivers": _score_fields(chain_overall)["drivers"],
                "drivers_zh": _score_fields(chain_overall)["drivers_zh"],
                "contacts": [c.model_dump(include={"name", "role"}) for c in chain.contacts], "nodes": nodes,
                "history": [{"run_id": rid, "as_of": as_of, "finished_at": as_utc(fin), "score": _num(score),
                             "level": level} for rid, as_of, fin, score, level in past]}

    # --- findings ---

    @router.get("/findings", response_model=Page[FindingOut], tags=["findings"])
    def list_findings(
        paging: Paging,
        chain: Annotated[str | None, Query(pattern=_IDENT)] = None,
        node: Annotated[str | None, Query(pattern=_IDENT)] = None,
        method: Annotated[str | None, Query(pattern=_IDENT, description="detector (the finding's kind)")] = None,
        status: Annotated[str | None, Query(pattern=_IDENT, description="flagged, normal, missing, ...")] = None,
        period_from: Annotated[date | None, Query(description="first period (a date; its month counts)")] = None,
        period_to: Annotated[date | None, Query(description="last period (a date; its month counts)")] = None,
        run_id: Annotated[int | None, Query(ge=1, le=_MAX_INT, description="default: latest successful run")] = None,
    ) -> dict:
        """Detector findings of one run, filtered; ordered by chain, node, series and period."""
        with context.sessions() as session:
            if run_id is None:
                run_id = session.scalar(select(AssessmentRun.id).where(AssessmentRun.status == "succeeded")
                                        .order_by(AssessmentRun.id.desc()).limit(1))
                if run_id is None:
                    return paging.of([], 0)
            elif session.get(AssessmentRun, run_id) is None:
                raise ApiError(404, "not_found", f"no assessment run {run_id}")
            conditions = [Finding.run_id == run_id]
            for column, value in ((Finding.chain, chain), (Finding.node, node), (Finding.method, method),
                                  (Finding.status, status)):
                if value is not None:
                    conditions.append(column == value)
            if period_from is not None:
                conditions.append(Finding.period >= period_from.replace(day=1))
            if period_to is not None:
                conditions.append(Finding.period <= period_to.replace(day=1))
            total = session.scalar(select(func.count()).select_from(Finding).where(*conditions))
            rows = session.scalars(select(Finding).where(*conditions)
                                   .order_by(Finding.chain, Finding.node, Finding.series_id, Finding.period,
                                             Finding.method, Finding.id)
                                   .limit(paging.limit).offset(paging.offset)).all()
        return paging.of([_finding(r) for r in rows], total)

    # --- alerts ---

    @router.get("/alerts", response_model=Page[AlertOut], tags=["alerts"])
    def list_alerts(
        paging: Paging,
        state: Annotated[Literal["firing", "pending", "resolved"] | None, Query()] = None,
        chain: Annotated[str | None, Query(pattern=_IDENT)] = None,
        severity: Annotated[str | None, Query(pattern=_IDENT)] = None,
    ) -> dict:
        """Stored alerts, newest first."""
        with context.sessions() as session:
            query = select(AlertRecord).order_by(AlertRecord.starts_at.desc(), AlertRecord.fingerprint)
            if state is not None:
                query = query.where(AlertRecord.state == state)
            records = list(session.scalars(query))
        # labels are JSON (queried differently per backend); one row per alert keeps this small
        records = [r for r in records if (chain is None or r.labels.get("chain") == chain)
                   and (severity is None or r.labels.get("severity") == severity)]
        return paging.of([_alert(r) for r in records])

    @router.post("/alerts/{fingerprint}/ack", response_model=AlertOut, tags=["alerts"], dependencies=writes)
    def acknowledge(fingerprint: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.:-]{1,32}$")], body: AckIn) -> dict:
        """Acknowledge an alert's current episode (stops escalation and reminders)."""
        with context.sessions.begin() as session:
            if session.get(AlertRecord, fingerprint) is None:
                raise ApiError(404, "not_found", f"no alert with fingerprint {fingerprint!r}")
            record = alert_store.acknowledge(session, fingerprint, body.by, context.clock(), body.comment)
            return _alert(record)

    # --- silences ---

    @router.get("/silences", response_model=Page[SilenceOut], tags=["silences"])
    def list_silences(paging: Paging, include_expired: bool = False) -> dict:
        """Pending and active silences (``include_expired`` for all), latest end first."""
        now = context.clock()
        with context.sessions() as session:
            silences = alert_store.list_silences(session, now, include_expired)
        return paging.of([_silence(s, now) for s in silences])

    @router.post("/silences", response_model=SilenceOut, status_code=201, tags=["silences"], dependencies=writes)
    def create_silence(body: SilenceIn) -> dict:
        """Mute notifications of alerts matching every matcher, from ``starts_at`` until ``ends_at``."""
        now = context.clock()
        try:
            matchers = [Matcher.parse(m) for m in body.matchers]
            starts = _utc(body.starts_at) if body.starts_at else now
            if body.ends_at is not None:
                ends = _utc(body.ends_at)
            else:
                ends = starts + parse_duration(body.duration or "2h")
            if ends <= now:
                raise ValueError("the silence would already have ended")
            with context.sessions.begin() as session:
                silence = alert_store.add_silence(session, matchers, starts, ends, body.created_by, body.comment, now)
        except (ValueError, OverflowError) as err:
            raise ApiError(422, "invalid_request", str(err)) from None
        return _silence(silence, now)

    @router.delete("/silences/{silence_id}", response_model=SilenceOut, tags=["silences"], dependencies=writes)
    def expire_silence(silence_id: Annotated[str, PathParam(pattern=r"^[0-9a-f-]{36}$")]) -> dict:
        """Expire a silence now (it stays listed with ``include_expired``)."""
        now = context.clock()
        try:
            with context.sessions.begin() as session:
                silence = alert_store.expire_silence(session, silence_id, now)
        except alert_store.UnknownAlertError:
            raise ApiError(404, "not_found", f"no silence {silence_id!r}") from None
        return _silence(silence, now)

    # --- policy events (docs/events.md) ---

    @router.get("/events", response_model=Page[EventOut], tags=["events"])
    def list_events(paging: Paging) -> dict:
        """Stored events, one per family (repeats and amendments folded in), newest announcement first."""
        with context.sessions() as session:
            events = stored_events.load_events(session)
        return paging.of([_event_out(e) for e in reversed(events)])

    @router.post("/events", response_model=EventSaved, status_code=201, tags=["events"], dependencies=writes)
    def add_event(body: EventIn) -> dict:
        """Store one event an analyst reports (source ``analyst``); a repeat of a stored measure is linked to it."""
        row = body.model_dump(exclude={"affected", "hs_codes", "announced", "effective"})
        row |= {"announced": body.announced.isoformat(),
                "effective": body.effective.isoformat() if body.effective else "",
                "affected": ";".join(body.affected), "hs_codes": ";".join(body.hs_codes)}
        try:
            event = event_from_row({k: str(v) for k, v in row.items()}, "request body", "analyst")
        except CollectionError as err:
            raise ApiError(422, "invalid_request", str(err)) from None
        with context.sessions.begin() as session:
            saved = stored_events.save_events(session, [event], context.clock())
        return {"event_id": event.event_id, "created": saved.new == 1, "linked": saved.linked == 1}

    # --- assessment runs ---

    @router.get("/runs", response_model=Page[RunOut], tags=["runs"])
    def list_runs(paging: Paging,
                  status: Annotated[Literal["running", "succeeded", "failed", "abandoned"] | None, Query()] = None) -> dict:
        """Assessment runs, newest first."""
        with context.sessions() as session:
            conditions = [] if status is None else [AssessmentRun.status == status]
            total = session.scalar(select(func.count()).select_from(AssessmentRun).where(*conditions))
            rows = session.scalars(select(AssessmentRun).where(*conditions).order_by(AssessmentRun.id.desc())
                                   .limit(paging.limit).offset(paging.offset)).all()
        return paging.of([_run(r) for r in rows], total)

    @router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"])
    def get_run(run_id: Annotated[int, PathParam(ge=1, le=_MAX_INT)]) -> dict:
        """One run: timing, status, findings counted by status, and the chain scores it produced."""
        with context.sessions() as session:
            run = session.get(AssessmentRun, run_id)
            if run is None:
                raise ApiError(404, "not_found", f"no assessment run {run_id}")
            counts = dict(session.execute(select(Finding.status, func.count()).where(Finding.run_id == run_id)
                                          .group_by(Finding.status)).all())
            chains = session.execute(select(RiskScore.chain, RiskScore.score, RiskScore.level).where(
                RiskScore.run_id == run_id, RiskScore.node == "", RiskScore.dimension == "overall")
                .order_by(RiskScore.chain)).all()
            return {**_run(run), "findings_by_status": counts,
                    "chains": [{"id": c, "score": _num(s), "level": lvl} for c, s, lvl in chains]}

    # --- reports ---

    @router.get("/reports", response_model=Page[ReportOut], tags=["reports"])
    def list_reports(paging: Paging) -> dict:
        """Reports written under ``report.out_dir``, newest first."""
        root = context.report_dir
        found = []
        if root.is_dir():
            for child in root.iterdir():
                if _REPORT_NAME.match(child.name) and _real_dir(child) and (
                        _real_file(child / "report.json") or _real_file(child / "report.html")):
                    found.append(_report(child))
        found.sort(key=lambda r: (r["modified_at"], r["name"]), reverse=True)
        return paging.of(found)

    def _report_path(name: str) -> Path:
        # The name is checked before it touches the file system; a symlink is never followed.
        if not _REPORT_NAME.match(name):
            raise ApiError(404, "not_found", f"no report {name!r}")
        path = context.report_dir.resolve() / name
        if not _real_dir(path):
            raise ApiError(404, "not_found", f"no report {name!r}")
        return path

    @router.get("/reports/{name}", response_model=ReportDetail, tags=["reports"])
    def get_report(name: Annotated[str, PathParam(max_length=128)]) -> dict:
        """A report's metadata and its JSON document (``report.json``)."""
        path = _report_path(name)
        document = None
        if _real_file(path / "report.json"):
            try:
                document = json.loads(_read_real_file(path / "report.json"))
            except (ValueError, OSError) as err:
                raise ApiError(404, "not_found", f"report {name!r} has no readable report.json: {err}") from None
        return {**_report(path), "document": document}

    @router.get("/reports/{name}/html", response_model=None, tags=["reports"],
                responses={200: {"description": "the report page",
                                 "content": {"text/html": {"schema": {"type": "string"}}}}})
    def get_report_html(name: Annotated[str, PathParam(max_length=128)]) -> HTMLResponse:
        """The report as self-contained HTML."""
        try:
            return HTMLResponse(_read_real_file(_report_path(name) / "report.html"))
        except OSError:
            raise ApiError(404, "not_found", f"report {name!r} has no report.html") from None

    # --- stress tests ---

    @router.get("/stress", response_model=StressPage, tags=["stress"])
    def list_stress_results(paging: Paging) -> dict:
        """Results of the latest successful stress-test suite run (one item per scenario and chain or node).

        Empty, with a note, when no suite run is stored (or this database has no
        stress-test tables yet). Monthly paths are left out.
        """
        try:
            from monitor.store import stress_results as stress_store
        except ImportError:
            stress_store = None
        with context.sessions() as session:
            if stress_store is None or not inspect(session.connection()).has_table("stress_results"):
                return {**paging.of([], 0), "run": None,
                        "note": "stress-test results are not stored by this version"}
            run = stress_store.latest_stress_run(session)
            if run is None:
                return {**paging.of([], 0), "run": None, "note": "no successful stress-test run stored yet"}
            results = stress_store.stress_results(session, run.id, with_monthly=False)
            simulated = assessed_rows_simulated(session, context.config.catalog.home)
        items = [_finite({k: v for k, v in vars(r).items() if k != "monthly"}) for r in results]
        return {**paging.of(items), "run": _finite(dict(vars(run))), "note": None, "simulated_data": simulated}

    # --- stable links (alerts point here; docs/report.md) ---

    links = APIRouter(dependencies=[Depends(read_access)], responses=ERRORS)

    @links.get("/reports/latest", response_model=None, tags=["reports"],
               responses={200: {"description": "the newest report page; chains are anchored #chain-<id>",
                                "content": {"text/html": {"schema": {"type": "string"}}}}})
    def latest_report_html() -> HTMLResponse:
        """The newest report's HTML at a stable URL (what every alert's ``report_url`` links to)."""
        root = context.report_dir
        candidates = [child for child in root.iterdir() if _REPORT_NAME.match(child.name) and _real_dir(child)
                      and _real_file(child / "report.html")] if root.is_dir() else []
        if not candidates:
            raise ApiError(404, "not_found", "no report written yet (the report job writes one after an assessment)")
        newest = max(candidates, key=lambda child: ((child / "report.html").stat().st_mtime, child.name))
        try:
            return HTMLResponse(_read_real_file(newest / "report.html"))
        except OSError:
            raise ApiError(404, "not_found", "the newest report is no longer readable") from None

    router.links = links  # mounted at the root by monitor.serve.server (not under /api/v1)
    return router


# --- pagination -------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_offset`` is null on the last page."""

    items: list[T]
    total: int = Field(description="items across all pages")
    limit: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True)
class PageParams:
    """``limit`` and ``offset`` of a list request."""

    limit: int
    offset: int

    def of(self, items: list, total: int | None = None) -> dict:
        """A page: slices ``items`` unless ``total`` says they are already this page."""
        if total is None:
            total = len(items)
            items = items[self.offset:self.offset + self.limit]
        following = self.offset + len(items)
        return {"items": items, "total": total, "limit": self.limit, "offset": self.offset,
                "next_offset": following if following < total and items else None}


# --- response and request bodies -----------------------------------------------------

class NamesOut(BaseModel):
    """English and Chinese names."""

    en: str
    zh: str


class ChainSummary(BaseModel):
    """A chain and its latest score."""

    id: str
    name: NamesOut
    owner: str
    lead_department: str
    chain_leader_firm: str | None
    score: float | None = Field(description="0-100, latest successful assessment; null without data")
    level: str | None = Field(description="none, blue, yellow, orange or red")
    completeness: float | None
    run_id: int | None
    as_of: date | None
    simulated_data: bool = Field(
        description="the rows an assessment reads include simulated demo rows (decided by the stored rows)")


class DimensionOut(BaseModel):
    """A node's score in one dimension."""

    score: float | None
    level: str | None
    completeness: float | None
    drivers: list[Any]
    drivers_zh: list[Any]
    details: dict[str, Any] | None
    estimated_share: float | None = Field(
        default=None, description="share (0-1) of the measured value that is an estimate, imputed or "
                                  "provisional (from the details; null: not measured)")


class NodeOut(BaseModel):
    """A node of a chain with its latest scores."""

    id: str
    name: NamesOut
    stage: str
    criticality: float
    hs_codes: list[str]
    depends_on: list[str]
    score: float | None
    level: str | None
    completeness: float | None
    drivers: list[Any]
    drivers_zh: list[Any]
    dimensions: dict[str, DimensionOut]


class HistoryPoint(BaseModel):
    """The chain's overall score in one past successful run."""

    run_id: int
    as_of: date | None
    finished_at: datetime | None
    score: float | None
    level: str


class ContactOut(BaseModel):
    """Who receives the chain's alerts and reports (names and roles only)."""

    name: str
    role: str


class ChainDetail(ChainSummary):
    """A chain with nodes, drivers and score history (newest run first)."""

    drivers: list[Any]
    drivers_zh: list[Any]
    contacts: list[ContactOut]
    nodes: list[NodeOut]
    history: list[HistoryPoint]


class ExplanationOut(BaseModel):
    """A finding's explanation in English and Chinese."""

    en: str
    zh: str


class FindingOut(BaseModel):
    """One detector's verdict on one series and period."""

    id: int
    run_id: int
    chain: str
    node: str
    series_id: str
    method: str
    period: date | None
    status: str
    direction: str | None
    observed: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    score: float | None
    explanation: ExplanationOut


class AlertOut(BaseModel):
    """An alert's current state."""

    fingerprint: str
    state: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    starts_at: datetime
    ends_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_comment: str | None


def _no_control(value: str | None) -> str | None:
    if value is not None and any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
        raise ValueError("must not contain control characters")
    return value


class AckIn(BaseModel):
    """Who acknowledges, and why."""

    model_config = {"extra": "forbid"}
    by: str = Field(min_length=1, max_length=200, pattern=r"\S")
    comment: str | None = Field(default=None, max_length=2000)

    _clean = field_validator("by", "comment")(_no_control)


class SilenceIn(BaseModel):
    """A new silence: matchers (all must match), who, why, and when (``ends_at`` or ``duration``)."""

    model_config = {"extra": "forbid"}
    matchers: list[str] = Field(min_length=1, max_length=20,
                                description='label matchers, e.g. chain="batteries", node=~"cells.*"')
    created_by: str = Field(min_length=1, max_length=200, pattern=r"\S")
    comment: str = Field(min_length=1, max_length=2000)
    starts_at: datetime | None = Field(default=None, description="default: now; naive times are UTC")
    ends_at: datetime | None = Field(default=None, description="end; or give duration")
    duration: str | None = Field(default=None, max_length=16, description="e.g. 30m, 2h, 1d (default 2h)")

    _clean = field_validator("created_by", "comment", "duration")(_no_control)

    @field_validator("matchers")
    @classmethod
    def _clean_matchers(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) > 500:
                raise ValueError("a matcher is at most 500 characters")
            _no_control(item)
        return value


class EventIn(BaseModel):
    """An event an analyst reports (the curated-file fields, docs/events.md)."""

    model_config = {"extra": "forbid"}
    id: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.:-]+$")
    title: str = Field(min_length=1, max_length=2000)
    issuer: str = Field(description="ISO alpha-3 of the issuing country, or EU")
    kind: str = Field(description="export_ban, sanction, licensing, outage, tariff, listing, notice")
    announced: date
    effective: date | None = None
    affected: list[str] = Field(default_factory=lambda: ["*"], max_length=250,
                                description="ISO alpha-3 codes; ['*'] = every destination")
    hs_codes: list[str] = Field(default_factory=list, max_length=100, description="4- or 6-digit HS codes")
    text: str = Field(default="", max_length=20000)
    link: str = Field(default="", max_length=2000)
    language: str = Field(default="en", max_length=16)
    status: Literal["active", "withdrawn"] = "active"
    issuing_body: str = Field(default="", max_length=128)

    _clean = field_validator("title", "issuer", "kind", "text", "link", "language", "issuing_body")(_no_control)

    @field_validator("affected", "hs_codes")
    @classmethod
    def _no_separators(cls, values: list[str]) -> list[str]:
        if any(";" in v or not v.strip() for v in values):
            raise ValueError("give one code per list item (no ';', no empty item)")
        return values


class EventSaved(BaseModel):
    """What storing an event did."""

    event_id: str
    created: bool = Field(description="false: an existing analyst event with this id was updated")
    linked: bool = Field(description="linked to a stored event it repeats or amends")


class EventOut(BaseModel):
    """A stored event (its family: every member's HS codes, the newest member's status)."""

    event_id: str
    source: str
    title: str
    kind: str
    issuer: str
    issuing_body: str
    affected: list[str]
    hs_codes: list[str]
    announced: date
    effective: date | None
    link: str
    language: str
    status: str


class SilenceOut(BaseModel):
    """A silence and its state now (pending, active or expired)."""

    id: str
    state: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


class RunOut(BaseModel):
    """An assessment run."""

    id: int
    as_of: date | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    config_hash: str
    error: str | None


class RunChainScore(BaseModel):
    """A chain's overall score in a run."""

    id: str
    score: float | None
    level: str


class RunDetail(RunOut):
    """A run with what it found."""

    findings_by_status: dict[str, int]
    chains: list[RunChainScore]


class ReportOut(BaseModel):
    """A written report."""

    name: str
    modified_at: datetime
    has_html: bool
    has_json: bool
    html_url: str | None


class ReportDetail(ReportOut):
    """A report with its JSON document."""

    document: dict[str, Any] | list[Any] | None


class StressPage(Page[dict[str, Any]]):
    """Stress-test results of one suite run, with a note when there are none."""

    run: dict[str, Any] | None = Field(default=None, description="the suite run the results belong to")
    note: str | None = None
    simulated_data: bool | None = Field(
        default=None, description="the home economy's stored trade flows include simulated demo rows "
                                  "(null: no suite run stored)")


# --- conversions ------------------------------------------------------------------

def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats (not valid JSON) replaced by None, recursively."""
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=value.tzinfo or timezone.utc).astimezone(timezone.utc)


def _latest_scores(session: Session) -> tuple[AssessmentRun | None, dict[tuple[str, str, str], RiskScore]]:
    run = session.scalars(select(AssessmentRun).where(AssessmentRun.status == "succeeded")
                          .order_by(AssessmentRun.id.desc()).limit(1)).first()
    if run is None:
        return None, {}
    rows = session.scalars(select(RiskScore).where(RiskScore.run_id == run.id))
    return run, {(r.chain, r.node, r.dimension): r for r in rows}


def _score_fields(score: RiskScore | None) -> dict:
    if score is None:
        return {"score": None, "level": None, "completeness": None, "drivers": [], "drivers_zh": []}
    return {"score": _num(score.score), "level": score.level or None, "completeness": _num(score.completeness),
            "drivers": list(score.drivers or []), "drivers_zh": list(score.drivers_zh or [])}


def _chain_summary(chain, scores: dict, run: AssessmentRun | None, simulated: bool) -> dict:  # noqa: ANN001
    overall = _score_fields(scores.get((chain.id, "", "overall")))
    return {"id": chain.id, "name": chain.name.model_dump(), "owner": chain.owner.name,
            "lead_department": chain.lead_department, "chain_leader_firm": chain.chain_leader_firm,
            "score": overall["score"], "level": overall["level"], "completeness": overall["completeness"],
            "run_id": None if run is None else run.id, "as_of": None if run is None else run.as_of,
            "simulated_data": simulated}


def _simulated(session: Session, config: Config) -> bool:
    return assessed_rows_simulated(session, config.catalog.home, assessed_series(config))


def _dimension(score: RiskScore) -> dict:
    """A node's dimension: score fields, details, and the estimated share lifted from the details."""
    details = score.details
    share = details.get("estimated_share") if isinstance(details, dict) else None
    return _score_fields(score) | {"details": details,
                                   "estimated_share": _num(share) if isinstance(share, (int, float)) else None}


def _finding(row: Finding) -> dict:
    return {"id": row.id, "run_id": row.run_id, "chain": row.chain, "node": row.node, "series_id": row.series_id,
            "method": row.method, "period": row.period, "status": row.status, "direction": row.direction,
            "observed": _num(row.observed), "expected": _num(row.expected), "lower": _num(row.lower),
            "upper": _num(row.upper), "score": _num(row.score),
            "explanation": {"en": row.explanation_en or "", "zh": row.explanation_zh or ""}}


def _alert(record: AlertRecord) -> dict:
    return {"fingerprint": record.fingerprint, "state": record.state, "labels": dict(record.labels or {}),
            "annotations": dict(record.annotations or {}), "starts_at": as_utc(record.starts_at),
            "ends_at": as_utc(record.ends_at), "acknowledged_by": record.acknowledged_by,
            "acknowledged_at": as_utc(record.acknowledged_at), "ack_comment": record.ack_comment}


def _silence(silence, now: datetime) -> dict:  # noqa: ANN001
    return {"id": silence.id, "state": silence.state(now), "matchers": [str(m) for m in silence.matchers],
            "starts_at": silence.starts_at, "ends_at": silence.ends_at, "created_by": silence.created_by,
            "comment": silence.comment}


def _run(run: AssessmentRun) -> dict:
    return {"id": run.id, "as_of": run.as_of, "status": run.status, "started_at": as_utc(run.started_at),
            "finished_at": as_utc(run.finished_at), "duration_seconds": _num(run.duration_seconds),
            "config_hash": run.config_hash, "error": run.error}


def _real_dir(path: Path) -> bool:
    """A directory itself, not a symlink to one."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _real_file(path: Path) -> bool:
    """A regular file itself, not a symlink to one (nor a device or FIFO)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _read_real_file(path: Path) -> str:
    """The text of a regular file, never following a symlink (OSError otherwise).

    Opened with O_NOFOLLOW and checked on the open descriptor, so a file swapped for a
    symlink between a check and the read is refused too.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return handle.read().decode("utf-8")


def _report(path: Path) -> dict:
    has_html = _real_file(path / "report.html")
    return {"name": path.name, "modified_at": datetime.fromtimestamp(path.stat().st_mtime, timezone.utc),
            "has_html": has_html, "has_json": _real_file(path / "report.json"),
            "html_url": f"{PREFIX}/reports/{path.name}/html" if has_html else None}


__all__ = ["ApiContext", "ApiError", "ErrorBody", "build_api", "install_error_handlers", "install_request_ids"]


def _event_out(event: Event) -> dict:
    return {"event_id": event.event_id, "source": event.source, "title": event.title, "kind": event.kind,
            "issuer": event.issuer, "issuing_body": event.issuing_body, "affected": list(event.affected),
            "hs_codes": list(event.hs_codes), "announced": event.announced, "effective": event.effective,
            "link": event.link, "language": event.language, "status": event.status}
