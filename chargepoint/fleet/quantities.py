"""The small quantities of the fleet's option strings: durations, shares, rates, ranges.

``30m``, ``2h``, ``90s``, ``1h30m``; ``5%`` or ``0.05``; ``2/h`` (per hour), ``10/d``;
``30m..2h`` (a range: uniform between its ends).  Every parser raises
:class:`QuantityError` with the rule broken; the caller adds where the text came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_TEXT = 64
"""No quantity is longer; a bound on user input before any regex runs."""

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)([smhd]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class QuantityError(ValueError):
    """A quantity that does not parse; the message says what was expected."""


def _bounded(text: str) -> str:
    text = text.strip()
    if not text:
        raise QuantityError("empty value")
    if len(text) > MAX_TEXT:
        raise QuantityError(f"value longer than {MAX_TEXT} characters")
    return text


def parse_duration(text: str) -> float:
    """Seconds: ``90s``, ``30m``, ``2h``, ``1h30m``, ``1d``; a bare number is seconds."""
    text = _bounded(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        raise QuantityError(f"{text!r} is not a duration (e.g. 90s, 30m, 2h, 1h30m)")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))


def parse_share(text: str) -> float:
    """A share from 0 to 1: ``5%`` or ``0.05``."""
    text = _bounded(text)
    percent = text.endswith("%")
    number = text[:-1].strip() if percent else text
    if not _NUMBER.fullmatch(number):
        raise QuantityError(f"{text!r} is not a share (e.g. 5% or 0.05)")
    value = float(number) / (100 if percent else 1)
    if not 0 <= value <= 1:
        raise QuantityError(f"{text!r} is not between 0 and 100 %")
    return value


def parse_rate(text: str) -> float:
    """Events per second from ``2/h``, ``0.5/m``, ``10/d``, ``1/30m`` (once every 30 min)."""
    text = _bounded(text)
    count, sep, per = text.partition("/")
    if not sep or not _NUMBER.fullmatch(count.strip()):
        raise QuantityError(f"{text!r} is not a rate (e.g. 2/h, 10/d, 1/30m)")
    per = per.strip()
    span = _UNIT_SECONDS.get(per) if per in _UNIT_SECONDS else parse_duration(per)
    if span is None or span <= 0:
        raise QuantityError(f"{text!r}: the period must be longer than 0")
    return float(count) / span


@dataclass(frozen=True)
class Span:
    """A range ``low..high`` (equal ends: a fixed value); values drawn uniformly."""

    low: float
    high: float

    def draw(self, rng_uniform: float) -> float:
        """The value at ``rng_uniform`` (0..1) of the way from low to high."""
        return self.low + (self.high - self.low) * rng_uniform


def parse_span(
    text: str, parse: Callable[[str], float] = parse_duration, *, what: str = "value"
) -> Span:
    """``30m..2h`` with :func:`parse_duration` (``parse``: any one-value parser)."""
    parser = parse
    text = _bounded(text)
    low_text, sep, high_text = text.partition("..")
    low = float(parser(low_text))
    high = float(parser(high_text)) if sep else low
    if not (math.isfinite(low) and math.isfinite(high)):
        raise QuantityError(f"{text!r}: {what} must be finite")
    if high < low:
        raise QuantityError(f"{text!r}: the range runs backwards ({what} high < low)")
    return Span(low, high)
