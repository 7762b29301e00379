"""Values a link cannot send safely are usage errors naming the option, before anything opens.

Each case runs the command as a user would (click's runner, in process) with a port
that does not exist and a state dir that does not exist yet: the error must be the
one-line usage error (exit 2) naming the option, no secret may be in it, and neither
the port nor the state dir nor a socket may have been touched.  The ids a URL path
cannot hold as they are travel percent-encoded: a CSMS decoding the path gets the id.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest
import serial
from click.testing import CliRunner, Result
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from chargepoint.cli import main
from chargepoint.transport import atsafe
from chargepoint.transport.handshake import Endpoint, check_charge_point_id, path_segment
from modem.emulator import run_emulator
from modem.espat import EspAtModem

CPSIM = [sys.executable, "-m", "chargepoint"]
PORT = "/dev/ttyNOPE9"  # never opened: "no such port" must never be reported
SECRET = "s3cretXYZ"  # in every password below: it must never be echoed

EC200U = ["--modem", "ec200u", "--port", PORT]
ESP_AT = ["--modem", "esp-at", "--port", PORT, "--wifi-ssid", "lab"]
LONG_PATH = "ws://csms.example.com/" + "o" * 180  # fits AT+WSOPEN, not with a long id


@pytest.fixture
def nothing_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a command gets as far as building a charger or running a check."""

    def opened(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command went on to open something")

    run_module = importlib.import_module("chargepoint.cli.run")  # the package's `run` is
    fieldtest = importlib.import_module("chargepoint.cli.fieldtest")  # the click command
    for module, name in (
        (run_module, "assemble"),
        (run_module, "run_until_interrupted"),
        (fieldtest, "run_check"),
        (fieldtest, "run_scan"),
        (fieldtest, "_wifi_runner"),
        (serial, "serial_for_url"),
    ):
        monkeypatch.setattr(module, name, opened)


def _usage_error(result: Result, option: str, message: str) -> str:
    """The one ``Error:`` line; checks exit 2, the option, the message and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    line = errors[0]
    assert f"Invalid value for '{option}'" in line, line
    assert message in line, line
    assert SECRET not in result.output
    assert "no such port" not in result.output and PORT not in result.output
    assert "Traceback" not in result.output
    return line


def _run(tmp_path: Path, *args: str, url: str = "ws://h/ocpp", cp_id: str = "CP1") -> Result:
    state = tmp_path / "state"
    result = CliRunner().invoke(
        main, ["run", "--id", cp_id, "--url", url, "--state-dir", str(state), *args]
    )
    assert not state.exists(), "the state dir was created"
    return result


# -- cpsim run: the CSMS URL -------------------------------------------------------------


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("url", "link", "message"),
    [
        ("ws://h/oc\r\npp", [], "contains a carriage return (CR)"),
        ("ws://h/ocpp\n", [], "contains a line feed (LF)"),
        ("ws://h/oc\x00pp", EC200U + ["--apn", "internet"], "contains a NUL byte"),
        ("ws://h/oc\bpp", ESP_AT, "contains a backspace"),
        ("ws://h/oc\x1bpp", [], "contains an escape character"),
        ('ws://h/oc"pp', ESP_AT, "contains a double quote, which a URL cannot hold"),
        ("ws://h/oc pp", [], "contains a space"),
        ("ws://h/oc\\pp", [], "contains '\\\\'"),
        ("ws://h/oc%zzpp", [], "'%' not followed by two hex digits"),
        ("ws://h/ocpp?", [], "no ?query or #fragment"),
        ("ws://h/ocpp#", [], "no ?query or #fragment"),
        ("ws://[::1]:9/oc[pp]", [], "the URL path contains '['"),
        (LONG_PATH + "x" * 60, ESP_AT, "AT+WSOPEN with this URL and charge-point id is"),
        ("ws://h/d\u00e9p\u00f4t", ESP_AT, "contains a non-ASCII character (U+00E9)"),
        ("ws://h/ocpp", EC200U + ["--apn", "internet", "--security-profile", "2"], "wss://"),
        ("wss://h/ocpp", ["--ws-client", "sansio", "--security-profile", "1"], "with ws://"),
    ],
)
def test_run_refuses_a_url_it_cannot_send(
    tmp_path: Path, url: str, link: list[str], message: str
) -> None:
    _usage_error(_run(tmp_path, *link, url=url), "--url", message)


@pytest.mark.usefixtures("nothing_opens")
def test_run_masks_a_password_in_the_url(tmp_path: Path) -> None:
    line = _usage_error(
        _run(tmp_path, url=f"ws://cp:{SECRET}@h:99999/ocpp"), "--url", "Port out of range"
    )
    assert "ws://cp:***@h:99999/ocpp" in line


@pytest.mark.usefixtures("nothing_opens")
def test_run_esp_at_refuses_an_id_that_makes_the_url_too_long(tmp_path: Path) -> None:
    """The URL alone fits AT+WSOPEN's 256 bytes; with a 48-character id it does not."""
    assert atsafe.esp_url_problem(Endpoint(LONG_PATH, "CP1").url) is None
    _usage_error(
        _run(tmp_path, *ESP_AT, url=LONG_PATH, cp_id="C" * 48),
        "--url",
        "shorten the CSMS URL or the charge-point id",
    )


@pytest.mark.usefixtures("nothing_opens")
def test_wss_through_esp_at_is_not_refused(tmp_path: Path) -> None:
    """The ESP-AT module does TLS itself, so only the EC200U and sansio links refuse wss://."""
    result = _run(tmp_path, *ESP_AT, url="wss://h/ocpp")
    assert isinstance(result.exception, AssertionError), result.output
    assert "went on to open" in str(result.exception)


# -- cpsim run: the charge-point id, the headers, the passwords --------------------------


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("cp_id", "message"),
    [
        ("..", "cannot be '..': a URL path drops it as a dot-segment"),
        (".", "cannot be '.'"),
        ("CP\r1", "contains '\\r'"),
        ("CP\x001", "contains '\\x00'"),
    ],
)
def test_run_refuses_an_id_it_cannot_send(tmp_path: Path, cp_id: str, message: str) -> None:
    _usage_error(_run(tmp_path, cp_id=cp_id), "--id", message)


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("header", "link", "message"),
    [
        (f"X-Token: {SECRET}\r\nX-Injected: 1", [], "value of header 'X-Token' contains a carr"),
        (f"X-Token: {SECRET}\x00", EC200U + ["--apn", "internet"], "contains a NUL byte"),
        (f"X-Token: {SECRET}\n", ESP_AT, "contains a line feed (LF)"),
        (f"Bearer {SECRET}", [], "a header is given as 'Name: value'; this one has no ':'"),
        (f": {SECRET}", [], "this one has no name before the ':'"),
        (f"X Token: {SECRET}", [], "the header name (before the ':') contains a space"),
        (f"X\rTo{SECRET}: v", [], "the header name (before the ':') contains a carriage ret"),
        (f"Bearer {SECRET}:x", [], "the header name (before the ':') contains a space"),
        (f"X-Token: {SECRET}\u00e9", [], "contains a non-ASCII character (U+00E9)"),
        ("Host: evil.example.com", [], "header 'Host' is set by the WebSocket handshake"),
        ("sec-websocket-protocol: ocpp2.0", [], "is set by the WebSocket handshake itself"),
        (f"X-Token: {SECRET}{'v' * 260}", ESP_AT, "per AT+WSHEAD header"),
    ],
)
def test_run_refuses_a_header_it_cannot_send(
    tmp_path: Path, header: str, link: list[str], message: str
) -> None:
    _usage_error(_run(tmp_path, *link, "--header", header), "--header", message)


