"""Closing the control port while a client is still connected (Ctrl+C with ``nc`` open)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from chargepoint.station.driveport import DrivePort
from chargepoint.station.shell import Station


async def test_closing_with_a_client_connected_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = await DrivePort(cast(Station, cast(Any, None)), "127.0.0.1", 0).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port.port)
    await asyncio.sleep(0)  # let the server take the connection
    while not port._clients:  # the client's task is running, waiting for a line
        await asyncio.sleep(0.01)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await port.aclose()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the client sees the close
        for _ in range(3):
            await asyncio.sleep(0)  # the server's done-callbacks run
    writer.close()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
