"""The ``chainwatch`` command line (contract in docs/cli.md).

This module only parses arguments and prints; the work is done by the objects
:func:`monitor.app.build_app` wires. Configuration and input errors exit with
code 2 and one line per problem, without a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from pathlib import Path

# SQLAlchemy, Alembic and the pydantic config models are imported by the commands (and
# the error handler) that use them: ``concentration``/``detect`` on a file need none
# of them, and importing them took 0.8 s of every such run.
from monitor.store import DEFAULT_DB_URL

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141
#: Commands after which :func:`console` ends the process without the interpreter's teardown.
ENDS_WITHOUT_TEARDOWN = frozenset({"concentration", "detect"})
log = logging.getLogger("chainwatch")


class InputFileError(ValueError):
    """An input file given on the command line is unusable (message names file and row)."""


class AlertCommandError(ValueError):
    """An ``alerts``/``silence`` command got an unknown id or a bad matcher or time."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default unless its text already names it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or action.nargs == 0:
            return text
        return super()._get_help_string(action)


_Parser = functools.partial(argparse.ArgumentParser, formatter_class=_HelpFormatter)


def _parser() -> argparse.ArgumentParser:
    from monitor import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="DIR", help="config directory (default: ./config if present, else the packaged default)")
    common.add_argument("--db", metavar="URL", help=f"database URL (default: $CHAINWATCH_DB_URL or {DEFAULT_DB_URL})")
    common.add_argument("--log-level", default="WARNING", help="logging level (default WARNING; INFO for run)")
    common.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="log lines as text (default) or one JSON object per line (with request and job ids)")

    # Commands that store or assess data: a configuration without a demo source refuses a
    # database holding simulated rows unless told (docs/provenance.md).
    simulated = argparse.ArgumentParser(add_help=False)
    simulated.add_argument("--allow-simulated", action="store_true",
                           help="proceed although the configuration has no demo source and the database holds "
                                "simulated demo rows (results stay labelled simulated)")

    # Commands that print tables for people.
    tables = argparse.ArgumentParser(add_help=False)
    tables.add_argument("--wide", action="store_true",
                        help="do not wrap table cells to the terminal width (one line per row)")

    parser = _Parser(prog="chainwatch", description="Watch key industrial chains and warn early when one is at risk.")
    parser.add_argument("--version", action="version", version=f"chainwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    assess = sub.add_parser("assess", parents=[common, simulated, tables], help="collect, assess, alert and print the result")
    assess.add_argument("--once", action="store_true", required=True, help="run the whole path once and exit")
    assess.add_argument("--format", choices=["table", "json"], default="table", help="output format")

    run = sub.add_parser("run", parents=[common, simulated],
                         help="the long-running service: scheduler + HTTP (/metrics, /healthz, /readyz, /api/v1)")
    run.add_argument("--port", type=int, default=9464, help="HTTP port")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")

    sub.add_parser("check-config", parents=[common], help="validate the configuration")

    collect = sub.add_parser("collect", parents=[common, simulated], help="collect the sources now (incremental; backfills)")
    collect.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
    collect.add_argument("--since", metavar="YYYY-MM", help="fetch from this month on (default: incremental)")

    migrate = sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    migrate.add_argument("--check", action="store_true",
                         help="only report; exit 1 if a migration is pending, 2 if the schema is unknown")

    report = sub.add_parser("report", parents=[common], help="write the risk-assessment report (HTML + JSON)")
    report.add_argument("--out", required=True, type=Path, help="directory to write report.html and report.json to")
    report.add_argument("--run", type=int, help="assessment run id (default: the latest successful run)")

    conc = sub.add_parser("concentration", parents=[common], help="concentration indicators of a long CSV or a USGS MCS world file")
    conc.add_argument("--input", required=True, type=Path,
                      help="CSV or Parquet with reporter,partner,product,period,value (or a USGS MCS world CSV)")
    conc.add_argument("--format", choices=["json", "csv"], default="json", help="output format")

    detect = sub.add_parser("detect", parents=[common], help="disruption detection on a long CSV")
    detect.add_argument("--input", required=True, type=Path, help="CSV or Parquet with series_id,period,value")
    detect.add_argument("--replay", action="store_true", help="walk forward and judge every period with data up to it")
    detect.add_argument("--format", choices=["json", "csv"], default="json", help="output format")
    detect.add_argument("--chunk-size", type=_positive_int, metavar="N",
                        help="series judged at a time; findings are written after each chunk (default 5000)")

    evaluate = sub.add_parser("evaluate", parents=[common, tables],
                              help="score the disruption detector on labelled disruptions")
    evaluate.add_argument("--input", required=True, type=Path, help="CSV or Parquet with series_id,period,value")
    evaluate.add_argument("--events", required=True, type=Path, help="CSV with series_id,kind,start,end,cause")
    evaluate.add_argument("--format", choices=["json", "table"], default="table", help="output format")
    stress = sub.add_parser("stress", parents=[common, tables], help="run a stress-test scenario on the stored data")
    which = stress.add_mutually_exclusive_group(required=True)
    which.add_argument("--scenario", type=Path, help="scenario YAML file (see config/scenarios/)")
    which.add_argument("--all", action="store_true",
                       help="run every scenario of stress.scenarios_dir and store the suite (as the scheduled job)")
    stress.add_argument("--format", choices=["json", "table"], default="table", help="output format")
    _add_alert_commands(sub, common, tables)
    _add_event_commands(sub, common)
    return parser


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def _add_event_commands(sub, common: argparse.ArgumentParser) -> None:  # noqa: ANN001
    events = sub.add_parser("events", help="policy and event intelligence (docs/events.md)")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    load = events_sub.add_parser("load", parents=[common], help="store events files (repeats and amendments linked)")
    mapped = events_sub.add_parser("map", parents=[common],
                                   help="map events (the files given, else the stored ones) onto the nodes")
    for command in (load, mapped):
        command.add_argument("--file", action="append", type=Path, default=[], metavar="CSV",
                             help="curated events file (repeatable)")
        command.add_argument("--federal-register-json", action="append", type=Path, default=[], metavar="JSON",
                             help="a saved Federal Register documents.json response (repeatable)")
    add = events_sub.add_parser("add", parents=[common], help="store one event an analyst reports")
    add.add_argument("--id", required=True, help="your id of the event (unique among analyst events)")
    add.add_argument("--title", required=True)
    add.add_argument("--issuer", required=True, help="ISO alpha-3 of the issuing country, or EU")
    add.add_argument("--kind", required=True, help="export_ban, sanction, licensing, outage, tariff, listing, notice")
    add.add_argument("--announced", required=True, metavar="YYYY-MM-DD")
    add.add_argument("--effective", default="", metavar="YYYY-MM-DD")
    add.add_argument("--affected", default="*", help="';'-separated ISO alpha-3 (default * = every destination)")
    add.add_argument("--hs-codes", default="", help="';'-separated 4- or 6-digit HS codes")
    add.add_argument("--text", default="")
    add.add_argument("--link", default="")
    add.add_argument("--language", default="en")
    add.add_argument("--status", default="active", help="active or withdrawn")
    add.add_argument("--issuing-body", default="")
    mapped.add_argument("--exposure-from-db", action="store_true",
                        help="grade by the stored import shares and world supply (default: exposure unknown)")
    mapped.add_argument("--as-of", metavar="YYYY-MM-DD", help="the day of the warnings (default: today)")
    mapped.add_argument("--format", choices=["table", "json"], default="table")
    evaluate = sub.add_parser("evaluate-events", parents=[common],
                              help="recall and lead time of event mapping on a pre-registered list")
    evaluate.add_argument("--input", required=True, type=Path,
                          help="pre-registered CSV (benchmarks/events/preregistered_events.csv)")
    evaluate.add_argument("--format", choices=["table", "json"], default="table")


def _add_alert_commands(sub, common: argparse.ArgumentParser, tables: argparse.ArgumentParser) -> None:  # noqa: ANN001
    alerts = sub.add_parser("alerts", help="list and acknowledge alerts")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, parser_class=_Parser)
    alerts_list = alerts_sub.add_parser("list", parents=[common, tables],
                                        help="stored alerts (firing and pending by default)")
    alerts_list.add_argument("--state", choices=["firing", "pending", "resolved", "all"], default=None,
                             help="which alerts (default: firing and pending)")
    alerts_list.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    ack = alerts_sub.add_parser("ack", parents=[common], help="acknowledge an alert (stops escalation and reminders)")
    ack.add_argument("fingerprint", help="alert fingerprint or a unique prefix")
    ack.add_argument("--by", required=True, help="who acknowledges")
    ack.add_argument("--comment", default=None)

    silence = sub.add_parser("silence", help="mute notifications of matching alerts for a while")
    silence_sub = silence.add_subparsers(dest="silence_command", required=True, parser_class=_Parser)
    add = silence_sub.add_parser("add", parents=[common], help='add a silence, e.g. chain="batteries" node=~"cells.*"')
    add.add_argument("matchers", nargs="+", help="label matchers: name=value, name!=value, name=~regex, name!~regex")
    add.add_argument("--by", required=True, help="who silences")
    add.add_argument("--comment", required=True, help="why")
    add.add_argument("--duration", default="2h", help="how long from --start (e.g. 30m, 2h, 1d; default 2h)")
    add.add_argument("--start", default=None, help="ISO 8601 start (default: now)")
    silence_list = silence_sub.add_parser("list", parents=[common, tables], help="pending and active silences")
    silence_list.add_argument("--all", action="store_true", help="include expired silences")
    silence_list.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    expire = silence_sub.add_parser("expire", parents=[common], help="end a silence now")
    expire.add_argument("id", help="silence id or a unique prefix")


