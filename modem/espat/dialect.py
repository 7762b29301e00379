"""The ESP-AT grammar (ESP32 / ESP32-C3 firmware built with WebSocket support).

Differences from the Quectel skeleton that matter to the AT engine
(shared/reference/modem-at.md, section B): commands end with CR LF; URCs have
no leading CRLF and no space after the colon; ``+WS_DATA:<id>,<len>,`` carries
its bytes on the same line; ``busy p...`` ends a command that arrived while
another one was still running.
"""

from __future__ import annotations

import re

from modem.at import Dialect, PayloadHeader

MAX_COMMAND = 256  # bytes per command line, CR LF included (reference B.1)
MAX_BUFFER = 8192  # AT+WSCFG <buffer_size> upper bound on v3.2 ... v5.0.1
# The most one +WS_DATA record can announce on any firmware: a record is one piece
# of at most <buffer_size> bytes, and AT+WSCFG takes up to 16384 on master (reference
# B.3, B.4).  So a +WS_DATA length has at most 5 digits; the parser reports a longer
# or larger one as garbage without converting it.
MAX_PIECE = 16384
SEND_OVERHEAD = 10  # AT+WSSEND <length> <= buffer_size - 10 on v4.0 ... v5.0.1
PING_RANGE = (1, 7200)  # AT+WSCFG <ping_intv_sec> and <ping_timeout_sec>
BUSY = "busy p..."

WS_DATA = PayloadHeader(
    re.compile(rb"\+WS_DATA:(?P<id>\d+),(?P<len>\d+),"), max_length=MAX_PIECE, unsolicited=True
)
# The HTTP client's records (reference B.6): ``+HTTPCGET:<n>,`` + n raw bytes + CR LF,
# no leading CRLF, like +WS_DATA.  n is at most the <rx size> (0..10240), so a
# longer length field is garbage.  They answer the command in flight, yet they are
# delivered as URCs carrying data: the transfer (modem.espat.http) streams them into
# its own bounded buffer as they arrive instead of the driver keeping a whole file
# in a Response; records that come after their command timed out are dropped there.
MAX_HTTP_PIECE = 10240
HTTP_RECORDS = ("+HTTPCGET:", "+HTTPCPUT:", "+HTTPCPOST:", "+HTTPCLIENT:")
HTTP_PAYLOADS = tuple(
    PayloadHeader(
        re.compile(re.escape(name.encode()) + rb"(?P<len>\d+),"),
        max_length=MAX_HTTP_PIECE,
        unsolicited=True,
    )
    for name in HTTP_RECORDS
)
SET_OK = "SET OK"  # AT+HTTPURLCFG's final result: no OK follows it
# AT+SYSMFG=1,"<namespace>","<key>" (read a key of the manufacturing NVS, Basic_AT_Commands
# "AT+SYSMFG"): ``+SYSMFG:"<namespace>","<key>",<type>,<length>,`` + <length> raw bytes
# + CR LF, then OK.  A certificate is a binary (type 8) value holding a PEM file; the
# host refuses larger files before writing (MAX_PKI_BYTES), so a longer length field
# is garbage.  The listing forms (``+SYSMFG:"<ns>"``, ``+SYSMFG:"<ns>","<key>",<type>``)
# have no length and stay lines.
MAX_PKI_BYTES = 16384
SYSMFG_VALUE = PayloadHeader(
    re.compile(rb'\+SYSMFG:"[a-z0-9_]{1,15}","[a-z0-9_.]{1,20}",[1-8],(?P<len>\d+),'),
    max_length=MAX_PKI_BYTES,
)
# Printed once the SNTP client has set the clock (ESP-AT v2.2+; TCP-IP AT commands,
# AT+CIPSNTPCFG) [verify on the firmware in use]; the host polls AT+CIPSNTPTIME? anyway.
TIME_UPDATED = "+TIME_UPDATED"

ESP_AT = Dialect(
    name="ESP-AT",
    urc_prefixes=(
        "+WS_CONNECTED:",
        "+WS_DISCONNECTED:",
        "+WS_CLOSED:",
        "WIFI ",
        "ready",
        TIME_UPDATED,
    ),
    payload_headers=(WS_DATA, *HTTP_PAYLOADS, SYSMFG_VALUE),
    extra_errors=(BUSY,),
    extra_oks=(SET_OK,),
    # The boot banner: a command in flight (a 20 s AT+WSOPEN) will never be answered.
    restart_urcs=("ready",),
    line_ending=b"\r\n",
    default_timeout=5.0,
    timeouts={
        # <jap_timeout> defaults to 15 s; the host waits a little longer than the module.
        "AT+CWJAP=": 20.0,
        # callers pass their own budget (the <timeout_ms> they gave, plus a margin)
        "AT+WSOPEN=": 20.0,
        # <timeout_ms> of AT+WSSEND defaults to 10 s
        "AT+WSSEND=": 15.0,
        "AT+WSCLOSE=": 10.0,
        # a flash write of a few kB (NVS may have to erase a page first)
        "AT+SYSMFG=": 10.0,
        "AT+RST": 5.0,
    },
)

# +CWJAP:<code> before ERROR (Wi-Fi_AT_Commands.rst), with what to check on site.
CWJAP_REASONS: dict[int, str] = {
    1: "connection timeout: the access point did not answer in time; "
    "check the signal and that the network is 2.4 GHz",
    2: "wrong password: check the Wi-Fi password",
    3: "access point not found: check the SSID (case matters), "
    "that the access point is on and in range, and that it is a 2.4 GHz network",
    4: "connection failed: the access point refused this station (MAC filter or client limit?)",
}

_ESCAPED = re.compile(r'([,"\\])')


def quote(value: str) -> str:
    """A quoted ESP-AT string parameter: ``,`` ``"`` and ``\\`` escaped with a backslash."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"AT string parameters cannot hold line breaks: {value!r}")
    return '"' + _ESCAPED.sub(r"\\\1", value) + '"'


def command_bytes(command: str) -> int:
    """Bytes the command line takes on the wire, CR LF included."""
    return len(command.encode("utf-8")) + 2


def ping_settings(interval: float) -> tuple[int, int]:
    """AT+WSCFG ``(<ping_intv_sec>, <ping_timeout_sec>)`` from OCPP's WebSocketPingInterval.

    OCPP's 0 means "no pings", which ESP-AT cannot do (1..7200 s): the longest
    interval is the nearest.  The pong timeout is two intervals, so one lost
    pong on a noisy Wi-Fi does not drop the link; ESP-AT's own default pair
    (10 s, 120 s) is gentler still but notices a dead link late.
    """
    low, high = PING_RANGE
    ping = high if interval <= 0 else min(high, max(low, round(interval)))
    return ping, min(high, 2 * ping)
