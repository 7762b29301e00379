"""Local Authorization List Management (§3.5, §5.10, §5.15) and the Authorization
Cache (§3.5.1): SendLocalList, GetLocalListVersion."""

from __future__ import annotations

from .csms_calls import CsmsCalls


class LocalAuthCalls(CsmsCalls):
    pass
