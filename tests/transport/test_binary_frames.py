"""OCPP-J 1.6 §3: messages are text frames.  A binary message from the CSMS closes the
link with 1003 (RFC 6455 7.4.1: a type of data the endpoint cannot accept), on both
direct flavours, and the charger reconnects."""

from __future__ import annotations

from typing import Any

import pytest

from chargepoint.csms.server import LocalCsms


@pytest.mark.parametrize("flavour", ["websockets", "sansio"])
async def test_a_binary_message_closes_the_link_with_1003(
    csms: LocalCsms, start_charger: Any, flavour: str
) -> None:
    charger = await start_charger(flavour=flavour)
    await charger.booted()
    first = csms.sessions[charger.id]
    await first._connection.ws.send(b'[2,"b1","ClearCache",{}]')
    boots = await charger.received("BootNotification")  # the first one
    again = await charger.received("BootNotification", after=boots.seq, timeout=15)
    assert again.seq > boots.seq
    assert first._connection.ws.close_code == 1003
