"""The ``cpsim`` command group and its commands (imported by :func:`chargepoint.cli.entry`
only once a Ctrl+C during the imports would be caught)."""

from __future__ import annotations

import click

from .common import CpsimGroup
from .csms import csms
from .demo import demo
from .emulate import emulate
from .fieldtest import apn_scan, check
from .firmware import firmware
from .fleet import fleet
from .pki import pki
from .report import report
from .run import run
from .scenario import scenario
from .state import state


@click.group(cls=CpsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ocpp-modem-sim")
def main() -> None:
    """OCPP 1.6-J charge-point simulator over a modem (Quectel EC200U, ESP-AT) or a WebSocket."""


@main.group()
def modem() -> None:
    """The bundled modem emulator and field tests for SIM cards and APNs."""


main.add_command(csms)
main.add_command(run)
main.add_command(demo)
main.add_command(scenario)
main.add_command(state)
main.add_command(firmware)
main.add_command(pki)
main.add_command(report)
main.add_command(fleet)
modem.add_command(emulate)
modem.add_command(check)
modem.add_command(apn_scan)
