"""Real servers for transfer tests: an HTTP/1.1 file server and an FTP server, on loopback.

The HTTP server is the standard library's ``http.server`` in a thread: it serves
``files`` (GET), stores PUT bodies in ``uploads`` and records every request
head, so a test can check what a charger really sent.  ``/lie/<name>`` announces
twice the bytes it sends, then closes: a download cut half-way.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class FileServer:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    seen: list[SeenRequest] = field(default_factory=list)
    put_status: int = 201


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _record(self, body: bytes = b"") -> None:
            server.seen.append(
                SeenRequest(self.command, self.path, list(self.headers.items()), body)
            )

        def do_GET(self) -> None:
            self._record()
            if self.path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.startswith("/lie/") and self.path[4:] in server.files:
                data = server.files[self.path[4:]]
                self.send_response(200)
                self.send_header("Content-Length", str(2 * len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True
                return
            found = server.files.get(self.path)
            if found is None:
                self.send_error(404, "No such file")
                return
            data = found
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            self._record(body)
            if len(body) < length:  # the client's connection broke: nothing is kept
                self.close_connection = True
                return
            if server.put_status < 300:
                server.uploads[self.path] = body
            self.send_response(server.put_status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    yield from _serve(None)


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[FileServer, Path]]:
    """The file server over TLS, with a self-signed certificate for 127.0.0.1 (its path)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    for server in _serve(tls):
        yield server, cert


def _serve(tls: ssl.SSLContext | None) -> Iterator[FileServer]:
    server = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        # a client refusing the certificate is what one test wants: no traceback
        httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    scheme = "https" if tls is not None else "http"
    server.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@dataclass
class FtpServer:
    url: str
    root: Path
    user: str
    password: str


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    """pyftpdlib on loopback, one user with a password, passive mode as the client uses."""
    with warnings.catch_warnings():  # pyftpdlib on Python 3.11 still imports asyncore
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

    root = tmp_path / "ftp"
    root.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user("tech", "s3cret:pw", str(root), perm="elradfmw")
    handler = type(
        "Handler",
        (FTPHandler,),
        {"authorizer": authorizer, "banner": "test", "auth_failed_timeout": 0},
    )
    ftpd = FTPServer(("127.0.0.1", 0), handler)
    port = ftpd.address[1]
    stop = threading.Event()

    def serve() -> None:  # pyftpdlib's own test pattern: poll, then close in this thread
        while not stop.is_set():
            ftpd.serve_forever(timeout=0.01, blocking=False, handle_exit=False)
        ftpd.close_all()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield FtpServer(f"ftp://127.0.0.1:{port}", root, "tech", "s3cret:pw")
    finally:
        stop.set()
        thread.join(5)
