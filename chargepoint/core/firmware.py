"""Firmware Management (§4.4, §4.5, §5.9, §5.19): UpdateFirmware, GetDiagnostics and
their status notifications."""

from __future__ import annotations

from .csms_calls import CsmsCalls


class FirmwareCalls(CsmsCalls):
    pass
