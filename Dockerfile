# chainwatch service image: `docker build -t chainwatch .`
# Runs the scheduler and the HTTP server (/metrics, /healthz, /readyz) on port 9464.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY indicators ./indicators
COPY alerts ./alerts
COPY config ./config
RUN pip install ".[postgres]" && useradd --system --home /var/lib/chainwatch --create-home chainwatch

USER chainwatch
WORKDIR /var/lib/chainwatch
# SQLite in the volume by default; set CHAINWATCH_DB_URL for PostgreSQL.
VOLUME ["/var/lib/chainwatch"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz').status==200 else 1)"
ENTRYPOINT ["chainwatch"]
CMD ["run", "--host", "0.0.0.0", "--port", "9464"]
