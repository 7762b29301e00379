"""The Quectel QI grammar (EC200U, EC2x, EG9x, BG9x) for the AT engine."""

from __future__ import annotations

import re

from modem.at import Dialect, PayloadHeader

# AT+QICSGP <authentication>: the APN's authentication type.
AUTH_NAMES = {0: "none", 1: "PAP", 2: "CHAP"}
AUTH_CODES = {name.lower(): code for code, name in AUTH_NAMES.items()}


def auth_code(user: str, auth: str | None) -> int:
    """AT+QICSGP <auth> for an auth name (none, pap, chap; any case); without one, PAP
    when a user is given, as most operators expect, else none."""
    if auth is None or auth == "":
        return 1 if user else 0
    return AUTH_CODES[auth.lower()]


# AT+QIGETERROR / +QIOPEN: <id>,<err> codes (EC200U TCP/IP application note, chapter 4).
QI_ERRORS: dict[int, str] = {
    0: "success",
    550: "unknown error",
    551: "operation blocked",
    552: "invalid parameters",
    553: "memory not enough",
    554: "socket creation failed",
    555: "operation not supported",
    556: "socket bind failed",
    557: "socket listen failed",
    558: "socket write failed",
    559: "socket read failed",
    560: "socket accept failed",
    561: "PDP context opening failed",
    562: "PDP context closure failed",
    563: "socket identity has been used",
    564: "DNS busy",
    565: "DNS parse failed",
    566: "socket connect failed",
    567: "socket has been closed",
    568: "operation busy",
    569: "operation timeout",
    570: "PDP context broken down",
    571: "cancel sending",
    572: "operation not allowed",
    573: "APN not configured",
    574: "port busy",
}

# What a technician can do about the codes met in the field.
QI_HINTS: dict[int, str] = {
    561: "check the APN, user and password with the operator",
    565: "check the CSMS host name, and that the APN gives working DNS",
    566: "the CSMS did not accept the TCP connection: check host, port and firewall",
    569: "the network did not answer in time: check signal and APN",
    570: "the network dropped the data session; it will be re-activated",
    573: "no APN configured: pass --apn",
}


def qi_reason(code: int) -> str:
    """``566`` -> ``566 socket connect failed (the CSMS did not accept ...)``."""
    text = f"{code} {QI_ERRORS.get(code, 'unknown error code')}"
    hint = QI_HINTS.get(code)
    return f"{text} ({hint})" if hint else text


# Payload headers (shared/reference/modem-at.md A.5, A.11, A.12).  AT+QIRD reads at
# most 1500 bytes per command, so a +QIRD: length has at most 4 digits; the parser
# reports a longer or larger one as garbage without converting it.  The UDP form
# adds ,"<ip>",<port>: an address of at most 45 characters (IPv6 text) and a port of
# at most 5 digits.  The query form +QIRD: <total>,<read>,<unread> is no header (its
# numbers may be long) and stays a line.  AT+QSSLRECV follows the QIRD rules.
QIRD_MAX = 1500
QIRD_HEADER = PayloadHeader(
    re.compile(rb'\+QIRD: (?P<len>\d+)(?:,"[^"\r\n]{0,45}",\d{1,5})?\r?\n'),
    max_length=QIRD_MAX,
)
QSSLRECV_HEADER = PayloadHeader(re.compile(rb"\+QSSLRECV: (?P<len>\d+)\r?\n"), max_length=QIRD_MAX)

QUECTEL = Dialect(
    name="Quectel QI",
    urc_prefixes=(
        "+QIURC:",
        "+QIOPEN:",
        "+QSSLURC:",
        "+QSSLOPEN:",
        "+QIACTEX:",
        "+QIDEACTEX:",
        "+QPING:",
        "+QNTP:",
        "+QIND:",
        "+QUSIM:",
        "+CPIN:",
        "+CFUN:",
        "+CREG:",
        "+CGREG:",
        "+CEREG:",
        "RDY",
        "APP RDY",
        "POWERED DOWN",
    ),
    payload_headers=(QIRD_HEADER, QSSLRECV_HEADER),
    extra_errors=("NO CARRIER",),
    restart_urcs=("RDY", "POWERED DOWN"),
    # AT+QFUPL="<name>",<size> answers CONNECT, then takes exactly <size> bytes (A.12).
    prompt_lines=("CONNECT",),
    line_ending=b"\r",
    default_timeout=5.0,
    timeouts={
        "AT+QIACT=": 150.0,
        "AT+QIOPEN=": 150.0,
        "AT+QSSLOPEN=": 150.0,
        "AT+QSSLCLOSE=": 10.0,
        "AT+QFUPL=": 30.0,
        "AT+QIDEACT=": 40.0,
        "AT+QICLOSE=": 10.0,
        "AT+QIDNSGIP=": 60.0,
        "AT+QNTP=": 125.0,
        "AT+COPS=": 180.0,
        "AT+CFUN=": 15.0,
    },
    # Some firmware reports the QI block as +CME ERROR: 5xx.
    cme_texts={code: text for code, text in QI_ERRORS.items() if code >= 550},
)
