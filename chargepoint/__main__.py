from chargepoint.cli import main

main()
