"""The control port: fault injection for people and other processes.

Line-based over TCP (``--control socket://127.0.0.1:PORT``; try ``nc``).
Every command is answered by exactly one final line, ``ok`` or
``error: <reason>``; ``status`` and ``help`` print their text first.
Text arguments take Python escapes (``\\r``, ``\\n``, ``\\x1a``).  See
:mod:`modem.emulator` for the command list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from modem.emulator.dialect import FaultError
from modem.emulator.faults import Faults
from modem.emulator.link import parse_socket_url

log = logging.getLogger("modem.emulator.control")

HELP = """\
drop-tcp [id]    network drop of one socket (all connected sockets without id)
pdpdeact [ctx]   network deactivates the PDP context (default 1)
send-fail [n]    next n sends fail: SEND FAIL (EC200U) / ERROR (ESP-AT) (default 1)
wifi-drop        ESP-AT: the access point goes away, then comes back
tls-fail [n]     next n TLS opens fail their handshake (default 1)
tls-drop [id]    a TLS link dropped (all TLS links without id)
sntp-block [0|1] no network time (ESP-AT SNTP; EC200U NITZ+QNTP) (1, default) or back (0)
garbage <text>   raw bytes to the host now (escapes: \\r \\n \\x1a)
garbage-next <text>  raw bytes inside the next response, before its final
urc <text>       URC inside the next response, before its final
urc-now <text>   URC now
slow <ms>        extra delay before every response (0: off)
profile <name>   switch the field profile live (ok, denied, no-sim, ...)
late-prompt <s> [n]  the next n (default 1) data prompts come s seconds late
transfer-cut [bytes] [n]  next n (default 1) file transfers cut after bytes (default half)
transfer-slow <bytes/s> [n]  next n (default 1) file transfers from a slow server
hang             no answer to any command until AT+CFUN=1,1 resets the module
reboot           module reset, boot URCs follow
status           JSON state
help             this text"""


def _unescape(text: str) -> bytes:
    try:
        return text.encode("utf-8").decode("unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError) as exc:
        raise FaultError(f"bad escape in {text!r}: {exc}") from exc


def _int_arg(arg: str, default: int | None) -> int | None:
    if not arg:
        return default
    try:
        return int(arg)
    except ValueError as exc:
        raise FaultError(f"not a number: {arg!r}") from exc


def _need_int(arg: str, default: int | None = None) -> int:
    value = _int_arg(arg, default)
    if value is None:
        raise FaultError("a number is required")
    return value


def _need_text(arg: str) -> bytes:
    if not arg:
        raise FaultError("text is required")
    return _unescape(arg)


def _late_prompt(faults: Faults, arg: str) -> None:
    seconds, _, count = arg.partition(" ")
    try:
        value = float(seconds)
    except ValueError as exc:
        raise FaultError(f"seconds required, not {seconds!r}") from exc
    faults.late_prompt(value, _need_int(count.strip(), 1))


def _transfer_cut(faults: Faults, arg: str) -> None:
    after, _, count = arg.partition(" ")
    faults.transfer_cut(_int_arg(after, None), _need_int(count.strip(), 1))


def _transfer_slow(faults: Faults, arg: str) -> None:
    rate, _, count = arg.partition(" ")
    try:
        value = float(rate)
    except ValueError as exc:
        raise FaultError(f"bytes per second required, not {rate!r}") from exc
    faults.transfer_slow(value, _need_int(count.strip(), 1))


def handle_command(faults: Faults, line: str) -> list[str]:
    """Run one control line; returns the reply lines (the last is ``ok`` or ``error: ...``)."""
    verb, _, arg = line.strip().partition(" ")
    arg = arg.strip()
    actions: dict[str, Callable[[], list[str] | None]] = {
        "drop-tcp": lambda: faults.drop_tcp(_int_arg(arg, None)),
        "pdpdeact": lambda: faults.pdp_deactivate(_need_int(arg, 1)),
        "send-fail": lambda: faults.send_fail(_need_int(arg, 1)),
        "wifi-drop": faults.wifi_drop,
        "tls-fail": lambda: faults.tls_handshake_fail(_need_int(arg, 1)),
        "tls-drop": lambda: faults.drop_tls(_int_arg(arg, None)),
        "sntp-block": lambda: faults.block_sntp(bool(_need_int(arg, 1))),
        "garbage": lambda: faults.garbage(_need_text(arg)),
        "garbage-next": lambda: faults.garbage_in_next_response(_need_text(arg)),
        "urc": lambda: faults.urc_in_next_response(_need_text(arg)),
        "urc-now": lambda: faults.urc(_need_text(arg)),
        "slow": lambda: faults.slow(_need_int(arg)),
        "profile": lambda: faults.profile(arg),
        "late-prompt": lambda: _late_prompt(faults, arg),
        "transfer-cut": lambda: _transfer_cut(faults, arg),
        "transfer-slow": lambda: _transfer_slow(faults, arg),
        "hang": faults.hang,
        "reboot": faults.reboot,
        "status": lambda: [json.dumps(faults.status(), sort_keys=True)],
        "help": lambda: HELP.splitlines(),
    }
    action = actions.get(verb.lower())
    if action is None:
        return [f"error: unknown command {verb!r} (try help)"]
    try:
        out = action()
    except FaultError as exc:
        return [f"error: {exc}"]
    return [*(out or []), "ok"]


class ControlServer:
    def __init__(self, faults: Faults, url: str) -> None:
        self._faults = faults
        self._host, self._port = parse_socket_url(url)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"socket://{self._host}:{self._port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                text = line.decode("utf-8", "replace").strip()
                if not text:
                    continue
                log.info("control: %s", text)
                reply = handle_command(self._faults, text)
                writer.write("".join(f"{r}\n" for r in reply).encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def aclose(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