@pytest.mark.usefixtures("nothing_opens")
def test_run_esp_at_refuses_a_password_too_long_for_its_basic_auth_header(
    tmp_path: Path,
) -> None:
    line = _usage_error(
        _run(tmp_path, *ESP_AT, "--password", SECRET + "p" * 200),
        "--password",
        "too long with this charge-point id",
    )
    assert '"Authorization: <value>"' in line and "AT+WSHEAD" in line


# -- cpsim run: what AT+QICSGP and AT+CWJAP carry ----------------------------------------


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--apn", 'inter"net', "contains '\"'"),
        ("--apn", "internet\r", "contains a carriage return (CR)"),
        ("--apn", "internet,x", "contains ','"),
        ("--apn", "intern\u00e9t", "contains a non-ASCII character"),
        ("--apn", "a" * 101, "the APN is 101 bytes; at most 100"),
        ("--apn-user", 'us"er', "contains a double quote, which AT+QICSGP cannot carry"),
        ("--apn-user", "user\n", "contains a line feed (LF)"),
        ("--apn-password", f'{SECRET}"', "contains a double quote, which AT+QICSGP cannot"),
        ("--apn-password", f"{SECRET}\r\nAT+CFUN=0", "contains a carriage return (CR)"),
        ("--apn-password", f"{SECRET}\x00", "contains a NUL byte"),
        ("--apn-password", f"{SECRET}\x7f", "contains a delete character"),
        ("--apn-password", f"{SECRET}\u00e9", "contains a non-ASCII character"),
        ("--apn-password", SECRET + "x" * 119, "is 128 bytes; AT+QICSGP takes at most 127"),
    ],
)
def test_run_ec200u_refuses_apn_settings_it_cannot_send(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    args = {"--apn": "internet", option: value}
    flat = [item for pair in args.items() for item in pair]
    _usage_error(_run(tmp_path, *EC200U, *flat), option, message)


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--wifi-ssid", "lab\r\nAT+RST", "contains a carriage return (CR)"),
        ("--wifi-ssid", "lab\x00", "contains a NUL byte"),
        ("--wifi-ssid", "x" * 33, "is 33 bytes; a Wi-Fi SSID is at most 32"),
        ("--wifi-ssid", "\u00e9" * 17, "is 34 bytes"),  # bytes, not characters
        ("--wifi-password", f"{SECRET}\r\nAT+RST", "contains a carriage return (CR)"),
        ("--wifi-password", f"{SECRET}\t", "contains a tab"),
        ("--wifi-password", f"{SECRET}\u00e9", "takes an ASCII password"),
        ("--wifi-password", SECRET + "x" * 56, "is 65 bytes; ESP-AT's AT+CWJAP takes at most 64"),
    ],
)
def test_run_esp_at_refuses_wifi_settings_it_cannot_send(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    args = {"--wifi-ssid": "lab", option: value}
    flat = [item for pair in args.items() for item in pair]
    link = ["--modem", "esp-at", "--port", PORT]
    _usage_error(_run(tmp_path, *link, *flat), option, message)


def test_run_refuses_as_a_process_too(tmp_path: Path) -> None:
    """The same through a real process: exit 2, one line, no traceback, no state dir."""
    state = tmp_path / "state"
    done = subprocess.run(
        [
            *CPSIM,
            "run",
            "--id",
            "CP1",
            "--url",
            "ws://127.0.0.1:9/ocpp",
            *EC200U,
            "--apn",
            "internet",
            "--apn-password",
            f'{SECRET}"',
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "Error: Invalid value for '--apn-password': contains a double quote" in done.stderr
    assert SECRET not in done.stderr and "Traceback" not in done.stderr
    assert not state.exists()


# -- cpsim modem check / apn-scan -----------------------------------------------------


def _modem(*args: str) -> Result:
    return CliRunner().invoke(main, ["modem", *args, "--port", PORT])


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--csms-url", 'ws://h/oc"pp/CP1'], "--csms-url", "contains a double quote"),
        (["--csms-url", "ws://h/ocpp/CP1\r\n"], "--csms-url", "contains a carriage return"),
        (["--csms-url", "ws://h/ocpp/.."], "--csms-url", "cannot be '..'"),
        (["--csms-url", "ws://h/ocpp/CP%2F1"], "--csms-url", "the charge-point id 'CP/1' cont"),
        (["--csms-url", "ws://h/ocpp/CP%FF"], "--csms-url", "not UTF-8 once decoded"),
        (["--csms-url", "ws://h/ocpp", "--id", "CP 1"], "--id", "contains ' '"),
        (["--csms-url", "ws://h/ocpp", "--id", ".."], "--id", "cannot be '..'"),
        (["--csms-url", "ws://h/ocpp/CP1", "--password", f"{SECRET}\r"], "--password", "contr"),
        (["--apn", 'inter"net'], "--apn", "contains '\"'"),
        (["--apn", "internet", "--apn-user", "u\r"], "--apn-user", "carriage return"),
        (["--apn", "internet", "--apn-password", f'{SECRET}"'], "--apn-password", "double q"),
        (["--apn", "internet", "--apn-password", SECRET * 15], "--apn-password", "at most 127"),
    ],
)
def test_modem_check_refuses_what_it_cannot_send(
    args: list[str], option: str, message: str
) -> None:
    _usage_error(_modem("check", *args), option, message)


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--ssid", "x" * 33], "--ssid", "is 33 bytes"),
        (["--ssid", "lab\n"], "--ssid", "contains a line feed"),
        (["--wifi-password", f"{SECRET}\r\n"], "--wifi-password", "contains a carriage return"),
        (["--wifi-password", SECRET * 8], "--wifi-password", "at most 64"),
        (["--csms-url", LONG_PATH + "/" + "C" * 40], "--csms-url", "256 bytes per command"),
        (["--csms-url", "ws://h/d\u00e9p\u00f4t/CP1"], "--csms-url", "non-ASCII"),
        (
            ["--csms-url", "ws://h/ocpp/CP1", "--password", SECRET * 20],
            "--password",
            "too long with this charge-point id",
        ),
    ],
)
def test_modem_check_esp_at_refuses_what_it_cannot_send(
    args: list[str], option: str, message: str
) -> None:
    _usage_error(_modem("check", "--dialect", "esp-at", *args), option, message)


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--apn", "ok", "--apn", 'x"y'], "--apn", "contains '\"'"),
        (["--apn", "internet", "--apn-user", "u\x00"], "--apn-user", "contains a NUL byte"),
        (["--apn", "internet", "--apn-password", f"{SECRET}\n"], "--apn-password", "line feed"),
        (["--apn", "internet", "--csms-url", "ws://h/ocpp/CP 1"], "--csms-url", "a space"),
    ],
)
def test_apn_scan_refuses_what_it_cannot_send(args: list[str], option: str, message: str) -> None:
    _usage_error(_modem("apn-scan", *args), option, message)


