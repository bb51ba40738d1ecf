"""Log records: text or one JSON object per line, with the request id and job id attached.

The HTTP middleware sets :data:`request_id` for the duration of a request and the
job runner sets :data:`job_id` for the duration of a job; :class:`ContextFilter`
copies both onto every record logged meanwhile (in that thread or task), so a line
can be traced back to the request or job that caused it.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

request_id: ContextVar[str | None] = ContextVar("chainwatch_request_id", default=None)
"""Id of the HTTP request being handled (``X-Request-ID``), if any."""
job_id: ContextVar[str | None] = ContextVar("chainwatch_job_id", default=None)
"""Id of the scheduled job being run (``assess``, ``collect:demo``...), if any."""

LOG_FORMATS = ("text", "json")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "context"}


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``job_id`` and a ready-made ``context`` suffix to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the ids (never drops a record)."""
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        parts = [f"request={record.request_id}" if record.request_id else "",
                 f"job={record.job_id}" if record.job_id else ""]
        joined = " ".join(p for p in parts if p)
        record.context = f" [{joined}]" if joined else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, extras and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        document = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            value = getattr(record, key, None)
            if value:
                document[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in document and key not in ("request_id", "job_id"):
                document[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(level: str = "WARNING", fmt: str = "text", stream=None) -> None:  # noqa: ANN001
    """Route every log record to ``stream`` (stderr) as text or JSON lines.

    Raises
    ------
    ValueError
        For an unknown ``fmt``.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
