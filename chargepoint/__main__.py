from chargepoint.cli import entry

entry()
