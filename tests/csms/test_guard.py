"""The control API's guard as pure rules: Host (DNS rebinding), Origin (CSRF), the token."""

from __future__ import annotations

import pytest

from chargepoint.csms.apierror import ApiError
from chargepoint.csms.guard import ControlGuard, new_token, split_host

GUARD = ControlGuard(token="s3cret-token", allowed_hosts=frozenset({"csms.lan"}))
BEARER = "Bearer s3cret-token"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:9001",
        "localhost:9001",
        "LOCALHOST",
        "[::1]:9001",
        "10.0.0.7",
        "csms.lan:9001",
        "app.localhost:80",
    ],
)
def test_hosts_that_name_this_server_pass(host: str) -> None:
    GUARD.check(host, None, BEARER)


@pytest.mark.parametrize(
    "host,why",
    [
        ("attacker.example:9001", "DNS rebinding"),  # a rebound name: its own domain as Host
        ("localhost.attacker.example", "DNS rebinding"),
        (None, "Host header missing"),
        ("127.0.0.1:notaport", "Host:"),
        ("a b", "Host:"),
    ],
)
def test_other_hosts_are_403_bad_host(host: str | None, why: str) -> None:
    with pytest.raises(ApiError) as caught:
        GUARD.check(host, None, BEARER)
    assert (caught.value.status, caught.value.problem) == (403, "bad_host")
    assert why in caught.value.message


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:9002",  # another port is another origin
        "https://127.0.0.1:9001",  # another scheme too
        "null",  # a sandboxed page, a file:// page
        "http://127.0.0.1:9001/path",
    ],
)
def test_cross_site_origins_are_403(origin: str) -> None:
    with pytest.raises(ApiError) as caught:
        GUARD.check("127.0.0.1:9001", origin, BEARER)
    assert (caught.value.status, caught.value.problem) == (403, "bad_origin")


def test_same_origin_and_no_origin_pass() -> None:
    GUARD.check("127.0.0.1:9001", "http://127.0.0.1:9001", BEARER)
    GUARD.check("localhost", "http://LOCALHOST:80", BEARER)
    GUARD.check("127.0.0.1:9001", None, BEARER)


@pytest.mark.parametrize(
    "authorization,problem",
    [
        (None, "no_token"),
        ("", "no_token"),
        ("Bearer wrong", "bad_token"),
        ("Bearer s3cret-tokenX", "bad_token"),
        ("Basic s3cret-token", "bad_token"),
        ("s3cret-token", "bad_token"),
    ],
)
def test_missing_or_wrong_token_is_401_with_a_challenge(
    authorization: str | None, problem: str
) -> None:
    with pytest.raises(ApiError) as caught:
        GUARD.check("127.0.0.1", None, authorization)
    assert (caught.value.status, caught.value.problem) == (401, problem)
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert "s3cret-token" not in caught.value.message


def test_the_host_is_checked_before_the_token() -> None:
    """A rebinding page has no token: it learns nothing from which check failed first."""
    with pytest.raises(ApiError) as caught:
        GUARD.check("attacker.example", None, None)
    assert caught.value.status == 403


def test_made_tokens_are_long_and_new_each_time() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20 and min(len(t) for t in tokens) >= 32
    assert "abcd" not in repr(ControlGuard(token="abcd"))  # never in a log line
    with pytest.raises(ValueError, match="empty"):
        ControlGuard(token="")


def test_split_host() -> None:
    assert split_host("[::1]:9001") == ("::1", 9001)
    assert split_host("Example.ORG") == ("example.org", None)
