"""A real local HTTP server that records webhook requests (for end-to-end tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class RecordingReceiver:
    """Starts on 127.0.0.1 on a free port; answers every POST with ``status``."""

    def __init__(self, status: int = 200):
        self.status = status
        self.reply_headers: dict[str, str] = {}
        self.reply_body = b""
        self.requests: list[RecordedRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(RecordedRequest(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                for name, value in receiver.reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.reply_body)))
                self.end_headers()
                self.wfile.write(receiver.reply_body)

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's webhook URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self) -> "RecordingReceiver":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class DedupReceiver:
    """A receiver that de-duplicates on ``Idempotency-Key``, as the contract asks of receivers.

    ``acknowledged[key]`` counts how often a key was processed (must end at 1);
    ``duplicates[key]`` how often it came again and was dropped. With
    ``block_on=n`` the n-th new key is processed and then the answer is held back
    until :meth:`release`: the sender never learns it was acknowledged (the
    worst moment for a crash).
    """

    def __init__(self, block_on: int | None = None):
        self.acknowledged: dict[str, int] = {}
        self.duplicates: dict[str, int] = {}
        self.blocked = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                with receiver._lock:
                    if key in receiver.acknowledged:
                        receiver.duplicates[key] = receiver.duplicates.get(key, 0) + 1
                        hold = False
                    else:
                        receiver.acknowledged[key] = 1
                        hold = block_on is not None and len(receiver.acknowledged) == block_on
                if hold:
                    receiver.blocked.set()
                    receiver._release.wait(60)
                    self.close_connection = True
                    return  # processed, but the answer never leaves
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's webhook URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def release(self) -> None:
        """Let a held request finish (its sender is gone by then)."""
        self._release.set()

    def __enter__(self) -> "DedupReceiver":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
