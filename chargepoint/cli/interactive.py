"""``cpsim run --interactive``: a prompt over the control port's commands.

Typed commands (``plug 1``, ``tag 1 CARD42``, ``send Heartbeat``, ``status``) become
the same requests ``--control`` takes and get the same answers.  On a terminal the
prompt is prompt_toolkit's (Tab completes, the arrow keys recall earlier lines) and
the log, the OCPP exchange included, is printed above it as it happens; from a pipe
each line is a command.  ``quit``, end of input or Ctrl+C at the prompt stops the
charger as Ctrl+C does anywhere else (its transaction first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import click

from chargepoint.station.drive import ALIASES, DriveError, answer
from chargepoint.station.shell import Station

QUIT = ("quit", "exit")
MAX_TYPED = 64 * 1024

USAGE = {
    "plug_in": "plug_in|plug [CONNECTOR]",
    "unplug": "unplug [CONNECTOR]",
    "present_tag": "present_tag|tag [CONNECTOR] ID_TAG",
    "start_transaction": "start_transaction|start [CONNECTOR] ID_TAG",
    "start_charging": "start_charging|resume [CONNECTOR] [POWER_W]",
    "stop_charging": "stop_charging|stop [CONNECTOR] [REASON]",
    "suspend": "suspend [CONNECTOR] [evse|ev]",
    "set_ev": "set_ev|ev [CONNECTOR] KEY=VALUE... (capacity_wh soc max_current_a phases "
    "power_w paused)",
    "fault": "fault [CONNECTOR] [ERROR_CODE]",
    "clear_fault": "clear_fault|clear [CONNECTOR]",
    "send": "send ACTION [JSON_PAYLOAD]",
    "status": "status",
    "help": "help",
}
"""The typed form of each command; the words become the request's fields."""

POSITIONAL = {
    "present_tag": "id_tag",
    "start_transaction": "id_tag",
    "start_charging": "power_w",
    "stop_charging": "reason",
    "suspend": "by",
    "fault": "error_code",
}
"""The one word after the connector, and the field it is."""


def parse_words(text: str) -> bytes:
    """A typed command (``tag 1 CARD42``, ``ev 1 soc=80``, ``send Heartbeat``) as the
    request line the control port takes; a JSON object is taken as it is.  The words
    are only shaped here: the request's own checks name what is wrong."""
    text = text.strip()
    if text.startswith("{"):
        return text.encode()
    word, _, rest = text.partition(" ")
    cmd = ALIASES.get(word, word)
    if cmd not in USAGE:
        raise DriveError(f"unknown command {word!r}: {', '.join([*USAGE, *ALIASES])}")
    request: dict[str, Any] = {"cmd": cmd}
    if cmd == "send":
        action, _, payload = rest.strip().partition(" ")
        request["action"] = action
        try:
            request["payload"] = json.loads(payload) if payload.strip() else {}
        except (ValueError, RecursionError):
            raise DriveError(f"usage: {USAGE[cmd]} (the payload as JSON)") from None
        return json.dumps(request).encode()
    words = rest.split()
    if words and words[0].isdigit() and cmd not in ("status", "help"):
        request["connector"] = int(words.pop(0))
    if cmd == "set_ev":
        for pair in words:
            key, equals, value = pair.partition("=")
            if not equals:
                raise DriveError(f"usage: {USAGE[cmd]}")
            request[key] = _scalar(value)
        return json.dumps(request).encode()
    if cmd in POSITIONAL and words:
        request[POSITIONAL[cmd]] = _scalar(words.pop(0))
    if words:
        raise DriveError(f"usage: {USAGE[cmd]}")
    return json.dumps(request).encode()


def _scalar(word: str) -> Any:
    """``80`` -> 80, ``true`` -> True, anything else as the text it is."""
    try:
        value = json.loads(word)
    except ValueError:
        return word
    return value if isinstance(value, int | float | bool) else word


@contextlib.contextmanager
def _log_above_the_prompt() -> Iterator[None]:
    """prompt_toolkit's patched stdout/stderr for the log handlers too (they hold the
    stream they were given), so a log line never breaks the line being typed."""
    from prompt_toolkit.patch_stdout import patch_stdout

    with patch_stdout(raw=True):
        moved = [
            (handler, handler.stream)
            for handler in logging.getLogger().handlers
            # the console's handlers only: a log file (a FileHandler) stays a file
            if isinstance(handler, logging.StreamHandler)
            and not isinstance(handler, logging.FileHandler)
        ]
        for handler, _ in moved:
            handler.setStream(sys.stderr)
        try:
            yield
        finally:
            for handler, stream in moved:
                handler.setStream(stream)


async def _from_terminal(prompt: str) -> AsyncGenerator[str, None]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import InMemoryHistory

    session: PromptSession[str] = PromptSession(
        completer=WordCompleter([*USAGE, *ALIASES, *QUIT]), history=InMemoryHistory()
    )
    with _log_above_the_prompt():
        while True:
            try:
                yield await session.prompt_async(prompt)
            except (EOFError, KeyboardInterrupt):
                return


async def _from_pipe() -> AsyncGenerator[str, None]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_TYPED)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while line := await reader.readline():
            yield line.decode(errors="replace")
    except ValueError:  # a line over the limit: the rest cannot be told apart
        click.echo(json.dumps({"ok": False, "error": "line too long"}))
    finally:
        transport.close()


async def prompt_until_quit(station: Station, stop: asyncio.Event) -> None:
    """Answer typed commands until ``quit``, end of input or Ctrl+C; then set ``stop``."""
    click.echo(f"commands: {', '.join(USAGE)}, quit", err=True)
    if sys.stdin.isatty():
        lines = _from_terminal(f"{station.identity.charge_point_id}> ")
    else:
        lines = _from_pipe()
    try:
        async with contextlib.aclosing(lines):
            async for line in lines:
                if line.strip() in QUIT:
                    break
                if not line.strip():
                    continue
                try:
                    request = parse_words(line)
                except DriveError as exc:
                    click.echo(json.dumps({"ok": False, "error": str(exc)}))
                    continue
                click.echo(json.dumps(await answer(station, request), default=str))
    finally:
        stop.set()
