"""The AT engine: a Sans-I/O parser, an asyncio driver and the ``--at-log`` trace.

Modem dialects (Quectel QI, ESP-AT) are built on top by giving a
:class:`Dialect` and calling :class:`ATDriver` commands.
"""

from .dialect import GENERIC, Dialect, PayloadHeader
from .driver import ATDriver, Response
from .errors import ATCommandError, ATError, ATPortError, ATRestarted, ATTimeout
from .events import Error, Event, Final, Garbage, Line, Ok, Payload, Prompt, SendResult, Urc
from .parser import ATParser
from .trace import ATTrace

__all__ = [
    "GENERIC",
    "ATCommandError",
    "ATDriver",
    "ATError",
    "ATParser",
    "ATPortError",
    "ATRestarted",
    "ATTimeout",
    "ATTrace",
    "Dialect",
    "Error",
    "Event",
    "Final",
    "Garbage",
    "Line",
    "Ok",
    "Payload",
    "PayloadHeader",
    "Prompt",
    "Response",
    "SendResult",
    "Urc",
]