def _db_url(args: argparse.Namespace) -> str:
    return args.db or os.environ.get("CHAINWATCH_DB_URL") or DEFAULT_DB_URL


def main(argv: list[str] | None = None, end_process: bool = False) -> int:
    """Entry point of the ``chainwatch`` command (see :func:`console`).

    A reader that closes the pipe early (``chainwatch alerts list | head``) ends the
    command quietly with exit code 141 (128 + SIGPIPE, as the shell reports a command
    killed by it), not with a traceback.

    ``end_process``: after a command of :data:`ENDS_WITHOUT_TEARDOWN`, end the process
    at once with the command's exit code once its output and logs are flushed.
    """
    try:
        try:
            args = _parser().parse_args(argv)
            code = _main(args)
        finally:
            sys.stdout.flush()  # here, not at interpreter exit, so a closed pipe is caught below
    except BrokenPipeError:
        # Later writes (and the interpreter's final flush) go nowhere instead of failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    if end_process and args.command in ENDS_WITHOUT_TEARDOWN:
        logging.shutdown()
        sys.stderr.flush()
        os._exit(code)
    return code


def console() -> None:
    """The ``chainwatch`` console script and ``python -m monitor.cli.main``: :func:`main`,
    then the process ends with its exit code.

    A command that reads files and writes only to standard output and error
    (:data:`ENDS_WITHOUT_TEARDOWN`) ends the process with ``os._exit`` once its output
    and logs are flushed, skipping the interpreter's teardown: that frees the objects of
    pandas, numpy and pyarrow module by module, 0.06-0.15 s of every run (2026-12-07),
    work the kernel does at once. Such a command leaves no thread, child process,
    database connection or temporary file behind that the teardown would close.
    """
    sys.exit(main(end_process=True))


