"""A scenario: a charger, a link, a CSMS, and the steps to run against them.

Checks that span sections (a connector the charger does not have, a CSMS step
against a remote CSMS, a PDP fault on a direct link) live here, so a file that
loads is one that can run as written.  Command-line overrides (``--csms``,
``--link``) can still break these; the runner checks them again with
:meth:`Scenario.conflicts`.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from pydantic import Field, PrivateAttr
from pydantic import model_validator as validates

from .config import (
    Charger,
    Csms,
    DirectLinkConfig,
    Ec200uLinkConfig,
    EspAtLinkConfig,
    LinkConfig,
    LinkType,
)
from .errors import Located, problems_error
from .fields import Duration, Model, Shorthand
from .security import security_problems
from .steps import CsmsStep, ExpectConnectionStep, LinkFaultStep, Step, StepBase

_FAULT_LINKS: dict[str, tuple[str, ...]] = {
    "drop_tcp": ("direct", "ec200u", "esp-at"),
    "pdp_deactivate": ("ec200u",),
    "wifi_disconnect": ("esp-at",),
    "modem_reboot": ("ec200u", "esp-at"),
}


class Scenario(Model):
    """One scenario file."""

    name: str | None = None
    """Shown in reports; defaults to the file name."""
    description: str = ""
    charger: Charger = Charger()
    link: Annotated[LinkConfig, Shorthand("type", LinkType)] = DirectLinkConfig()
    """``direct``, ``ec200u`` or ``esp-at``; a mapping gives the modem's port, APN or Wi-Fi."""
    csms: Annotated[Csms, Shorthand("url", str)] = Csms()
    """``local`` (default) or a ws:// URL."""
    timeout: Duration = 30
    """How long a step waits when it gives no ``within``: nothing waits forever.  A bound on
    waiting (stretched to the link's real allowance), not a timing check."""
    time_limit: Duration = 600
    """Real seconds the whole run may take, whatever the time scale."""
    steps: list[Step] = Field(min_length=1)

    _file: str | None = PrivateAttr(None)

    @property
    def file(self) -> str | None:
        """The file the scenario was loaded from (set by the loader)."""
        return self._file

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        return PurePath(self._file).stem if self._file else "scenario"

    def timeout_of(self, step: StepBase) -> float:
        """The step's own ``within``, else the scenario's ``timeout``."""
        own = getattr(step.spec, "within", None)
        return float(own) if own is not None else float(self.timeout)

    def conflicts(
        self,
        csms: Csms | None = None,
        link: DirectLinkConfig | Ec200uLinkConfig | EspAtLinkConfig | None = None,
    ) -> list[Located]:
        """Steps that cannot run against this CSMS and link (by default the file's own)."""
        csms = csms or self.csms
        link = link or self.link
        found: list[Located] = []
        for i, step in enumerate(self.steps):
            if isinstance(step, CsmsStep | ExpectConnectionStep) and not csms.is_local:
                found.append(
                    Located(
                        ("steps", i, step.kind),
                        f"{step.kind} steps {'steer' if step.kind == 'csms' else 'ask'} "
                        f"the local CSMS; this run uses {csms.url}",
                    )
                )
            if isinstance(step, LinkFaultStep):
                kind, where = step.link_fault.kind, ("steps", i, "link_fault", "kind")
                if link.type not in _FAULT_LINKS[kind]:
                    found.append(
                        Located(
                            where,
                            f"{kind} needs link "
                            f"{' or '.join(_FAULT_LINKS[kind])}; "
                            f"this run uses {link.type}",
                        )
                    )
                elif not isinstance(link, DirectLinkConfig) and link.port != "emulator":
                    found.append(
                        Located(
                            where,
                            f"{kind} is done by the modem emulator; this run "
                            f"uses the real port {link.port}",
                        )
                    )
        return found

    def _missing_connectors(self) -> list[Located]:
        found = []
        for i, step in enumerate(self.steps):
            connector = getattr(step.spec, "connector", None)
            if connector is not None and connector > self.charger.connectors:
                found.append(
                    Located(
                        ("steps", i, step.kind, "connector"),
                        f"connector {connector} does not exist (the charger has "
                        f"{self.charger.connectors})",
                    )
                )
        return found

    @validates(mode="after")
    def _consistent(self) -> Scenario:
        found = self._missing_connectors() + self.conflicts() + security_problems(self)
        if found:
            raise problems_error(sorted(found, key=lambda p: str(p.path)))
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to complete and check scenario files."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Scenario.model_json_schema(),
    }
