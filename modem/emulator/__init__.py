"""Modem emulator: a Quectel EC200U or an ESP-AT module on a pty (or ``socket://``),
with real TCP behind it.

CI has no modem, so every path of the charger's AT driver is exercised here:
the emulator speaks the AT dialect byte-exactly (echo, prompts, ``\\r\\n``
framing, URCs between responses) and opens real TCP connections to the hosts
it is asked for.

Running it
----------
``cpsim modem emulate --dialect ec200u [--baud 115200] [--latency-ms N]
[--listen socket://127.0.0.1:PORT] [--control socket://127.0.0.1:PORT]
[--profile NAME] [--good-apn APN ...] [--prompt-style default|space]
[--chaos SEED [--chaos-interval S]]``
prints the pty path (or the ``socket://`` URL) alone on its first stdout line,
then serves until Ctrl+C or SIGTERM (exit 0); the control URL goes to stderr.
Point the charger (or ``picocom``, ``python -m serial.tools.miniterm``) at
that path.  The modem outlives its host: the port can be closed and reopened,
and on ``socket://`` a new connection replaces the previous one.
``--baud`` paces the link like a UART (baud/10 bytes/s; 0 = unpaced) and
``--log-level debug`` logs every byte in both directions.

In tests::

    from modem.emulator import run_emulator
    async with run_emulator("ec200u", baud=115200) as emu:
        reader, writer = await serial_asyncio_fast.open_serial_connection(url=emu.port_url)
        emu.faults.drop_tcp(0)

``run_emulator(dialect="ec200u", *, listen=None, control=None, baud=115200,
latency_ms=0, profile="ok", good_apns=(), prompt=None, timing=None)``;
``timing=Timing().scaled(0.1)`` makes the network delays 10x shorter.
``run_emulator_in_thread`` does the same for synchronous code.

Fault injection (Python, on the emulator's event loop)
------------------------------------------------------
``emu.faults.drop_tcp(id=None)``, ``pdp_deactivate(ctx=1)``,
``send_fail(count=1)``, ``garbage(b"...")`` (now), ``garbage_in_next_response(b"...")``,
``urc(text)`` (now), ``urc_in_next_response(text)``, ``slow(ms)``, ``profile(name)``
(switch the field profile live), ``wifi_drop()`` (ESP-AT), ``reboot()``, ``status()``.
A fault that cannot apply (no such socket) raises :class:`FaultError`.
``emu.engine.tap_input(callback)`` shows a test every byte the host wrote, as received.

Seeded chaos (``--chaos SEED [--chaos-interval S]``; :mod:`modem.emulator.chaos`)
-------------------------------------------------------------------------------
``Chaos(emu.faults, dialect, seed, interval, server_close=None).start()`` injects a
reproducible random sequence of the faults above (``chaos.KINDS``: drop_tcp, send_fail,
garbage, garbage_next, slow, stall (past the driver's 5 s timeout), late_prompt, reboot,
plus pdp_deactivate on the EC200U, wifi_drop and wssend_late on the ESP-AT, and
server_close when given), one every ``interval`` s or so, and records each
(``chaos: t=12.3s drop_tcp``).  Profiles, an unrecoverable hang and ``hang`` are not drawn.

Control port (``--control socket://127.0.0.1:PORT``, one command per line)
------------------------------------------------------------------------
``drop-tcp [id]``, ``pdpdeact [ctx]``, ``send-fail [n]``, ``wifi-drop``,
``garbage <text>`` (now), ``garbage-next <text>`` (inside the next response),
``urc <text>`` (into the next response, after its lines, before its final),
``urc-now <text>``, ``slow <ms>``, ``profile <name>``, ``reboot``,
``status`` (one JSON line), ``help``.  Each command ends with a line ``ok``
or ``error: <reason>``.
Text takes Python escapes: ``garbage \\r\\nNO CARRIER\\r\\n``.

Field profiles (``--profile``)
------------------------------
``ok``, ``no-sim`` (CPIN? -> +CME ERROR: 10), ``sim-pin`` (PIN 1234 unlocks),
``sim-puk`` (CPIN? -> SIM PUK), ``no-signal`` (no cell heard: CSQ 99, searching),
``denied`` (stat 3), ``roaming`` (stat 5), ``weak-signal`` (RSRP -120 dBm, SINR -3 dB
at the edge of a loaded cell, so CSQ still looks fair; slower network), ``bad-apn``
(QIACT of an APN not given with ``--good-apn`` fails after a delay, QIGETERROR 561),
``no-dns`` (host names -> 565),
``csms-unreachable`` (QIOPEN -> 566 after a delay).  Switching live (control
``profile denied``) emits the +CREG/+CEREG URCs the host enabled and, when
registration is lost, ``+QIURC: "pdpdeact"`` for every active context.

ESP-AT (``--dialect esp-at``)
----------------------------
An ESP32 with the WebSocket commands (reference B): ``AT+CWJAP`` against the
access point given with ``--wifi-ssid``/``--wifi-password`` (any network joins
without them; a wrong one gives ``+CWJAP:2``/``3``; ``--wifi-failure timeout`` or
``refused`` makes every join fail with ``+CWJAP:1``/``4``), ``AT+WSCFG/WSHEAD/WSOPEN/
WSSEND/WSCLOSE`` with a real WebSocket client behind each link, ``+WS_DATA``
chunked at buffer_size, ``busy p...`` during blocking commands, ``AT+CIPSTA?``,
``AT+CIPDOMAIN`` (real lookup by the host OS resolver) and ``AT+PING`` (a timed
TCP connect to port 80, not ICMP).  ``--no-ws``
emulates a firmware built without them (ERROR); ``--ws-auto-reconnect`` makes a
dropped link come back by itself; ``--ws-short-pieces SEED`` cuts ``+WS_DATA``
into random 1..buffer_size pieces (one frame at a time, as always), as a slow
link does.  The HTTP client commands (reference B.6: ``AT+HTTPURLCFG``,
``AT+HTTPGETSIZE``, ``AT+HTTPCGET``, ``AT+HTTPCPUT``, ``AT+HTTPCPOST``) fetch and
send for real through an h11 client, records byte for byte
(:mod:`modem.emulator.espat.cmd_http`).  Faults: ``drop-tcp [id]`` (``+WS_DISCONNECTED``),
``wifi-drop`` (``WIFI DISCONNECT``, then the AP returns), ``send-fail [n]``
(WSSEND answers ERROR), ``transfer-cut [bytes] [n]`` (an HTTP body cut, still
OK; an upload cut: SEND FAIL), ``transfer-slow <bytes/s> [n]`` (a slow server),
``reboot`` (``ready``).  wss:// runs real TLS (Python's ssl) with the certificates
stored by ``AT+SYSMFG`` (wss_ca / wss_cert / wss_key) and the auth mode of ``AT+WSCFG``;
``AT+CIPSNTPCFG`` / ``AT+CIPSNTPTIME?`` emulate the clock (a verifying open before it is
set fails, as on the module); ``AT+HTTPCFG`` does the same for https:// with https_*.
TLS faults: ``tls-fail [n]`` (handshake failures), ``tls-drop [id]`` (a TLS link
dropped), ``sntp-block [0|1]`` (the clock never set).  See
:mod:`modem.emulator.espat.dialect` for its fidelity choices.

Fidelity choices worth knowing (EC200U)
---------------------------------------
* Echo is the command line as received plus CR, emitted when the CR arrives.
* QISEND prompt is ``\\r\\n>`` (EC200U formatcfg 0); ``prompt=b"\\r\\n> "``
  for other Quectel parts; ``AT+QICFG="formatcfg",1`` gives ``\\r\\n>\\r\\n``.
  Bytes written before the prompt are parsed as commands, not payload.
* Reusing an allocated connectID: ``OK`` then ``+QIOPEN: <id>,563``.
  QIOPEN without an active context: ``OK`` then ``+QIOPEN: <id>,561``.
* QPING is a TCP connect to port 80 (refused counts as a reply); QNTP
  reports the host clock.  Only TCP clients in buffer mode are emulated.
* A line not starting with ``AT`` (e.g. a stray Ctrl+Z) answers ``ERROR``.
* TLS (``AT+QSSL*``, :mod:`modem.emulator.ec200u.tls`): real TLS with Python's ssl and
  the files ``AT+QFUPL`` stored (``CONNECT``, then ``+QFUPL: <size>,<checksum>``);
  ``sni`` 0 and ``ignorelocaltime`` 1 by default, TLS 1.2 at most, the host name
  checked at seclevel >= 1, and ``+QSSLOPEN: <id>,566`` for every handshake failure.
  ``tls-fail`` / ``tls-drop`` work on QSSL clients (``+QSSLURC: "closed"``);
  ``sntp-block`` leaves the clock at 1980 (``AT+CCLK?``) with no NITZ and QNTP failing.
"""

from modem.emulator.chaos import Chaos, Injection
from modem.emulator.config import EmulatorConfig, Timing
from modem.emulator.dialect import FaultError
from modem.emulator.faults import Faults
from modem.emulator.runner import (
    DIALECTS,
    Emulator,
    Options,
    ThreadedEmulator,
    run_emulator,
    run_emulator_in_thread,
)

__all__ = [
    "DIALECTS",
    "Chaos",
    "Emulator",
    "EmulatorConfig",
    "FaultError",
    "Faults",
    "Injection",
    "Options",
    "ThreadedEmulator",
    "Timing",
    "run_emulator",
    "run_emulator_in_thread",
]
