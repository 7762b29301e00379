"""Smart Charging's pure part (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): profiles parsed and
validated (:mod:`.profiles`), checked against the charger's state and installed
(:mod:`.installed`), and the composite schedule computed from them (:mod:`.composite`).
No I/O, no asyncio, no clock: times are given."""