def _main(args: argparse.Namespace) -> int:
    level = "INFO" if args.command == "run" and args.log_level == "WARNING" else args.log_level
    from monitor.telemetry.logs import configure_logging

    configure_logging(level, args.log_format)
    try:
        handler = {
            "assess": _assess, "run": _run, "check-config": _check_config, "collect": _collect,
            "concentration": _concentration, "detect": _detect, "evaluate": _evaluate, "report": _report,
            "alerts": _alerts, "silence": _silence, "migrate": _migrate,
            "stress": _stress, "events": _events, "evaluate-events": _evaluate_events,
        }[args.command]
        return handler(args)
    except (InputFileError, AlertCommandError) as err:
        print(f"chainwatch: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        code = _reported(err, args)
        if code is None:
            raise
        return code


def _reported(err: Exception, args: argparse.Namespace) -> int | None:
    """Print the one line of a known failure and return its exit code; None for a bug."""
    from sqlalchemy.exc import DatabaseError, OperationalError

    from monitor.assess.executors import ExecutorError
    from monitor.config.loader import ConfigError
    from monitor.store.database import DatabaseURLError, SchemaVersionError
    from monitor.store.simulated_data import SimulatedDataError

    if isinstance(err, ConfigError):
        print(f"chainwatch: configuration is invalid ({len(err.problems)} problem(s)):", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(err, (DatabaseURLError, SchemaVersionError, SimulatedDataError)):
        print(f"chainwatch: {err}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(err, ExecutorError):
        # The configured executor cannot run (e.g. the Dask scheduler is unreachable): one line.
        print(f"chainwatch: {err}", file=sys.stderr)
        return 1
    if isinstance(err, OperationalError):
        # The database is unreachable or went away: one clear line (password hidden), no traceback.
        detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        print(f"chainwatch: database unavailable ({_shown_db_url(args)}): {detail}", file=sys.stderr)
        return 1
    if isinstance(err, DatabaseError):
        # --db names a file that is not a (whole) SQLite database: "file is not a database",
        # "database disk image is malformed".
        detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        print(f"chainwatch: {_shown_db_url(args)} is not a usable database: {detail}", file=sys.stderr)
        return EXIT_USAGE
    return None


def _shown_db_url(args: argparse.Namespace) -> str:
    """The database URL with its password blanked (for error messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(_db_url(args)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL was refused earlier; never echo it raw
        return "the configured database"


def _check_config(args: argparse.Namespace) -> int:
    from monitor.config.loader import ConfigError, check_config

    checked = check_config(args.config)  # every problem of every file and scenario in one run
    for warning in checked.warnings:
        print(f"chainwatch: warning: {warning}", file=sys.stderr)
    if checked.config is None:
        raise ConfigError(checked.problems)
    chains = checked.config.catalog.chains
    print(f"OK: {len(chains)} chains, {sum(len(c.nodes) for c in chains)} nodes, "
          f"{len(checked.config.sources.sources)} source(s), {len(checked.config.alerts.receivers)} receiver(s), "
          f"{len(checked.scenarios)} stress scenario(s)")
    return 0


def _collect(args: argparse.Namespace) -> int:
    """``chainwatch collect``: exit 0 if every source succeeded, 1 if one failed."""
    import re
    from datetime import date

    from monitor.app import build_app

    since = None
    if args.since is not None:
        if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", args.since):
            raise InputFileError(f"--since {args.since!r}: expected YYYY-MM")
        since = date(int(args.since[:4]), int(args.since[5:7]), 1)
    app = build_app(args.config, _db_url(args))
    try:
        app.refuse_simulated_mix(args.allow_simulated)
        known = app.collection.source_ids
        wanted = args.source or known
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise InputFileError(f"--source {', '.join(unknown)}: not configured (sources: {', '.join(known)})")
        terminal = sys.stderr.isatty()
        failed = 0
        for done, name in enumerate(wanted):
            if terminal:
                bar = "#" * (20 * done // len(wanted))
                print(f"\r[{bar:<20}] {done}/{len(wanted)} collecting {name}…\033[K", end="", file=sys.stderr,
                      flush=True)
            outcome = app.collection.collect(name, since=since)
            app.metrics.collections.labels(name, "success" if outcome.ok else "failure").inc()
            if terminal:
                print("\r\033[K", end="", file=sys.stderr)
            if outcome.ok:
                rejected = sum(outcome.rows_rejected.values())
                line = (f"{name}: {outcome.rows_new} new, {outcome.rows_revised} revised, "
                        f"{outcome.rows_unchanged} unchanged, {rejected} rejected row(s)")
                if rejected:
                    line += " (" + ", ".join(f"{k}={v}" for k, v in sorted(outcome.rows_rejected.items())) + ")"
                print(line)
            else:
                failed += 1
                print(f"{name}: FAILED: {outcome.error}")
        if terminal:
            print(f"[{'#' * 20}] {len(wanted)}/{len(wanted)} done", file=sys.stderr)
        print(f"{len(wanted)} source(s): {len(wanted) - failed} collected, {failed} failed")
    finally:
        app.close()
    return 1 if failed else 0


def _assess(args: argparse.Namespace) -> int:
    from monitor.app import build_app
    from monitor.cli.rendering import assessment_document, assessment_table

    app = build_app(args.config, _db_url(args))
    try:
        app.refuse_simulated_mix(args.allow_simulated)
        result, evaluation, _report = app.assess_once()
        shown = [a for a in evaluation.alerts if a.state == "firing"] + [
            a for a in evaluation.changed if a.state == "resolved"]
        simulated = app.simulated
        if args.format == "json":
            print(json.dumps(assessment_document(result, shown, simulated), ensure_ascii=False, indent=2))
        else:
            print(assessment_table(result, shown, simulated, wide=args.wide))
    finally:
        app.close()
    return 0


def _report(args: argparse.Namespace) -> int:
    from monitor.app import build_app
    from monitor.report.content import ReportError

    app = build_app(args.config, _db_url(args))
    try:
        path = app.write_report(args.out, args.run)
    except ReportError as err:
        print(f"chainwatch: {err}", file=sys.stderr)
        return 1
    finally:
        app.close()
    print(path)
    return 0


def _run(args: argparse.Namespace) -> int:
    from monitor.app import build_app
    from monitor.serve.service import run_service
    from monitor.store.simulated_data import SimulatedDataError

    # build_app migrates, and refuses a schema newer than this version (exit 2).
    app = build_app(args.config, _db_url(args))
    try:
        app.refuse_simulated_mix(args.allow_simulated)
    except SimulatedDataError:
        app.close()
        raise
    return run_service(app, args.host, args.port)


def _migrate(args: argparse.Namespace) -> int:
    from monitor.store.database import check_schema_known, make_engine, migrate, schema_status

    engine = make_engine(_db_url(args))
    try:
        before = schema_status(engine)
        check_schema_known(before)
        if args.check:
            state = "up to date" if before.up_to_date else f"pending: {before.current or '(empty)'} -> {before.head}"
            print(f"schema {state}")
            return 0 if before.up_to_date else 1
        migrate(engine)
        after = schema_status(engine)
    finally:
        engine.dispose()
    if before.current == after.current:
        print(f"schema up to date at revision {after.current}")
    else:
        print(f"schema migrated: {before.current or '(empty)'} -> {after.current}")
    return 0


def _events(args: argparse.Namespace) -> int:
    """``chainwatch events load|add|map``."""
    from datetime import date, datetime, timezone

    from indicators.events import map_events
    from monitor.assess.event_exposure import node_profiles
    from monitor.cli.events import country_names, load_events, mapping_document, mapping_table
    from monitor.config.loader import load_config
    from monitor.collect.base import CollectionError
    from monitor.collect.event_files import event_from_row
    from monitor.store.database import make_engine, migrate, session_factory
    from monitor.store import events as stored_events

    files = getattr(args, "file", []) or []
    fr_json = getattr(args, "federal_register_json", []) or []
    try:
        if args.events_command == "add":
            row = {name: str(getattr(args, name.replace("-", "_"))) for name in (
                "id", "title", "issuer", "kind", "announced", "effective", "affected", "text", "link", "language",
                "status")}
            row |= {"hs_codes": args.hs_codes, "issuing_body": args.issuing_body}
            events = [event_from_row(row, "events add", "analyst")]
        else:
            events = load_events(files, fr_json)
    except CollectionError as err:
        raise InputFileError(str(err)) from None
    if args.events_command == "load" and not events:
        raise InputFileError("events load: give at least one --file or --federal-register-json")
    catalog = load_config(args.config).catalog if args.events_command == "map" else None
    try:
        today = date.fromisoformat(args.as_of) if getattr(args, "as_of", None) else date.today()
    except ValueError:
        raise InputFileError(f"--as-of {args.as_of!r}: expected YYYY-MM-DD") from None
    uses_db = args.events_command in {"load", "add"} or not events or args.exposure_from_db
    engine = make_engine(_db_url(args)) if uses_db else None
    try:
        if engine is not None and args.events_command in {"load", "add"}:
            migrate(engine)
            with session_factory(engine).begin() as session:
                saved = stored_events.save_events(session, events, datetime.now(timezone.utc))
            print(f"events: {saved.new} new, {saved.updated} updated, {saved.linked} linked to an event they "
                  f"repeat or amend")
            return 0
        profiles = node_profiles(catalog)
        if engine is not None:
            with session_factory(engine)() as session:
                if not events:
                    events = stored_events.load_events(session)
                if args.exposure_from_db:
                    profiles = node_profiles(catalog, session, today)
    finally:
        if engine is not None:
            engine.dispose()
    events = [e for e in events if e.announced <= today]  # nothing announced after the day of the warnings
    mapping = map_events(events, profiles, catalog.home, country_names(events, catalog.home))
    document = mapping_document(events, mapping, today)
    if args.format == "json":
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(mapping_table(document))
    return 0


def _evaluate_events(args: argparse.Namespace) -> int:
    """``chainwatch evaluate-events``."""
    from monitor.config.loader import load_config
    from monitor.cli.events import evaluate_file, evaluation_table
    from monitor.collect.base import CollectionError

    catalog = load_config(args.config).catalog
    try:
        document = evaluate_file(args.input, catalog)
    except CollectionError as err:
        raise InputFileError(str(err)) from None
    print(json.dumps(document, ensure_ascii=False, indent=2) if args.format == "json" else evaluation_table(document))
    return 0


def _read_csv(path: Path, required: list[str]):
    import pandas as pd

    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype={"product": str, "reporter": str, "partner": str, "series_id": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"{path}: not a readable CSV: {err}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(map(str, frame.columns))})")
    periods = pd.to_datetime(frame["period"].astype(str), errors="coerce", format="mixed")
    if periods.isna().any():
        row = int(periods.isna().to_numpy().nonzero()[0][0])
        raise InputFileError(f"{path}: row {row + 2}: period {frame['period'].iloc[row]!r} is not YYYY-MM or a date")
    frame["period"] = periods.dt.to_period("M").dt.to_timestamp()
    values = pd.to_numeric(frame["value"], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().nonzero()[0][0])
        raise InputFileError(f"{path}: row {row + 2}: value {frame['value'].iloc[row]!r} is not a number")
    frame["value"] = values.astype(float)
    return frame


def _read_flows_csv(path: Path):
    """The ``concentration`` input: ``reporter,partner,product,period,value`` (CSV or Parquet), checked.

    Read as Arrow columns (:mod:`monitor.collect.columnar`) and checked with masks: each
    distinct period text is parsed once. Codes are kept as written (``NA`` is Namibia,
    not a missing value); a line with every cell blank is ignored. Returns the frame and
    whether every period was written as a plain year (``2023``), i.e. the data are annual.
    The frame's reporter, partner, product and period (month-start timestamps) are
    categorical with their categories sorted, so the computation's sorts and groupings
    read each column's integer codes (Arrow's dictionary encoding, made on its threads)
    instead of hashing millions of strings again; value is float.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    from monitor.collect.columnar import TableFileError, as_text, is_parquet, read_columns, return_freed_memory

    # jemalloc rather than mimalloc for Arrow's buffers: at 5,000,000 rows the read spent
    # 0.8-1.9 s in the kernel (page faults) with mimalloc, 0.45 s with jemalloc (2026-12-07).
    return_freed_memory()
    columns = ("reporter", "partner", "product", "period", "value")
    parquet = is_parquet(path)
    if parquet:
        import pyarrow.parquet  # noqa: F401 - here, so that the two threads below never import the same module
    with ThreadPoolExecutor(1) as pool:
        # Arrow parses the file (on its own threads) while pyarrow.compute and pandas are
        # imported (≈ 0.2 s of CPU); what the parse needs is imported above.
        reading = pool.submit(read_columns, path, columns, what=",".join(columns), whole=True,
                              dictionary=columns[:4], numbers=("value",))
        import numpy as np
        import pandas as pd
        import pyarrow.compute as pc
        try:
            table = reading.result()
        except TableFileError as err:
            raise InputFileError(str(err).replace("no data rows after the header",
                                                  "no data rows, only a header")) from None
    if table.ragged:
        number, cells, expected = table.ragged[0]
        raise InputFileError(f"{path}: not a readable CSV: line {number} has {cells} cell(s) where the header has "
                             f"{expected}")
    # A CSV's code columns come dictionary-encoded (text without nulls) and its value column
    # as float64 when every cell is a number; anything else (a Parquet file's) as text.
    parsed_numbers = pa.types.is_float64(table.columns["value"].type) and not parquet
    text = {name: column if _encoded_text(column) or (name == "value" and parsed_numbers) else as_text(column)
            for name, column in ((name, table.columns.pop(name)) for name in columns)}
    kept = None  # positions of the rows kept when blank lines are dropped (row numbers for messages)
    # Arrow's kernels let go of the GIL: the column checks run on both cores.
    with ThreadPoolExecutor(2) as pool:
        values, encoded = _encoded_if_clean(text, pool)
        if values is None:  # something to trim or an empty cell: trim every cell, find the empty ones

            def trimmed(name: str) -> tuple[pa.Array, np.ndarray]:
                column = pc.utf8_trim_whitespace(text[name].cast(pa.string()))
                return column, pc.equal(column, "").to_numpy(zero_copy_only=False)

            done = dict(zip(columns, pool.map(trimmed, columns)))
            text = {name: column for name, (column, _) in done.items()}
            empty = {name: mask for name, (_, mask) in done.items()}
            blank = np.logical_and.reduce(list(empty.values()))
            if blank.any():
                keep = pa.array(~blank)
                text = {name: pc.filter(column, keep) for name, column in text.items()}
                empty = {name: mask[~blank] for name, mask in empty.items()}
                kept = np.flatnonzero(~blank)
    if not len(text["value"]):
        raise InputFileError(f"{path}: no data rows, only a header")

    def where(pos: int, column: str) -> str:
        number = table.first_row + int(pos if kept is None else kept[pos])
        return f"{path}: line {number} (data row {number - table.first_row + 1}), column {column!r}"

    if values is None:  # the trimmed columns
        for column in columns:
            if empty[column].any():
                raise InputFileError(f"{where(int(np.flatnonzero(empty[column])[0]), column)} is empty")
        with ThreadPoolExecutor(2) as pool:
            codes = ("reporter", "partner", "product", "period")
            encoded = dict(zip(codes, pool.map(pc.dictionary_encode, (text[name] for name in codes))))
    distinct = pd.Series(encoded["period"].dictionary.to_pylist(), dtype=object)
    index = encoded["period"].indices.to_numpy(zero_copy_only=False)
    annual = bool(distinct.str.fullmatch(r"\d{4}").all())
    parsed = pd.to_datetime(distinct, errors="coerce", format="mixed")
    if parsed.isna().any():
        pos = int(np.flatnonzero(parsed.isna().to_numpy()[index])[0])
        raise InputFileError(f"{where(pos, 'period')}: {distinct[index[pos]]!r} is not YYYY, YYYY-MM or a date")
    month_codes, months = pd.factorize(parsed.dt.to_period("M").dt.to_timestamp(), sort=True)
    if values is None:
        try:
            values = pc.cast(text["value"], pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # name the first cell that is not a number
            values = pd.to_numeric(pd.Series(text["value"].to_numpy(zero_copy_only=False)), errors="coerce").to_numpy(
                dtype="float64")
    # Two reductions without a temporary array answer for a clean column (a NaN makes
    # the minimum NaN); only a file with a bad value is searched for the first one.
    if not (values.min() >= 0 and values.max() < np.inf):
        # the cells as written (a CSV's numbers read again as text)
        cell = as_text(text["value"]) if not parsed_numbers else read_columns(path, ("value",), whole=True).columns[
            "value"]

        def shown(pos: int) -> str:
            return repr(cell[pos].as_py())

        if np.isnan(values).any():
            pos = int(np.flatnonzero(np.isnan(values))[0])
            raise InputFileError(f"{where(pos, 'value')}: {shown(pos)} is not a number")
        if not np.isfinite(values).all():
            pos = int(np.flatnonzero(~np.isfinite(values))[0])
            raise InputFileError(f"{where(pos, 'value')}: {shown(pos)} is not a finite number")
        pos = int(np.flatnonzero(values < 0)[0])
        raise InputFileError(f"{where(pos, 'value')}: {shown(pos)} is negative; flows and outputs must be >= 0")
    frame = pd.DataFrame({name: _sorted_categorical(encoded[name]) for name in ("reporter", "partner", "product")})
    frame["period"] = pd.Categorical.from_codes(month_codes[index], dtype=pd.CategoricalDtype(months), validate=False)
    frame["value"] = values
    return frame, annual


def _encoded_text(column) -> bool:  # noqa: ANN001 - a pyarrow Array
    import pyarrow as pa

    return (pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type)
            and column.null_count == 0)


def _sorted_categorical(encoded):  # noqa: ANN001, ANN202 - a pyarrow DictionaryArray to a pandas Categorical
    """A dictionary-encoded text column as a pandas Categorical whose categories are sorted
    (category order = text order, as a groupby on the text sorts it), without a Python
    str per cell."""
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    place = np.empty(len(order), dtype=np.int32)
    place[order] = np.arange(len(order), dtype=np.int32)
    categories = pd.Index(encoded.dictionary.take(order).to_pandas())
    return pd.Categorical.from_codes(place[encoded.indices.to_numpy(zero_copy_only=False)],
                                     dtype=pd.CategoricalDtype(categories), validate=False)


def _encoded_if_clean(text: dict, pool):  # noqa: ANN001, ANN202 - pyarrow arrays, a ThreadPoolExecutor
    """The ``value`` column as float64 and the code columns dictionary-encoded when no cell
    of the flows needs trimming and none is empty, else ``(None, None)`` (the caller then
    trims every cell and names the bad one).

    A clean file then costs a hash pass per code column (the encoding, whose distinct
    values are checked) and the cast, instead of a trimmed copy and an empty-mask of every
    column: Arrow's cast refuses a value with spaces around it or an empty one, so its
    success says the value column is clean too.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def clean(name: str):  # noqa: ANN202 - a pyarrow DictionaryArray, or None
        encoded = text[name] if pa.types.is_dictionary(text[name].type) else pc.dictionary_encode(text[name])
        distinct = encoded.dictionary
        if (pc.any(pc.not_equal(pc.utf8_trim_whitespace(distinct), distinct)).as_py()
                or pc.any(pc.equal(distinct, "")).as_py()):
            return None
        return encoded

    def cast():  # noqa: ANN202 - a numpy array or None
        if pa.types.is_float64(text["value"].type):  # parsed as numbers (read_columns' numbers)
            return text["value"].to_numpy(zero_copy_only=False)
        try:
            return pc.cast(text["value"], pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            return None

    values = pool.submit(cast)
    names = ("reporter", "partner", "product", "period")
    encoded = dict(zip(names, pool.map(clean, names)))
    if any(column is None for column in encoded.values()) or values.result() is None:
        return None, None
    return values.result(), encoded


def _concentration(args: argparse.Namespace) -> int:
    if _is_usgs_world_file(args.input):
        return _usgs_concentration(args)
    # numpy asks the kernel for huge pages for its large arrays; where the kernel then
    # compacts memory on the fault (transparent_hugepage/defrag = madvise, Debian's
    # default) that cost 1.0-1.2 s more system time at 5,000,000 rows (3 alternating
    # runs each, 2026-12-07). Read by numpy when it is imported; the user's setting wins.
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    from monitor.cli.heap import keep_freed_heap

    keep_freed_heap()  # one file, many column-sized temporaries: reuse their pages (monitor/cli/heap.py)
    frame, annual = _read_flows_csv(args.input)  # first: it imports pandas while the file is parsed
    from monitor.cli.flows_concentration import write_concentration

    sys.stdout.flush()
    try:
        # Shares are of the WORLD row where the file has one (the rest is unallocated, with
        # bounds); every group is reported: one without a positive total gets status
        # zero_total and empty indicators instead of a division by zero. UTF-8 bytes as
        # they are: no decoding and re-encoding of the text.
        out = write_concentration(frame, annual, args.format, sys.stdout.buffer)
    except ValueError as err:
        raise InputFileError(f"{args.input}: {err}") from None
    if args.format != "csv":
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()
    _concentration_summary(out.groups, len(out.products), out.zero_total)
    return 0


def _print_table(table, fmt: str) -> None:  # noqa: ANN001 - a pandas DataFrame
    """A concentration table on stdout as the CLI contract's CSV or JSON records (docs/cli.md)."""
    if fmt == "csv":
        from monitor.cli.frame_csv import frame_csv

        sys.stdout.write(frame_csv(table))
    else:
        print(table.to_json(orient="records", force_ascii=False, indent=2))


def _concentration_summary(groups: int, products: int, zero_total: int) -> None:
    """One line for people on stderr (standard output stays the documented JSON/CSV)."""
    print(f"{groups} group(s) of reporter, product and period ({products} product(s)), "
          f"{zero_total} without a positive total", file=sys.stderr)


def _is_usgs_world_file(path: Path) -> bool:
    """A USGS MCS world file (header ``Source,Country,<Type>,Prod_...``, BOM or not)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            header = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    names = [name.strip().strip('"') for name in header.split(",")]
    return names[:2] == ["Source", "Country"] and any(name.startswith("Prod_") for name in names)


def _usgs_concentration(args: argparse.Namespace) -> int:
    """``concentration --input mcs2024-galli_world.csv``: the concentration against the World total
    per (commodity stage, year), as :func:`monitor.collect.usgs.usgs_world_supply` computes it."""
    from monitor.collect.usgs import read_world_file, usgs_iso3, usgs_world_files
    import pandas as pd

    from indicators.concentration import concentration_changes
    from indicators.production import usgs_release, usgs_world_concentration, usgs_world_records

    found = usgs_world_files([str(args.input)])
    code = found[0][0] if found else Path(args.input).stem.split("_")[0].split("-")[-1].lower()
    try:
        raw = read_world_file(args.input)
        release = usgs_release(raw)
        records = usgs_world_records(raw, code)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputFileError(f"{args.input}: {err}") from None
    records["partner"] = [usgs_iso3(name) or name for name in records["partner"]]
    records["product"] = code + "." + records["stage"]
    table = usgs_world_concentration(records)
    table.insert(0, "reporter", "WORLD")
    table["period"] = pd.to_datetime(table["period"].astype(int).astype(str), format="%Y")
    table = concentration_changes(table, keys=("reporter", "product", "period"), freq="Y")
    table["status"] = [("ok" if total > 0 else "zero_total") for total in table["total"]]
    table["release"] = release
    table["period"] = table["period"].dt.strftime("%Y")
    _concentration_summary(len(table), table["product"].nunique(), int((table["status"] == "zero_total").sum()))
    print(f"USGS MCS world file ({release}, {code}): shares of the published World total; "
          "'Other countries' and withheld (W) production are the unallocated remainder", file=sys.stderr)
    _print_table(table, args.format)
    return 0


def _detect(args: argparse.Namespace) -> int:
    from monitor.cli.detect import run_detect

    # Exit 0, 1 when some series were skipped (each reported on stderr), 2 when nothing is usable.
    chunk = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
    return run_detect(args.input, replay=args.replay, fmt=args.format, **chunk)


def _evaluate(args: argparse.Namespace) -> int:
    from monitor.cli.evaluate import run_evaluate

    return run_evaluate(args.input, args.events, fmt=args.format, wide=args.wide)


def _stress(args: argparse.Namespace) -> int:
    from monitor.config.loader import load_config, load_scenario
    from monitor.store.database import make_engine, migrate, session_factory
    from monitor.cli.stress_table import scenario_table
    from monitor.stress.runs import NoStoredDataError, load_baseline, run_scenario, scenario_document

    config = load_config(args.config)
    if args.all:
        return _stress_all(args, config)
    scenario = load_scenario(args.scenario, config)  # ConfigError: exit 2, naming file and field
    engine = make_engine(_db_url(args))
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            baseline = load_baseline(config, session)
    except NoStoredDataError as err:
        print(f"chainwatch: {err}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    outcome = run_scenario(config, scenario, baseline)
    if args.format == "json":
        print(json.dumps(scenario_document(outcome), ensure_ascii=False, indent=2))
    else:
        print(scenario_table(outcome, config.catalog, wide=args.wide))
        print(f"\n{len(outcome.chains)} chain(s) touched by scenario {outcome.scenario.id}")
    return 0


def _stress_all(args: argparse.Namespace, config) -> int:  # noqa: ANN001
    """``stress --all``: the whole suite on the stored data, stored as one suite run (exit 1: no data)."""
    from monitor.clock import system_clock
    from monitor.config.loader import load_scenarios
    from monitor.store.database import make_engine, migrate, session_factory
    from monitor.cli.stress_table import scenario_table
    from monitor.stress.runs import run_stress_suite, scenario_document

    load_scenarios(config)  # ConfigError: exit 2, naming file and field
    engine = make_engine(_db_url(args))
    try:
        migrate(engine)
        suite = run_stress_suite(config, session_factory(engine), system_clock)
    finally:
        engine.dispose()
    if suite is None:
        print("chainwatch: no scenarios, or no stored trade flows: run `chainwatch assess --once` first",
              file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps({"run_id": suite.run_id, "as_of": suite.as_of.strftime("%Y-%m"),
                          "scenarios": [scenario_document(o) for o in suite.outcomes]}, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(scenario_table(o, config.catalog, wide=args.wide) for o in suite.outcomes))
        print(f"\nstored as stress suite run {suite.run_id} ({len(suite.outcomes)} scenarios)")
    return 0


def _alert_sessions(args: argparse.Namespace):  # noqa: ANN202
    from monitor.store.database import make_engine, migrate, session_factory

    engine = make_engine(_db_url(args))
    migrate(engine)
    return engine, session_factory(engine)


def _alerts(args: argparse.Namespace) -> int:
    from monitor.cli.alerts import acknowledge_alert, list_alerts

    engine, sessions = _alert_sessions(args)
    try:
        if args.alerts_command == "list":
            print(list_alerts(sessions, args.state, args.format, wide=args.wide))
        else:
            print(acknowledge_alert(sessions, args.fingerprint, args.by, args.comment))
    except (KeyError, ValueError) as err:
        raise AlertCommandError(str(err.args[0]) if err.args else str(err)) from None
    finally:
        engine.dispose()
    return 0


def _silence(args: argparse.Namespace) -> int:
    from monitor.cli.alerts import add_silence, expire_silence, list_silences

    engine, sessions = _alert_sessions(args)
    try:
        if args.silence_command == "add":
            print(add_silence(sessions, args.matchers, args.by, args.comment, args.duration, args.start))
        elif args.silence_command == "list":
            print(list_silences(sessions, args.all, args.format, wide=args.wide))
        else:
            print(expire_silence(sessions, args.id))
    except (KeyError, ValueError) as err:
        raise AlertCommandError(str(err.args[0]) if err.args else str(err)) from None
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    console()
