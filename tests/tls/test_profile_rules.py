"""SecurityProfile and AuthorizationKey over ChangeConfiguration, in the sans-I/O core
(Security Whitepaper ed. 3: A00.FR.005, A01, A05)."""

from __future__ import annotations

import json

import pytest
from core.harness import Harness  # tests/ is on sys.path (rootdir packages)

KEY = "0123456789abcdef0123456789abcdef"


def online(profile: str = "1", tls_files: frozenset[str] = frozenset(), key: str = KEY) -> Harness:
    config = {"SecurityProfile": profile}
    if key:
        config["AuthorizationKey"] = key
    h = Harness(config=config, tls_files=tls_files)
    h.boot()
    return h


def change(h: Harness, key: str, value: str) -> str:
    return str(h.csms_call("ChangeConfiguration", {"key": key, "value": value})[2]["status"])


@pytest.mark.parametrize(("start", "value"), [("2", "1"), ("2", "0"), ("2", "2"), ("3", "2")])
def test_security_profile_is_never_lowered_over_ocpp(start: str, value: str) -> None:
    h = online(start, frozenset({"ca", "cert"}))
    assert change(h, "SecurityProfile", value) == "Rejected"
    asked = h.csms_call("GetConfiguration", {"key": ["SecurityProfile"]}, uid="g")
    assert asked[2]["configurationKey"][0]["value"] == start
    assert not h.closed and "SecurityProfile" not in h.store.config


@pytest.mark.parametrize(
    ("start", "value", "files", "key"),
    [
        ("1", "2", frozenset(), KEY),  # no CA (A05.FR.03)
        ("2", "3", frozenset({"ca"}), KEY),  # no charger certificate (A05.FR.04)
        ("0", "1", frozenset(), ""),  # no AuthorizationKey (A05.FR.02)
        ("1", "4", frozenset({"ca", "cert"}), KEY),  # no such profile
    ],
)
def test_a_raise_without_its_prerequisites_is_rejected(
    start: str, value: str, files: frozenset[str], key: str
) -> None:
    h = online(start, files, key)
    assert change(h, "SecurityProfile", value) == "Rejected"
    assert not h.closed


def test_a_raise_with_its_prerequisites_is_accepted_kept_and_reconnects() -> None:
    h = online("1", frozenset({"ca"}))
    assert change(h, "SecurityProfile", "2") == "Accepted"
    assert h.store.config["SecurityProfile"] == "2"
    assert not h.closed  # the answer goes first (EVerest: the close 1 s later)
    h.advance(1)
    assert [c.reason for c in h.closed] == ["SecurityProfile raised to 2"]


def test_a_new_authorization_key_is_accepted_then_the_link_reconnects() -> None:
    h = online("1")
    new = "fedcba9876543210fedcba9876543210"
    assert change(h, "AuthorizationKey", new) == "Accepted"
    assert h.store.config["AuthorizationKey"] == new
    h.advance(1)
    assert [c.reason for c in h.closed] == ["AuthorizationKey changed"]
    assert new not in json.dumps(h.timeline)


def test_a_refused_authorization_key_keeps_the_link() -> None:
    h = online("1")
    assert change(h, "AuthorizationKey", "short") == "Rejected"
    h.advance(5)
    assert not h.closed and h.store.config.get("AuthorizationKey") != "short"


def test_under_profile_3_a_new_key_changes_nothing_on_the_wire() -> None:
    h = online("3", frozenset({"ca", "cert"}))
    assert change(h, "AuthorizationKey", "fedcba9876543210fedcba9876543210") == "Accepted"
    h.advance(5)
    assert not h.closed
