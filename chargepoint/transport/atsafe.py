"""Which values an AT command line can carry: checked before any port is opened.

A CSMS URL, an APN, its user and password, a Wi-Fi SSID and password all end up
inside a quoted string parameter of an AT command (``AT+QICSGP``, ``AT+CWJAP``,
``AT+WSOPEN``) or after a data prompt (``AT+WSHEAD``).  A value the line cannot
carry does not fail cleanly on the module: a CR ends the command early and the
rest is taken as a new one, a backspace edits the line (``ATS5``), a double quote
ends the string on a Quectel module (it has no escape), and ESP-AT answers ERROR
to a line over 256 bytes.  Refused here, such a value is a usage error naming the
option instead of an ERROR (or worse) at every reconnect.

Rules, with their source (shared/reference/modem-at.md unless said otherwise):

* every field: no control character (C0, DEL, C1).  CR ends a command (A.1, B.1:
  LF too on ESP-AT), and the EC200U manual (Q-AT §2.14-2.16) makes backspace the
  line-editing character (``ATS5``); the AT trace and the stream parser assume
  none of them inside a parameter.
* ``AT+QICSGP`` (EC200U): user and password at most 127 bytes (A.2, Q-TCP §2.4.2);
  no double quote: the reference gives Quectel strings no escape (ESP-AT's
  backslash escapes, B.1, are ESP-AT's) and the Quectel driver refuses one too;
  ASCII only, as the modem's AT character set (``AT+CSCS``) is not UTF-8.
* APN: what :func:`modem.diagnostics.apn_name_problem` says (letters, digits,
  ``-`` and ``.``: no comma, quote or space), ASCII, at most 100 bytes
  (3GPP TS 23.003 §9.1: the whole APN is at most 100 octets).
* ``AT+CWJAP`` (ESP-AT): ``,`` ``"`` ``\\`` are escaped with a backslash (B.1),
  so they are fine; the SSID is 1-32 bytes (IEEE 802.11; ESP-IDF's
  ``wifi_sta_config_t.ssid[32]``), UTF-8 allowed (ESP-AT: "Chinese SSID is
  supported"); the password at most 64 bytes of ASCII (ESP-AT Wi-Fi AT commands,
  ``<"pwd">``: "MAX: 64-byte ASCII").  Both within limits keep the whole
  ``AT+CWJAP`` line under 256 bytes even with every byte escaped.
* ``AT+WSOPEN`` (ESP-AT): the URL (charge-point id included) escaped as B.1 says,
  in a line of at most 256 bytes, CR LF included (B.1); ASCII only, as the module
  writes it into the HTTP request as it is (no IRI conversion).
* ``AT+WSHEAD`` (ESP-AT): one ``Name: value`` without CR or LF (B.3), at most 256
  bytes, the bound :meth:`modem.espat.EspAtModem.plan_open` applies.

The problems are sentences that never repeat a password, a header value or a URL
(it may carry ``user:password@``); only an APN, which is no secret, is quoted.
The caller names the option.
"""

from __future__ import annotations

import re
import unicodedata

ESP_AT_MAX_COMMAND = 256  # bytes per command line, CR LF included (B.1)
ESP_AT_MAX_HEADER = 256  # one AT+WSHEAD "Name: value", as plan_open bounds it
QICSGP_MAX_CREDENTIAL = 127  # AT+QICSGP <username> / <password> (A.2)
APN_MAX = 100  # 3GPP TS 23.003 §9.1
SSID_MAX = 32  # IEEE 802.11
WIFI_PASSWORD_MAX = 64  # ESP-AT AT+CWJAP <"pwd">: "MAX: 64-byte ASCII"

_CONTROL_NAMES = {
    "\r": "a carriage return (CR)",
    "\n": "a line feed (LF)",
    "\0": "a NUL byte",
    "\t": "a tab",
    "\b": "a backspace",
    "\x1a": "Ctrl+Z (0x1A)",
    "\x1b": "an escape character (ESC, 0x1B)",
    "\x7f": "a delete character (DEL, 0x7F)",
}

_ESP_ESCAPED = re.compile(r'([,"\\])')


def is_control(char: str) -> bool:
    """C0, DEL and C1 controls (Unicode category Cc)."""
    return unicodedata.category(char) == "Cc"


def describe_char(char: str) -> str:
    """``'\\r'`` -> ``a carriage return (CR)``; never more than the one character."""
    if char in _CONTROL_NAMES:
        return _CONTROL_NAMES[char]
    if is_control(char):
        return f"a control character (0x{ord(char):02X})"
    if char == '"':
        return "a double quote"
    if char == " ":
        return "a space"
    if not char.isascii():
        return f"a non-ASCII character (U+{ord(char):04X})"
    return repr(char)


def control_problem(text: str, *, allow_tab: bool = False) -> str | None:
    """``contains a line feed (LF)`` for the first control character, or None."""
    for char in text:
        if is_control(char) and not (allow_tab and char == "\t"):
            return f"contains {describe_char(char)}"
    return None


def _non_ascii(text: str) -> str | None:
    return next((c for c in text if not c.isascii()), None)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


# -- Quectel (EC200U): AT+QICSGP ----------------------------------------------------


