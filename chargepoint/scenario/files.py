"""Files on the local CSMS for Firmware Management scenarios (OCPP 1.6 §5.9, §5.19).

``- offer_firmware: {name: cpsim-2.0.img, version: cpsim-2.0, fault: fail-once}`` puts a
generated image of that version (:func:`chargepoint.firmware_image.pack`; ``corrupt:
true`` alters one byte after packing, so the charger's check fails) on the local
CSMS's firmware shelf, with a download fault (none, cut, slow, fail-once).

In a ``csms`` call's payload, ``location: local:firmware/<name>`` stands for that
file's URL on the local CSMS, and ``local:diagnostics/`` for its upload directory,
so a file need not know the port the CSMS was given.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from chargepoint.csms.server import LocalCsms
from chargepoint.firmware_image import ImageError, check_version

from .errors import problem
from .fields import Model

LOCAL_PREFIX = "local:"


class OfferFirmware(Model):
    """The local CSMS offers a firmware image at ``local:firmware/<name>``."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The file name in the URL."""
    version: str
    """The firmwareVersion the charger boots with once it installed the image."""
    fault: Literal["none", "cut", "slow", "fail-once"] = "none"
    """How the CSMS serves it: whole, cut half-way, slowly, or 503 to the first request."""
    corrupt: bool = False
    """One byte altered after packing: the charger's checksum check must refuse it."""

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            return check_version(value)
        except ImageError as exc:
            raise problem(str(exc)) from None


def local_url(csms: LocalCsms, value: str) -> str:
    """``value`` with a ``local:firmware/<name>`` or ``local:diagnostics/`` prefix replaced
    by the local CSMS's URL; anything else as it is."""
    if not value.startswith(LOCAL_PREFIX):
        return value
    rest = value[len(LOCAL_PREFIX) :]
    if rest.startswith("firmware/"):
        return csms.firmware_url(rest[len("firmware/") :])
    if rest.startswith("diagnostics/"):
        return csms.diagnostics_url + rest[len("diagnostics/") :]
    return value  # not ours: the charger's transfer fails with the scheme's reason


def with_local_urls(csms: LocalCsms, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its ``location`` pointing at the local CSMS when it says ``local:``."""
    location = payload.get("location")
    if isinstance(location, str) and location.startswith(LOCAL_PREFIX):
        return {**payload, "location": local_url(csms, location)}
    return payload
