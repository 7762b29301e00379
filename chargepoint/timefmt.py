"""OCPP time on the wire: ISO 8601 UTC with milliseconds, from and to UNIX seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def ocpp_time(when: datetime) -> str:
    """``2030-01-01T00:00:00.000Z``: ISO 8601 UTC with milliseconds (for an aware datetime)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_epoch(t: float) -> str:
    return ocpp_time(datetime.fromtimestamp(t, UTC))


def parse_time(text: str) -> datetime | None:
    """An OCPP timestamp; one without a zone is taken as UTC; None when it is not one."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_epoch(text: str) -> float | None:
    when = parse_time(text)
    return when.timestamp() if when is not None else None