def qicsgp_credential_problem(value: str) -> str | None:
    """Why an APN user or password cannot go into ``AT+QICSGP``, or None."""
    if problem := control_problem(value):
        return f"{problem}, which an AT command line cannot carry"
    if '"' in value:
        return (
            "contains a double quote, which AT+QICSGP cannot carry "
            "(Quectel AT strings have no escape for it)"
        )
    if (char := _non_ascii(value)) is not None:
        return (
            f"contains {describe_char(char)}; the modem's AT strings are ASCII "
            "(AT+CSCS), so it would not arrive as typed"
        )
    if (size := _size(value)) > QICSGP_MAX_CREDENTIAL:
        return f"is {size} bytes; AT+QICSGP takes at most {QICSGP_MAX_CREDENTIAL}"
    return None


def apn_problem(apn: str) -> str | None:
    """Why ``apn`` cannot be an APN in ``AT+QICSGP``, or None (the APN is not a secret)."""
    from modem.diagnostics import apn_name_problem  # the field test's rule; loaded on use

    if problem := control_problem(apn):
        return f"APN {apn!r} {problem}, which an AT command line cannot carry"
    if problem := apn_name_problem(apn):
        return problem
    if (char := _non_ascii(apn)) is not None:
        return (
            f"APN {apn!r} contains {describe_char(char)}: an APN is ASCII letters, "
            "digits, '-' and '.' (3GPP TS 23.003)"
        )
    if (size := _size(apn)) > APN_MAX:
        return f"the APN is {size} bytes; at most {APN_MAX} (3GPP TS 23.003)"
    return None


# -- ESP-AT: AT+CWJAP, AT+WSOPEN, AT+WSHEAD ----------------------------------------


def esp_quote(value: str) -> str:
    """A quoted ESP-AT string parameter: ``,`` ``"`` ``\\`` escaped with a backslash (B.1)."""
    return '"' + _ESP_ESCAPED.sub(r"\\\1", value) + '"'


def esp_line_size(command: str) -> int:
    """Bytes an ESP-AT command line takes, CR LF included."""
    return _size(command) + 2


def ssid_problem(ssid: str) -> str | None:
    """Why ``ssid`` cannot go into ``AT+CWJAP``, or None (the SSID is not a secret)."""
    if not ssid:
        return "must not be empty"
    if problem := control_problem(ssid):
        return f"{problem}, which an AT command line cannot carry"
    if (size := _size(ssid)) > SSID_MAX:
        return f"is {size} bytes; a Wi-Fi SSID is at most {SSID_MAX} (IEEE 802.11)"
    return None


def wifi_password_problem(password: str) -> str | None:
    """Why ``password`` cannot go into ``AT+CWJAP``, or None; the text never holds it."""
    if problem := control_problem(password):
        return f"{problem}, which an AT command line cannot carry"
    if (char := _non_ascii(password)) is not None:
        return f"contains {describe_char(char)}; ESP-AT's AT+CWJAP takes an ASCII password"
    if (size := _size(password)) > WIFI_PASSWORD_MAX:
        return f"is {size} bytes; ESP-AT's AT+CWJAP takes at most {WIFI_PASSWORD_MAX}"
    return None


def wsopen_command(
    url: str, *, link_id: int = 0, subprotocol: str = "ocpp1.6", timeout_ms: int = 20000
) -> str:
    """The ``AT+WSOPEN`` line the ESP-AT link writes for ``url`` (its escaping, B.1)."""
    return f"AT+WSOPEN={link_id},{esp_quote(url)},{esp_quote(subprotocol)},{timeout_ms}"


def esp_url_problem(
    url: str, *, link_id: int = 0, subprotocol: str = "ocpp1.6", timeout_ms: int = 20000
) -> str | None:
    """Why ESP-AT cannot open ``url`` (the charger's whole URL, id included), or None.

    The text does not repeat the URL: it may carry a password (``ws://user:pw@host``).
    """
    if problem := control_problem(url):
        return f"{problem}, which an AT command line cannot carry"
    if (char := _non_ascii(url)) is not None:
        return (
            f"contains {describe_char(char)}; ESP-AT sends the URL as it is: write the "
            "host in its xn-- form and percent-encode the path"
        )
    command = wsopen_command(url, link_id=link_id, subprotocol=subprotocol, timeout_ms=timeout_ms)
    size = esp_line_size(command)
    if size > ESP_AT_MAX_COMMAND:
        return (
            f"AT+WSOPEN with this URL and charge-point id is {size} bytes; ESP-AT takes "
            f"at most {ESP_AT_MAX_COMMAND} bytes per command line (CR LF included): "
            "shorten the CSMS URL or the charge-point id"
        )
    return None


def esp_header_problem(name: str, value: str) -> str | None:
    """Why ``AT+WSHEAD`` cannot carry the header ``name: value``, or None; never the value."""
    if problem := control_problem(value, allow_tab=True) or control_problem(name):
        return f"{problem}; AT+WSHEAD refuses line breaks"
    size = _size(f"{name}: {value}")
    if size > ESP_AT_MAX_HEADER:
        return (
            f'"{name}: <value>" is {size} bytes; the ESP-AT link sends at most '
            f"{ESP_AT_MAX_HEADER} per AT+WSHEAD header"
        )
    return None
