"""``cpsim modem check --dialect esp-at --csms-url wss://... --ca-file CA.pem``: the TLS row
proves the module's own verified handshake (certificates stored, clock set, auth_mode 2
or 3, AT+WSOPEN wss://), and a failure, a bare ERROR from the module, is named by the
same handshake run from this computer: each cause has its own verdict."""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from espat.helpers import PASSWORD, SSID, esp, esp_emulator
from fieldtest.conftest import invoke
from websockets.asyncio.server import ServerConnection, serve

from chargepoint.cli.fieldtest import check
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.fieldtest import CsmsTarget, PortOptions, ReachOptions, judge
from chargepoint.fieldtest.espat import WifiOptions, run_wifi_check
from chargepoint.fieldtest.espat_tls import HostProbe, ProbeOutcome, diagnosis
from chargepoint.security.pki import DevelopmentPki, init_pki
from chargepoint.transport.tlssettings import tls_settings
from modem.diagnostics import Report, Status
from modem.emulator import Emulator

KEY = "0123456789abcdef0123456789abcdef"


def tls_csms(
    pki: DevelopmentPki, tmp_path: Path, client_ca: bool = False, password: bool = False
) -> LocalCsms:
    return LocalCsms(
        port=0,
        log_path=tmp_path / "csms.jsonl",
        credentials=Credentials(shared=KEY) if password else None,
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path if client_ca else None,
    )


