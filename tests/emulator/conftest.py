"""Fixtures for the emulator tests: an emulator with a host on its pty, and a TCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from modem.emulator import Emulator

from .atclient import AtHost, TcpServer, session


@pytest.fixture
async def emu_host() -> AsyncIterator[tuple[Emulator, AtHost]]:
    """Emulator (profile ok, fast network timing) and a host with echo already off."""
    async with session() as pair:
        yield pair


@pytest.fixture
async def server() -> AsyncIterator[TcpServer]:
    async with TcpServer() as srv:
        yield srv
