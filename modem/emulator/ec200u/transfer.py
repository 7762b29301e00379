"""The emulator's view of an HTTP file transfer on a QI socket (modem-at.md A.16 (a)).

The module itself knows nothing of HTTP; the emulator looks, for two reasons:

* to check the host: a socket whose first bytes are an HTTP request other than
  a WebSocket upgrade is a transfer, and everything the host sends on it must
  be valid HTTP/1.1 (h11 in the server role reads it, and refuses a missing or
  repeated ``Host``), with nothing after the body its framing announced.  Breaches
  land in the dialect's ``http_violations`` (in ``status``), for tests;
* to aim the transfer faults (``transfer-cut``, ``transfer-slow``, the same
  verbs as the ESP-AT's HTTP client): a cut counts body bytes (of the response
  for a GET, of the request for a PUT/POST), so "half-way" means half of the
  announced Content-Length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h11

HEAD_LIMIT = 16 * 1024
"""A response head the emulator waits for to place a cut; beyond it the cut is off."""
METHODS = (b"GET ", b"PUT ", b"POST ", b"HEAD ")


@dataclass
class HttpTransfer:
    """One transfer socket: the request checker and the faults taken for it."""

    cut: int | None | bool = False
    """Body bytes after which the connection drops; None: half-way; False: no cut."""
    rate: float | None = None
    """Bytes per second the server sends at most (a slow server); None: full speed."""
    upload: bool = False
    request: h11.Connection = field(default_factory=lambda: h11.Connection(h11.SERVER))
    violations: list[str] = field(default_factory=list)
    sent_body_start: int | None = None  # offset in the sent stream where the body starts
    sent_length: int | None = None  # the request's Content-Length
    response_head: bytearray = field(default_factory=bytearray)
    response_done: bool = False  # the head has been seen (or given up on)

    def check_sent(self, data: bytes, where: str) -> None:
        """Feed the host's bytes to h11 as a server would read them."""
        if self.violations:
            return  # one complaint per transfer is enough
        try:
            self.request.receive_data(data)
            while True:
                event = self.request.next_event()
                if event is h11.PAUSED:  # the request is complete: nothing may follow
                    extra = len(self.request.trailing_data[0])
                    if extra:
                        self.violations.append(
                            f"{where}: {extra} bytes after the request's body "
                            "(Content-Length smaller than the body sent?)"
                        )
                    return
                if event is h11.NEED_DATA:
                    return
        except h11.RemoteProtocolError as exc:
            self.violations.append(f"{where}: not valid HTTP/1.1: {exc}")

    def sent_cut_at(self, first: bytes) -> int | None:
        """For an upload with a cut: the offset in the sent stream where it falls."""
        end = first.find(b"\r\n\r\n")
        if self.cut is False or not self.upload or end < 0:
            return None
        length = _content_length(first[:end])
        body = length // 2 if self.cut is None and length is not None else self.cut
        return end + 4 + int(body or 0)

    def received_cut_at(self, data: bytes) -> int | None:
        """For a download with a cut: once the response head has arrived, the offset in
        the received stream where the cut falls (``None`` until then, or no cut)."""
        if self.cut is False or self.upload or self.response_done:
            return None
        start = len(self.response_head)
        self.response_head += data[: HEAD_LIMIT - start]
        end = self.response_head.find(b"\r\n\r\n")
        if end < 0:
            self.response_done = len(self.response_head) >= HEAD_LIMIT
            return None
        self.response_done = True
        length = _content_length(bytes(self.response_head[:end]))
        body = length // 2 if self.cut is None and length is not None else self.cut
        return end + 4 + int(body or 0)  # the head began the received stream


def is_http_request(first: bytes) -> bool:
    """The first bytes of a socket: an HTTP request, and not a WebSocket upgrade."""
    return first.startswith(METHODS) and b"upgrade: websocket" not in first.lower()


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None
