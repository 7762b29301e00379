"""Security profile 1: the AuthorizationKey and WebSocketPingInterval the CSMS sets
over OCPP are used from the next connection on, and a restart keeps them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chargepoint.csms.server import Credentials, LocalCsms

KEY_1 = "00112233445566778899aabbccddeeff00112233"  # 20 bytes, as 40 hex digits
KEY_2 = "ffeeddccbbaa99887766554433221100"  # 16 bytes


async def test_changed_key_is_used_at_the_next_connect_and_after_a_restart(
    csms: LocalCsms, start_charger, tmp_path
) -> None:
    csms.credentials = Credentials(shared=KEY_1)
    state = tmp_path / "state"
    charger = await start_charger(state_dir=state, config_overrides={"AuthorizationKey": KEY_1})
    await charger.booted()
    answer = await charger.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY_2})
    assert answer == {"status": "Accepted"}
    csms.credentials = Credentials(shared=KEY_2)  # the CSMS expects the new key from now on
    mark = csms.frames.frames[-1].seq
    assert await charger.call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    await charger.received("BootNotification", after=mark, timeout=15)
    await charger.shutdown()
    # A restart with the state dir alone (no key given) still authenticates.
    again = await start_charger(state_dir=state)
    mark = csms.frames.frames[-1].seq
    await again.received("BootNotification", after=mark, timeout=15)


async def test_changed_ping_interval_is_used_at_the_next_connect(
    csms: LocalCsms, start_charger, caplog: pytest.LogCaptureFixture
) -> None:
    charger = await start_charger(config_overrides={"WebSocketPingInterval": "0"})
    await charger.booted()
    answer = await charger.call(
        "ChangeConfiguration", {"key": "WebSocketPingInterval", "value": "1"}
    )
    assert answer == {"status": "Accepted"}
    # websockets logs every frame the CSMS's side receives at DEBUG, pings included.
    caplog.set_level(logging.DEBUG, logger="websockets.server")
    mark = csms.frames.frames[-1].seq
    await charger.call("Reset", {"type": "Soft"})
    await charger.received("BootNotification", after=mark, timeout=15)
    for _ in range(50):  # the first ping is due a second after the connect
        if any("< PING" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.1)
    assert any("< PING" in r.getMessage() for r in caplog.records), "no ping reached the CSMS"
