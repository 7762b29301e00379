"""Which CSMS URL each charger of a fleet connects to (``--urls-file``, ``--distribution``)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from .ids import FleetUsageError

Distribution = Literal["round-robin", "random", "by-id"]
MAX_URLS = 10_000
MAX_URL_LENGTH = 2048


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a CSMS's base URL (RFC 6455 §3: ws:// or wss://, a host, a
    port from 1 to 65535, no fragment), or None; a password in it is never repeated."""
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    if not url.startswith(("ws://", "wss://")):
        return "expected a ws:// or wss:// URL"
    try:
        parse_uri(url)
        port = urlsplit(url).port
    except (InvalidURI, ValueError) as exc:
        detail = str(exc).rpartition("isn't a valid URI: ")[2]  # not the URL (a password)
        return f"not a WebSocket URL: {detail}"
    if port == 0:  # websockets would connect to 80 (443) instead
        return "not a WebSocket URL: port 0"
    return None


def read_urls_file(path: Path) -> list[str]:
    """One ws:// or wss:// URL a line; blank lines and ``#`` comments skipped."""
    try:
        with path.open(encoding="utf-8") as file:
            lines = file.read(MAX_URLS * (MAX_URL_LENGTH + 1) + 1).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetUsageError(f"--urls-file {path}: cannot read it ({exc})") from None
    urls: list[str] = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if (problem := url_problem(line)) is not None:
            raise FleetUsageError(f"--urls-file {path}:{number}: {problem}")
        urls.append(line)
        if len(urls) > MAX_URLS:
            raise FleetUsageError(f"--urls-file {path}: more than {MAX_URLS:,} URLs")
    if not urls:
        raise FleetUsageError(f"--urls-file {path}: no URL in it")
    return urls


def assign_urls(
    ids: list[str], numbers: range, urls: list[str], distribution: Distribution, seed: int
) -> list[str]:
    """The URL of each charger, the same in every shard of the fleet: round-robin and
    random go by the charger's number in the whole fleet, by-id by a hash of its id
    (so a charger keeps its CSMS when the fleet grows)."""
    if distribution == "round-robin":
        return [urls[(n - 1) % len(urls)] for n in numbers]
    if distribution == "random":
        return [random.Random(seed * 1_000_003 + n).choice(urls) for n in numbers]
    return [
        urls[int.from_bytes(hashlib.blake2b(cp.encode(), digest_size=8).digest()) % len(urls)]
        for cp in ids
    ]
