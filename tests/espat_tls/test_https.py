"""https:// file transfers verified by the module (AT+HTTPCFG, https_* certificates)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from espat.helpers import PASSWORD, SSID, esp, esp_emulator

from chargepoint.security.pki import DevelopmentPki
from chargepoint.security.tlsfiles import check_identity, server_context
from chargepoint.transport.espat import EspAtLink, EspAtSettings
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.tlssettings import tls_settings
from chargepoint.transport.transfer import TransferError

FIRMWARE = bytes(range(256)) * 40


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(FIRMWARE)))
        self.end_headers()
        self.wfile.write(FIRMWARE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_server(pki: DevelopmentPki, other_pki: DevelopmentPki) -> Iterator[list[str]]:
    """Two HTTPS servers on loopback: one with a certificate of ``pki``, one of ``other_pki``."""
    servers, urls = [], []
    for issuer in (pki, other_pki):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
        context = server_context(check_identity(issuer.csms.cert_path, issuer.csms.key_path))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls.append(f"https://127.0.0.1:{server.server_address[1]}/fw.bin")
    yield urls
    for server in servers:
        server.shutdown()
        server.server_close()


async def test_https_download_verified_against_the_link_ca(
    tmp_path: Path, pki: DevelopmentPki, https_server: list[str]
) -> None:
    trusted, foreign = https_server
    async with esp_emulator() as emu:
        link = EspAtLink(
            Endpoint("wss://localhost:1/ocpp", "CP001"),
            EspAtSettings(
                emu.port_url, SSID, PASSWORD, at_log=tmp_path / "at.log", https_verify=True
            ),
            tls=tls_settings(2, pki.ca.cert_path),
        )
        try:
            transfer = link.file_transfer()
            assert await transfer.download(trusted, 1 << 20) == FIRMWARE
            with pytest.raises(TransferError):
                await transfer.download(foreign, 1 << 20)
            assert "CERTIFICATE_VERIFY_FAILED" in (esp(emu).last_tls_error or "")
        finally:
            await link.aclose()
    trace = (tmp_path / "at.log").read_text()
    assert 'AT+SYSMFG=2,"https_ca","https_ca.0",8,' in trace
    assert trace.count("AT+HTTPCFG=2,0,0") == 1  # set once, kept for the next transfer
    assert trace.index("AT+CIPSNTPCFG=") < trace.index("AT+HTTPCGET=")