@pytest.mark.usefixtures("nothing_opens")
@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f'internet,user,"{SECRET}""x"', "the APN password contains a double quote"),
        (f'internet,user,"{SECRET}\r\nAT+CFUN=0"', "the APN password contains a carriage ret"),
        (f"internet,user,{SECRET}\x00", "the APN password contains a NUL byte"),
        (f"internet,user,{SECRET * 15}", "the APN password is 135 bytes"),
        ('internet,"us""er"', "the APN user contains a double quote"),
        ("a" * 101, "the APN is 101 bytes"),
        ("int\u00e9rnet", "APN 'int\u00e9rnet' contains a non-ASCII character"),
    ],
)
def test_apn_file_lines_are_checked_too(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "apns.csv"
    path.write_text(f"# operator list\ngood.apn\n\n{row}\nlast.apn\n", encoding="utf-8")
    line = _usage_error(
        _modem("apn-scan", "--apn-file", str(path)), "--apn-file", f"{path}:4: {message}"
    )
    assert "good.apn" not in line


@pytest.mark.usefixtures("nothing_opens")
def test_apn_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "apns.csv"
    path.write_bytes(b"internet,user,\xff\xfe\n")
    _usage_error(_modem("apn-scan", "--apn-file", str(path)), "--apn-file", "not UTF-8 text")


# -- the rules themselves, at their edges --------------------------------------------


def test_limits_are_inclusive() -> None:
    assert atsafe.qicsgp_credential_problem("x" * 127) is None
    assert atsafe.apn_problem("a" * 100) is None
    assert atsafe.ssid_problem("x" * 32) is None
    assert atsafe.wifi_password_problem("x" * 64) is None
    # ESP-AT escapes these (reference B.1), so they are fine there
    assert atsafe.ssid_problem('a,b"c\\d') is None
    assert atsafe.wifi_password_problem('p,w"d\\x') is None
    assert atsafe.esp_header_problem("Authorization", "Bearer a\tb") is None


@pytest.mark.parametrize("extra", range(-3, 4))
def test_the_wsopen_limit_matches_the_esp_at_driver(extra: int) -> None:
    """At 256 bytes and around it, the CLI's check and the driver's agree (escapes included)."""
    base = 'ws://h/a,b"c\\d/'
    filler = 256 - atsafe.esp_line_size(atsafe.wsopen_command(base)) + extra
    url = base + "x" * filler
    fits = atsafe.esp_url_problem(url) is None
    try:
        EspAtModem.plan_open(url)
    except ValueError:
        driver_fits = False
    else:
        driver_fits = True
    assert fits == driver_fits == (extra <= 0)


def test_every_allowed_id_character_is_a_path_character_once_encoded() -> None:
    """RFC 3986 §3.3: the encoded id holds only pchar, and decodes back to the id."""
    pchar = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@%")
    allowed = [chr(c) for c in range(0x21, 0x7F) if chr(c) not in "/?#%:"]
    needs_encoding = set()
    for char in allowed:
        cp_id = f"CP{char}1"
        assert check_charge_point_id(cp_id) == cp_id
        segment = path_segment(cp_id)
        assert set(segment) <= pchar, segment
        assert unquote(segment) == cp_id
        if segment != cp_id:
            needs_encoding.add(char)
    assert needs_encoding == set('"<>\\^`{|}[]')
    assert Endpoint("ws://h/ocpp/", 'CP"1').url == "ws://h/ocpp/CP%221"


# -- an id that needs encoding reaches the CSMS decoded -------------------------------

ODD_ID = 'CP"[1]{a|b}^`<>\\,x'


@dataclass
class Upgrades:
    """What a CSMS saw in the upgrade requests: paths and Authorization headers."""

    paths: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    seen: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def recording_csms() -> AsyncIterator[tuple[str, Upgrades]]:
    """A CSMS that accepts any id over ocpp1.6 and records the request; it never answers."""
    upgrades = Upgrades()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        upgrades.paths.append(ws.request.path)
        upgrades.auth.append(ws.request.headers.get("Authorization"))
        upgrades.seen.set()
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp", upgrades


LINKS = {
    "websockets": ["--ws-client", "websockets"],
    "sansio": ["--ws-client", "sansio"],
    "ec200u": ["--modem", "ec200u", "--apn", "internet"],
    "esp-at": ["--modem", "esp-at", "--wifi-ssid", 'lab,"x"', "--wifi-password", 'p,w"d\\1'],
}


async def _stderr_after_exit(proc: asyncio.subprocess.Process, bound: float) -> bytes:
    """Its stderr once it has exited; a charger still running after ``bound`` seconds is
    killed and the test fails with what it had said (an EC200U close is a few AT round
    trips: seconds at most, even on a loaded CI machine)."""
    try:
        _, err = await asyncio.wait_for(proc.communicate(), bound)
    except TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
        raise AssertionError(
            f"still running {bound:.0f}s after Ctrl+C:\n{err.decode()[-4000:]}"
        ) from None
    return err


@pytest.mark.parametrize("link", sorted(LINKS))
async def test_an_id_needing_encoding_reaches_the_csms_decoded(link: str, tmp_path: Path) -> None:
    password = "0123456789abcdef0123456789abcdef"
    async with contextlib.AsyncExitStack() as stack:
        url, upgrades = await stack.enter_async_context(recording_csms())
        args = list(LINKS[link])
        if link in ("ec200u", "esp-at"):
            emu = await stack.enter_async_context(
                run_emulator(link, baud=None, wifi_ssid='lab,"x"', wifi_password='p,w"d\\1')
            )
            args += ["--port", emu.port_url]
        proc = await asyncio.create_subprocess_exec(
            *CPSIM,
            "run",
            "--id",
            ODD_ID,
            "--url",
            url,
            "--password",
            password,
            "--state-dir",
            str(tmp_path / "state"),
            *args,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.wait_for(upgrades.seen.wait(), 60)
        finally:
            proc.send_signal(signal.SIGINT)
            err = await _stderr_after_exit(proc, 60)
    assert proc.returncode == 0, err.decode()
    path = upgrades.paths[0]
    assert path == "/ocpp/" + path_segment(ODD_ID)
    assert path.rsplit("/", 1)[1] == "CP%22%5B1%5D%7Ba%7Cb%7D%5E%60%3C%3E%5C,x"
    assert unquote(path.rsplit("/", 1)[1]) == ODD_ID
    basic = upgrades.auth[0]
    assert basic is not None
    assert base64.b64decode(basic.removeprefix("Basic ")).decode() == f"{ODD_ID}:{password}"
