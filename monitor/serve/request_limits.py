"""What the HTTP server refuses before a request reaches the app.

- Body size (413 instead of reading a huge body): Starlette and uvicorn read any body
  a client sends; a few concurrent multi-gigabyte POSTs would exhaust memory.
  :class:`BodySizeLimit` refuses a request whose ``Content-Length`` is over the limit
  before the app sees it, and stops a body sent without one (chunked) as soon as it
  grows past the limit.
- Control characters in the path (400): ``%00`` decodes to a NUL that made path
  handling raise (a 500 and a traceback in the log); :class:`ControlCharacterGuard`.
- Slow headers: uvicorn's h11 protocol only times out an idle keep-alive connection,
  so a client that sends its headers a byte at a time held a connection for ever
  (slowloris); :func:`header_timeout_protocol` closes one whose headers are not
  complete in time.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    """An error in the API's error body, sent without the app."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """ASGI middleware: answer 413 (the API's error body) to requests larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await _answer(send, 413, "payload_too_large", f"request body larger than {self.max_bytes} bytes")
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's body read: its error handler answers 413.
                    raise HTTPException(413, f"request body larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ControlCharacterGuard:
    """ASGI middleware: answer 400 to a request whose decoded path has a control character.

    No route takes one (ids, names and fingerprints are printable), and a NUL reaching
    the file system raises instead of failing cleanly.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL.search(scope.get("path", "")):
            await _answer(send, 400, "invalid_request", "the request path contains a control character")
            return
        await self.app(scope, receive, send)


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers take over ``seconds``.

    The clock runs from the connection's start and again after each response (waiting
    for the next request on a kept-alive connection); it stops once h11 has parsed a
    request's headers. Pass the result as ``uvicorn.Config(http=...)``.
    """
    if seconds <= 0:
        raise ValueError(f"header timeout must be positive, got {seconds!r}")

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # headers complete: the app's own time from here

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self.transport.close()

    return HeaderTimeoutProtocol
