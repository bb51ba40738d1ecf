"""Test doubles for collectors: a fake clock/sleep, scripted transports, a real local server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from monitor.collect.http import HttpOptions

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_text(relative: str) -> str:
    """The text of ``tests/fixtures/<relative>``."""
    return (FIXTURES / relative).read_text(encoding="utf-8")


def fixture_json(relative: str):
    """The parsed JSON of ``tests/fixtures/<relative>``."""
    return json.loads(fixture_text(relative))


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A MockTransport handler answering from a queue of responses (then a default), logging requests."""

    def __init__(self, *responses: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response],
                 default: Callable[[httpx.Request], httpx.Response] | None = None):
        self.queue = list(responses)
        self.default = default
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.queue.pop(0) if self.queue else self.default
        if item is None:
            raise AssertionError(f"unexpected request {request.url}")
        if isinstance(item, Exception):
            raise item
        if callable(item) and not isinstance(item, httpx.Response):
            return item(request)
        return item


def options(handler: Callable[[httpx.Request], httpx.Response], fake: FakeTime | None = None,
            observer=None) -> HttpOptions:
    """HttpOptions with a MockTransport and fake time (no real sleeping, no jitter)."""
    fake = fake or FakeTime()
    return HttpOptions(transport=httpx.MockTransport(handler), sleep=fake.sleep, monotonic=fake.monotonic,
                       jitter=lambda: 1.0, observer=observer)


def json_response(document, status: int = 200, headers: dict | None = None) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, json=document, headers=headers)


def html_response(status: int = 200) -> httpx.Response:
    """An HTML error page (what a proxy or a maintenance page sends)."""
    return httpx.Response(status, text=fixture_text("comtrade/gateway_error.html"),
                          headers={"Content-Type": "text/html; charset=utf-8"})


@contextmanager
def local_server(handler: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 calling ``handler(request_handler)`` for each GET; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handler(self)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes | str,
         content_type: str = "application/json", headers: dict | None = None) -> None:
    """Write one complete response from a local-server handler."""
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
