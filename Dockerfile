# chainwatch service image: `docker build -t chainwatch .` (stack: docker-compose.yml)
# Runs the scheduler and the HTTP server (/metrics, /healthz, /readyz, /api/v1) on port 9464.
# The install step is the tested one: `pip install ".[postgres]"` from the repository root.
# No secrets are baked in: API tokens, webhook secrets and the database URL come from the
# environment at run time (CHAINWATCH_API_TOKENS, CHAINWATCH_WEBHOOK_SECRET, CHAINWATCH_DB_URL).

# --- build: compile wheels (psycopg, numpy... come as wheels; the toolchain stays here) ---
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY indicators ./indicators
COPY alerts ./alerts
COPY config ./config
RUN python -m venv /opt/chainwatch && /opt/chainwatch/bin/pip install ".[postgres]"

# --- runtime: the virtual environment and nothing else ---
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/chainwatch/bin:$PATH
# A small CJK font (5 MB) so Chinese reports (report.language: zh) draw Chinese plot labels.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/chainwatch --create-home chainwatch \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/chainwatch/reports
COPY --from=build /opt/chainwatch /opt/chainwatch
USER 10001
WORKDIR /var/lib/chainwatch
# SQLite in the volume by default; set CHAINWATCH_DB_URL for PostgreSQL (replicas need it).
# reports/ exists in the image, owned by uid 10001, so a named volume mounted there
# starts with that owner (Docker copies it into an empty volume) and reports can be written.
VOLUME ["/var/lib/chainwatch"]
EXPOSE 9464
# /healthz: the process answers (readiness, incl. database and schema, is /readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM (docker stop) lets a running job finish: give the container more than
# scheduler.shutdown_grace_seconds (e.g. `docker stop -t 330`, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["chainwatch"]
CMD ["run", "--host", "0.0.0.0", "--port", "9464", "--log-format", "json"]