@contextlib.asynccontextmanager
async def raw_wss(cert: Path, key: Path) -> AsyncIterator[str]:
    """A wss:// OCPP server with any certificate (an expired one too, which the local
    CSMS refuses to serve); yields its base URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=context, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        yield f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocpp"


def args(emu: Emulator, url: str, *extra: str) -> list[str]:
    return [
        "--port",
        emu.port_url,
        "--dialect",
        "esp-at",
        "--ssid",
        SSID,
        "--wifi-password",
        PASSWORD,
        "--csms-url",
        url + "/CP001",
        "--ping-count",
        "0",
        "--json",
        *extra,
    ]


def row(report: dict, name: str) -> dict:
    return next(r for r in report["checks"] if r["name"] == name)


async def run(emu: Emulator, url: str, *extra: str) -> tuple[int, dict]:
    result = await invoke(check, args(emu, url, *extra))
    return result.exit_code, json.loads(result.stdout)


async def test_the_modules_tls_handshake_and_chain_are_proven(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    async with tls_csms(pki, tmp_path, password=True) as csms, esp_emulator() as emu:
        code, report = await run(
            emu,
            csms.url,
            "--ca-file",
            str(pki.ca.cert_path),
            "--password",
            KEY,
            "--at-log",
            str(at_log),
        )
        assert csms.frames.calls("CP001", "BootNotification")
    assert code == 0, report["verdict"]
    names = [r["name"] for r in report["checks"]]
    assert names[-4:] == ["ping", "TLS", "WebSocket", "BootNotification"]
    tls = row(report, "TLS")
    assert tls["status"] == "pass"
    assert "certificate chain verified by the module against ca.pem" in tls["figure"]
    assert "by SNTP" in tls["figure"] and tls["data"]["auth_mode"] == 2
    assert row(report, "WebSocket")["figure"].startswith("+WS_CONNECTED over TLS, ocpp1.6")
    trace = at_log.read_text()
    assert 'AT+SYSMFG=2,"wss_ca","wss_ca.0",8,' in trace
    assert trace.index("AT+CIPSNTPCFG=1,0,") < trace.index('AT+WSOPEN=0,"wss://')
    assert ",2,0,0\n" in trace  # AT+WSCFG auth_mode 2
    assert KEY not in trace


async def test_profile_3_presents_the_client_certificate(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    cp = pki.chargers["CP001"]
    files = ["--ca-file", str(pki.ca.cert_path), "--cert", str(cp.cert_path)]
    async with tls_csms(pki, tmp_path, client_ca=True) as csms, esp_emulator() as emu:
        code, report = await run(emu, csms.url, *files, "--key", str(cp.key_path))
        presented = csms.client_serials["CP001"]
        writes = esp(emu).mfg_writes
    assert code == 0, report["verdict"]
    assert "client certificate accepted" in row(report, "TLS")["figure"]
    assert int(presented, 16) == cp.cert.serial_number
    assert writes == 3  # wss_ca, wss_cert, wss_key


@pytest.fixture(scope="module")
def wrong_host_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("wrong-host"), csms_names=("csms.example.com",))


@pytest.fixture(scope="module")
def expired_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    import datetime as dt

    three_years_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3 * 365)
    return init_pki(tmp_path_factory.mktemp("expired"), now=three_years_ago)  # CA still valid


@pytest.mark.parametrize(
    ("case", "reason", "words"),
    [
        ("other-ca", "tls-untrusted-ca", "is not signed by ca.pem: get the CA that signed it"),
        ("wrong-host", "tls-wrong-host", "the CSMS certificate is not for the host in the URL"),
        ("expired", "tls-expired", "has expired: the CSMS operator must renew it"),
        ("client-cert", "tls-client-cert", "wants a client certificate it accepts"),
        ("plain-ws", "tls-not-tls", "does not speak TLS: check whether the CSMS URL is ws://"),
        ("module", "tls-esp-module", "though this computer can with the same files"),
    ],
)
async def test_each_tls_failure_has_its_own_verdict(
    pki: DevelopmentPki,
    other_pki: DevelopmentPki,
    wrong_host_pki: DevelopmentPki,
    expired_pki: DevelopmentPki,
    tmp_path: Path,
    case: str,
    reason: str,
    words: str,
) -> None:
    ca = {"wrong-host": wrong_host_pki, "expired": expired_pki}.get(case, pki).ca.cert_path
    async with contextlib.AsyncExitStack() as stack:
        emu = await stack.enter_async_context(esp_emulator())
        if case == "expired":
            csms_pki = expired_pki.csms
            url = await stack.enter_async_context(raw_wss(csms_pki.cert_path, csms_pki.key_path))
        elif case == "plain-ws":
            csms = await stack.enter_async_context(LocalCsms(port=0))
            url = csms.url.replace("ws://", "wss://")
        else:
            server = {"other-ca": other_pki, "wrong-host": wrong_host_pki}.get(case, pki)
            csms = await stack.enter_async_context(
                tls_csms(server, tmp_path, client_ca=case == "client-cert")
            )
            url = csms.url
        if case == "module":
            emu.faults.tls_handshake_fail(1)
        code, report = await run(emu, url, "--ca-file", str(ca))
    assert code == 1
    tls = row(report, "TLS")
    assert (tls["status"], tls["reason"]) == ("fail", reason), tls
    assert "AT+WSOPEN wss:// (auth_mode 2) -> ERROR" in tls["detail"]
    assert words in report["verdict"]["summary"]
    assert row(report, "WebSocket")["status"] == "skip"


async def test_a_refused_upgrade_is_not_blamed_on_tls(pki: DevelopmentPki, tmp_path: Path) -> None:
    async with tls_csms(pki, tmp_path, password=True) as csms, esp_emulator() as emu:
        code, report = await run(
            emu, csms.url, "--ca-file", str(pki.ca.cert_path), "--password", "wrong-password"
        )
    assert code == 1
    assert (row(report, "TLS")["status"], row(report, "TLS")["reason"]) == ("warn", "tls-host-only")
    ws = row(report, "WebSocket")
    assert (ws["status"], ws["reason"]) == ("fail", "http-401")
    assert report["verdict"]["summary"].startswith("the CSMS refused the credentials (HTTP 401)")


async def test_a_clock_sntp_cannot_set_is_named(pki: DevelopmentPki, tmp_path: Path) -> None:
    async with tls_csms(pki, tmp_path) as csms, esp_emulator() as emu:
        emu.faults.block_sntp(True)
        target = CsmsTarget.parse(csms.url, "CP001", tls=tls_settings(2, pki.ca.cert_path))
        options = WifiOptions(
            PortOptions(emu.port_url),
            SSID,
            PASSWORD,
            target,
            ReachOptions(ping_count=0, clock_timeout=0.5, ntp_server="ntp.lab"),
        )
        report = Report()
        await run_wifi_check(options, report)
        assert csms.frames.frames == []  # nothing reached the CSMS
    tls = report.get("TLS")
    assert tls is not None and tls.reason == "tls-clock-sntp"
    assert "ntp.lab" in tls.detail
    assert judge(report.results).summary.startswith("the module's clock was not set by SNTP")


async def test_wss_without_a_ca_file_is_not_proven_and_sends_nothing(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    async with tls_csms(pki, tmp_path, password=True) as csms, esp_emulator() as emu:
        code, report = await run(emu, csms.url, "--password", KEY)
        assert csms.frames.frames == []
    assert code == 1
    assert row(report, "TLS")["status"] == "skip"
    assert report["verdict"]["summary"] == (
        "not proven: TLS could not run (no --ca-file to verify the CSMS certificate with)"
    )


async def test_a_closed_port_is_named_below_tls(pki: DevelopmentPki, tmp_path: Path) -> None:
    async with esp_emulator() as emu:
        code, report = await run(emu, "wss://127.0.0.1:9", "--ca-file", str(pki.ca.cert_path))
    assert code == 1
    tls = row(report, "TLS")
    assert (tls["reason"], tls["data"]["host_probe"]) == ("tls-tcp", "refused")
    assert "connection to 127.0.0.1:9 is refused too: nothing listens there" in tls["detail"]


def test_a_csms_this_computer_cannot_reach_lists_the_modules_causes() -> None:
    target = CsmsTarget.parse("wss://csms.example.com:443/ocpp", "CP001")
    causes = "ESP-AT does not say why a TLS open failed; check, most likely first: ..."
    probe = HostProbe(ProbeOutcome.UNREACHABLE, "timed out")
    tls, ws = diagnosis(probe, target, "AT+WSOPEN -> ERROR", causes, "ca.pem", {}, {})
    assert ws is None and (tls.status, tls.reason) == (Status.FAIL, "tls-esp-unknown")
    assert tls.detail == (
        f"{causes} (this computer cannot reach csms.example.com:443 to tell which: timed out)"
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--ca-file", "{missing}"], "CA file {missing}: no such file"),
        (["--ca-file", "{ca}", "--cert", "{cert}"], "--cert is given without --key"),
        (["--ca-file", "{ca}", "--cert", "{cert}", "--key", "{other_key}"], "does not belong"),
        (["--cert", "{cert}", "--key", "{key}"], "--cert/--key need --ca-file"),
        (["--ca-file", "{ca}", "--ntp-server", 'ntp",x'], "an NTP server is a host name"),
    ],
)
async def test_bad_files_are_usage_errors_before_any_port_opens(
    pki: DevelopmentPki, other_pki: DevelopmentPki, tmp_path: Path, extra: list[str], words: str
) -> None:
    names = {
        "missing": str(tmp_path / "nope.pem"),
        "ca": str(pki.ca.cert_path),
        "cert": str(pki.chargers["CP001"].cert_path),
        "key": str(pki.chargers["CP001"].key_path),
        "other_key": str(other_pki.chargers["CP001"].key_path),
    }
    base = ["--port", "/dev/ttyNOPE", "--dialect", "esp-at", "--csms-url", "wss://h:1/o/CP1"]
    result = await invoke(check, [*base, *(e.format(**names) for e in extra)])
    assert result.exit_code == 2, result.output
    assert words.format(**names) in " ".join(result.output.split())
