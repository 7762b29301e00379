"""Running ``expect_connection`` (:mod:`.connection`): the local CSMS's end of the
charger's connection, checked on the one of the moment and waited for until it matches."""

from __future__ import annotations

from .connection import ExpectConnection, PeerView, peer_view
from .context import StepFailed, StepRunner


class Connections(StepRunner):
    async def expect_connection(self, spec: ExpectConnection, timeout: float) -> None:
        csms = self.ctx.csms
        assert csms is not None, "Scenario.conflicts() keeps expect_connection off a remote CSMS"
        names = self._known_serials()
        wanted = self._wanted_serial(spec)

        def fits(view: PeerView) -> bool:
            if spec.tls is not None and (view.tls_version is not None) != spec.tls:
                return False
            return spec.client_certificate is None or view.client_serial == wanted

        cp = self.ctx.charge_point
        observer = self.ctx.observer
        # re-checked at every frame: a reconnect's first frame follows the CSMS's session
        found = await observer.until(
            lambda: view if (view := peer_view(csms, cp)) is not None and fits(view) else None,
            self.ctx.time.window(timeout),
        )
        if found is None:
            now = peer_view(csms, cp)
            seen = now.describe(names) if now else "no connection"
            raise StepFailed(
                f"expected a connection {self._text(spec, wanted, names)} "
                f"{self.within(timeout)}; the CSMS sees {seen}",
                *self.link_state(),
            )
        # The cursor stays: what the charger sends on the new connection (its BootNotification)
        # is still there for the expectations that follow.

    def _wanted_serial(self, spec: ExpectConnection) -> int | None:
        security = self.ctx.security
        if spec.client_certificate == "initial":
            assert security.pki is not None, "security_problems() asks for csms.tls"
            return security.pki.chargers[self.ctx.charge_point].cert.serial_number
        if spec.client_certificate == "renewed":
            assert security.signing_ca is not None, "security_problems() asks for signing_ca"
            last = security.signing_ca.last_issued
            if last is None:
                raise StepFailed(
                    "expected the renewed client certificate, but the local CSMS has signed "
                    "none (no SignCertificate it accepted)"
                )
            return last.serial_number
        return None

    def _known_serials(self) -> dict[int, str]:
        security, names = self.ctx.security, dict[int, str]()
        if security.pki is not None:
            initial = security.pki.chargers[self.ctx.charge_point].cert
            names[initial.serial_number] = "the initial one"
        if security.signing_ca is not None:
            for cert in security.signing_ca.issued:
                names[cert.serial_number] = "signed by the local CSMS"
        return names

    @staticmethod
    def _text(spec: ExpectConnection, wanted: int | None, names: dict[int, str]) -> str:
        parts = []
        if spec.tls is not None:
            parts.append("over wss://" if spec.tls else "over ws://")
        if spec.client_certificate == "none":
            parts.append("without a client certificate")
        elif spec.client_certificate is not None and wanted is not None:
            parts.append(
                f"with the {spec.client_certificate} client certificate (serial "
                f"{format(wanted, 'X')})"
            )
        return " ".join(parts)
