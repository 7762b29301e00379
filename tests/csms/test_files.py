"""Firmware files served with their faults, and diagnostics uploads stored safely, over
real HTTP against the local CSMS."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chargepoint.csms.files import FileFault
from chargepoint.csms.server import LocalCsms

from .conftest import Api

IMAGE = bytes(range(256)) * 400  # 100 KiB


@pytest.fixture
def firmware(csms: LocalCsms, tmp_path: Path) -> str:
    path = tmp_path / "fw-2.0.bin"
    path.write_bytes(IMAGE)
    return csms.offer_firmware(path)


async def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read(), dict(response.headers)


async def test_a_whole_download(csms: LocalCsms, firmware: str) -> None:
    assert firmware == f"{csms.api_url}/firmware/fw-2.0.bin"
    status, data, headers = await fetch(firmware)
    assert status == 200 and hashlib.sha256(data).digest() == hashlib.sha256(IMAGE).digest()
    assert headers["Content-Length"] == str(len(IMAGE))
    [record] = csms.transfers
    assert (record.kind, record.outcome, record.bytes, record.size) == (
        "download",
        "complete",
        len(IMAGE),
        len(IMAGE),
    )


async def test_cut_sends_half_and_drops_the_connection(csms: LocalCsms, firmware: str) -> None:
    csms.set_file_fault(FileFault.CUT)
    with pytest.raises(aiohttp.ClientPayloadError, match=f"received {len(IMAGE) // 2} of"):
        await fetch(firmware)
    assert csms.transfers[-1].outcome == "cut"
    assert csms.transfers[-1].bytes == len(IMAGE) // 2


async def test_slow_sends_everything_paced_at_the_rate(csms: LocalCsms, firmware: str) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the pace, without waiting in the test
        waits.append(seconds)

    csms.firmware.sleep = sleep
    csms.set_file_fault("slow", rate=25_600)
    status, data, _ = await fetch(firmware)
    assert status == 200 and data == IMAGE
    # 2560-byte chunks (0.1 s each at 25600 B/s): 40 of them, 4 s in all.
    assert len(waits) == 40 and sum(waits) == pytest.approx(len(IMAGE) / 25_600)
    assert csms.transfers[-1].paced_s == pytest.approx(4.0)


async def test_fail_once_refuses_the_first_request_per_file(
    csms: LocalCsms, firmware: str, tmp_path: Path
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(b"x" * 10)
    other_url = csms.offer_firmware(other)
    csms.set_file_fault("fail-once")
    status, body, headers = await fetch(firmware)
    assert status == 503 and b"fail-once" in body and headers["Retry-After"] == "1"
    assert (await fetch(firmware))[:2] == (200, IMAGE)
    assert (await fetch(other_url))[0] == 503  # each file fails once
    assert (await fetch(other_url))[0] == 200
    assert [t.outcome for t in csms.transfers] == [
        "refused (503, fail-once)",
        "complete",
        "refused (503, fail-once)",
        "complete",
    ]


async def test_a_fault_for_one_file_set_through_the_api(
    api: Api, csms: LocalCsms, firmware: str
) -> None:
    status, body = await api.post("/api/files/fault", {"fault": "cut", "name": "fw-2.0.bin"})
    assert status == 200 and body["faults"] == {"fw-2.0.bin": {"fault": "cut", "rate": 8192}}
    with pytest.raises(aiohttp.ClientPayloadError):
        await fetch(firmware)
    await api.post("/api/files/fault", {"fault": "none", "name": "fw-2.0.bin"})
    assert (await fetch(firmware))[:2] == (200, IMAGE)
    status, body = await api.get("/api/files")
    assert body["firmware"]["fw-2.0.bin"] == {"size": len(IMAGE), "url": firmware}
    assert [t["outcome"] for t in body["transfers"]] == ["cut", "complete"]


async def test_an_unknown_file_is_a_json_404(csms: LocalCsms, firmware: str) -> None:
    status, body, _ = await fetch(csms.firmware_url("nope.bin"))
    assert status == 404 and b"fw-2.0.bin" in body and b"--firmware" in body


def test_offering_an_unreadable_file_or_a_taken_name_fails(tmp_path: Path) -> None:
    csms = LocalCsms(port=0)
    with pytest.raises(ValueError, match="not a readable file"):
        csms.offer_firmware(tmp_path / "missing.bin")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "fw.bin").write_bytes(b"1")
    (tmp_path / "fw.bin").write_bytes(b"2")
    csms.offer_firmware(tmp_path / "a" / "fw.bin")
    with pytest.raises(ValueError, match="already offered"):
        csms.offer_firmware(tmp_path / "fw.bin")


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


@pytest.fixture
async def uploads(tmp_path: Path) -> AsyncIterator[LocalCsms]:
    async with LocalCsms(port=0, uploads_dir=tmp_path / "up", max_upload=1000) as csms:
        yield csms


async def send(
    csms: LocalCsms, method: str, path: str, **kwargs: object
) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, csms.api_url + path, **kwargs) as response,  # type: ignore[arg-type]
    ):
        return response.status, await response.json()


async def test_put_and_post_uploads_are_stored(uploads: LocalCsms, tmp_path: Path) -> None:
    assert await send(uploads, "PUT", "/diagnostics/diag.zip", data=b"put body") == (
        201,
        {"stored": "diag.zip", "bytes": 8},
    )
    status, body = await send(uploads, "POST", "/diagnostics/diag.zip", data=b"raw post")
    assert (status, body["stored"]) == (201, "diag.zip.1")  # never overwritten
    form = aiohttp.FormData()
    form.add_field("file", b"multipart body", filename="log 1.txt")
    status, body = await send(uploads, "POST", "/diagnostics/", data=form)
    assert (status, body["stored"]) == (201, "log_1.txt")
    stored = tmp_path / "up"
    assert (stored / "diag.zip").read_bytes() == b"put body"
    assert (stored / "diag.zip.1").read_bytes() == b"raw post"
    assert (stored / "log_1.txt").read_bytes() == b"multipart body"
    assert [t.name for t in uploads.uploads.received] == ["diag.zip", "diag.zip.1", "log_1.txt"]


@pytest.mark.parametrize(
    "name,status,problem",
    [
        ("..%2Fescape", 400, "bad_input"),
        ("a%2Fb", 400, "bad_input"),
        ("a%5Cb", 400, "bad_input"),
        ("%2E%2E", 404, "unknown_route"),  # the URL's dot-segment is resolved: /diagnostics/..
        ("..", 404, "unknown_route"),
    ],
)
async def test_a_path_as_name_is_refused(
    uploads: LocalCsms, tmp_path: Path, name: str, status: int, problem: str
) -> None:
    answer = await send(uploads, "PUT", f"/diagnostics/{name}", data=b"x")
    assert (answer[0], answer[1]["problem"]) == (status, problem), answer
    if status == 400:
        assert answer[1]["field"] == "name" and "is a path" in str(answer[1]["error"])
    assert files_under(tmp_path) == []


async def test_too_large_is_413_and_nothing_is_kept(uploads: LocalCsms, tmp_path: Path) -> None:
    status, body = await send(uploads, "PUT", "/diagnostics/big.zip", data=b"x" * 1001)
    assert (status, body["problem"]) == (413, "too_large")

    async def stream():  # no Content-Length: the bound is found while reading
        for _ in range(5):
            yield b"y" * 300

    status, body = await send(uploads, "PUT", "/diagnostics/big.zip", data=stream())
    assert (status, body["problem"]) == (413, "too_large")
    assert files_under(tmp_path) == []
    assert uploads.uploads.received == []


async def test_a_cross_site_upload_is_refused(uploads: LocalCsms) -> None:
    headers = {"Origin": "http://attacker.example"}
    status, body = await send(uploads, "PUT", "/diagnostics/a.zip", data=b"x", headers=headers)
    assert (status, body["problem"]) == (403, "bad_origin")


async def test_uploads_go_to_a_temp_dir_made_at_the_first_one() -> None:
    async with LocalCsms(port=0) as csms:
        assert csms.uploads.directory is None
        assert (await send(csms, "PUT", "/diagnostics/d.txt", data=b"abc"))[0] == 201
        assert csms.uploads.directory is not None
        assert (csms.uploads.directory / "d.txt").read_bytes() == b"abc"


async def wait_outcome(csms: LocalCsms, prefix: str) -> str:
    async with asyncio.timeout(5):
        while not (csms.transfers and csms.transfers[-1].outcome.startswith(prefix)):
            await asyncio.sleep(0.01)
    return csms.transfers[-1].outcome


async def test_a_charger_that_goes_away_mid_download_is_recorded(
    csms: LocalCsms, firmware: str, caplog: pytest.LogCaptureFixture
) -> None:
    csms.set_file_fault("slow", rate=100_000)
    async with aiohttp.ClientSession() as session, session.get(firmware) as response:
        await response.content.readexactly(1000)
    assert "failed after" in await wait_outcome(csms, "failed")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_upload_cut_mid_body_keeps_nothing(uploads: LocalCsms, tmp_path: Path) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", uploads.http_port)
    writer.write(
        b"PUT /diagnostics/x.zip HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 900\r\n\r\n"
        + b"a" * 100
    )
    await writer.drain()
    async with asyncio.timeout(5):
        while not files_under(tmp_path):  # until the server is writing it
            await asyncio.sleep(0.01)
    writer.close()
    assert (await wait_outcome(uploads, "failed")).startswith("failed after 100 bytes")
    assert files_under(tmp_path) == [] and uploads.uploads.received == []
