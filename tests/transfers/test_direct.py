"""The direct link's transfers against real local servers (HTTP: http.server; FTP: pyftpdlib)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from chargepoint.transport.direct import DirectLink
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.transfer import (
    FileTransfer,
    TransferError,
    TransferTooLarge,
    UnsupportedScheme,
)
from chargepoint.transport.transfers_direct import DirectTransfer

from .conftest import FileServer, FtpServer

IMAGE = bytes(range(256)) * 1024  # 256 kB with every byte value


@pytest.fixture
def transfer() -> FileTransfer:
    return DirectLink(Endpoint("ws://127.0.0.1:9/ocpp", "CP1"), open_timeout=5).file_transfer()


async def test_http_download_and_upload(file_server: FileServer, transfer: FileTransfer) -> None:
    file_server.files["/fw/v2.bin"] = IMAGE
    assert await transfer.download(f"{file_server.url}/fw/v2.bin", len(IMAGE)) == IMAGE
    await transfer.upload(f"{file_server.url}/diagnostics/", "CP1-diag.zip", IMAGE[:5000])
    assert file_server.uploads == {"/diagnostics/CP1-diag.zip": IMAGE[:5000]}
    assert [r.header_values("Host") for r in file_server.seen] == [
        [file_server.url.removeprefix("http://")]
    ] * 2


async def test_http_failures_name_the_place(
    file_server: FileServer, transfer: FileTransfer
) -> None:
    file_server.files["/fw/v2.bin"] = IMAGE
    with pytest.raises(TransferError, match=f"cut after {len(IMAGE)} of {2 * len(IMAGE)} bytes"):
        await transfer.download(f"{file_server.url}/lie/fw/v2.bin", 10 * len(IMAGE))
    with pytest.raises(TransferTooLarge, match=f"{len(IMAGE)} bytes, more than"):
        await transfer.download(f"{file_server.url}/fw/v2.bin", len(IMAGE) - 1)
    with pytest.raises(TransferError, match=r"/fw/v3.bin: HTTP 404"):
        await transfer.download(f"{file_server.url}/fw/v3.bin", len(IMAGE))
    file_server.put_status = 403
    with pytest.raises(TransferError, match=r"/up/d.zip: HTTP 403 Forbidden"):
        await transfer.upload(f"{file_server.url}/up", "d.zip", b"data")


async def test_http_redirect(file_server: FileServer, transfer: FileTransfer) -> None:
    file_server.files["/fw/v2.bin"] = IMAGE
    file_server.redirects["/latest"] = "/fw/v2.bin"
    assert await transfer.download(f"{file_server.url}/latest", len(IMAGE)) == IMAGE


async def test_nothing_listening(transfer: FileTransfer) -> None:
    with pytest.raises(TransferError, match=r"http://127.0.0.1:9/fw.bin: .*refused"):
        await transfer.download("http://127.0.0.1:9/fw.bin", 100)


async def test_a_scheme_it_cannot_carry(transfer: FileTransfer) -> None:
    with pytest.raises(UnsupportedScheme, match="cannot carry sftp://"):
        await transfer.download("sftp://host/fw.bin", 100)


async def test_ftp_download_and_upload(ftp_server: FtpServer, transfer: FileTransfer) -> None:
    (ftp_server.root / "fw").mkdir()
    (ftp_server.root / "fw" / "v2.bin").write_bytes(IMAGE)
    (ftp_server.root / "diag").mkdir()
    base = ftp_server.url.replace("ftp://", "ftp://tech:s3cret%3Apw@")
    assert await transfer.download(f"{base}/fw/v2.bin", len(IMAGE)) == IMAGE
    await transfer.upload(f"{base}/diag/", "CP1-diag.zip", IMAGE[:7000])
    assert (ftp_server.root / "diag" / "CP1-diag.zip").read_bytes() == IMAGE[:7000]
    with pytest.raises(TransferTooLarge, match="more than the 1000 bytes"):
        await transfer.download(f"{base}/fw/v2.bin", 1000)
    with pytest.raises(TransferError, match="FTP refused: 550") as caught:
        await transfer.download(f"{base}/fw/none.bin", 1000)
    assert "s3cret" not in str(caught.value)


async def test_ftp_wrong_password_never_shows_it(
    ftp_server: FtpServer, transfer: FileTransfer
) -> None:
    url = ftp_server.url.replace("ftp://", "ftp://tech:wrong-pw@") + "/fw/v2.bin"
    with pytest.raises(TransferError, match="FTP refused: 530") as caught:
        await transfer.download(url, 1000)
    assert "wrong-pw" not in str(caught.value)


async def test_https_checks_the_certificate(https_server: tuple[FileServer, Path]) -> None:
    server, cert = https_server
    server.files["/fw/v2.bin"] = IMAGE
    url = f"{server.url}/fw/v2.bin"
    with pytest.raises(TransferError, match=r"https://127.0.0.1:\d+/fw/v2.bin: TLS failed: "):
        await DirectTransfer().download(url, len(IMAGE))  # self-signed: not in the system CAs
    trusting = DirectTransfer(ssl_context=ssl.create_default_context(cafile=str(cert)))
    assert await trusting.download(url, len(IMAGE)) == IMAGE
    await trusting.upload(f"{server.url}/diag", "d.zip", b"zip")
    assert server.uploads == {"/diag/d.zip": b"zip"}
