"""A real local HTTP server in a thread (the standard library's), standing in for the
firmware server and the diagnostics receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

STALL = 10.0  # seconds /stall waits at most (the test ends it sooner)


@dataclass
class LocalHttpFiles:
    """``files``: path -> body served to GET; uploads (PUT/POST) land in ``uploads``."""

    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # method, body, type
    requests: list[tuple[str, str]] = field(default_factory=list)  # method, path
    port: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)  # set: stop stalling

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(state: LocalHttpFiles) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            state.requests.append(("GET", self.path))
            if self.path == "/chunked":  # no Content-Length: AT+HTTPGETSIZE cannot size it
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"no length here")
                return
            if self.path == "/stall":  # half the body, then silence past the module's timeout
                self.send_response(200)
                self.send_header("Content-Length", "2000")
                self.end_headers()
                self.wfile.write(b"s" * 1000)
                self.wfile.flush()
                state.stalled.wait(STALL)
                return
            body = state.files.get(self.path)
            if body is None:
                self._answer(404, b"not found: " + self.path.encode())
                return
            self._answer(200, body, "application/octet-stream")

        def _upload(self) -> None:
            state.requests.append((self.command, self.path))
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path.startswith("/forbidden/"):
                self._answer(403, b"uploads are closed")
                return
            state.uploads[self.path] = (self.command, body, self.headers.get("Content-Type", ""))
            self._answer(201, b"stored %d bytes" % len(body))

        do_PUT = _upload  # noqa: N815
        do_POST = _upload  # noqa: N815

        def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def http_server() -> Iterator[LocalHttpFiles]:
    state = LocalHttpFiles()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stalled.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
