"""Trusting the CSMS at connect: the security events of a failed TLS handshake (WP A00)
and the fallback CSMS root of ``AdditionalRootCertificateCheck`` (WP M05, §7.1).

- A connect that fails in the TLS handshake comes in as ``TlsFailed`` (the station's
  runner feeds it from the link's error).  ``InvalidCentralSystemCertificate``
  (A00.FR.309/310, .413/414), ``InvalidTLSVersion`` (A00.FR.315/419) and
  ``InvalidTLSCipherSuite`` (A00.FR.322/426) are raised: logged and queued with the
  transaction messages (persisted, retried, sent once a boot is Accepted: A04.FR.02)
  when ``SecurityExtension`` is true.  ``FailedToAuthenticationAtCentralSystem`` (the
  CSMS refused the charger's certificate) is only logged: not critical (WP§8).  One
  event per kind per outage: a CSMS that stays misconfigured is not a flood.
- ``AdditionalRootCertificateCheck`` true (M05.FR.08-13): InstallCertificate keeps the
  new CentralSystemRootCertificate and the one it replaces (:mod:`.certificates`).  A
  connect trusts the new root alone; when the CSMS certificate fails against it, the
  next connect trusts the old one alone ("retry with the fallback"), the one after the
  new one again.  The first connection with the new root removes the fallback.  This
  applies to the roots installed over OCPP, which the link uses when no CA file was
  given (``assembly.current_tls``); a given CA file is the charger owner's and is
  left alone.  The new root is signed by the old one, so trusting it alone needs a
  TLS stack that takes any trusted certificate as an anchor (``tlsfiles.client_context``
  sets OpenSSL's partial-chain flag; one that does not falls back and keeps both).
- A00.FR.003 (a connection the CSMS accepted with another profile is ended): the
  link derives the scheme, the Basic auth and the client certificate from
  SecurityProfile at every connect (``handshake.Endpoint``), so no such connection
  can open; a raised profile closes and reconnects (:mod:`.csms_calls`, A05.FR.05-07).
"""

from __future__ import annotations

import logging

from chargepoint.security import events as sec

from .certificates import CertificateCalls
from .events import LinkUp, TlsFailed
from .records import StoredState
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

CS_ROOT = "CentralSystemRootCertificate"
TLS_EVENTS = sec.RAISED_AT_CONNECT | {sec.FAILED_TO_AUTHENTICATE_AT_CENTRAL_SYSTEM}
_NONE_REPORTED: frozenset[str] = frozenset()
"""Shared by every charger that raised none (an empty set costs each one 216 B)."""
"""The kinds a ``TlsFailed`` may carry."""


class CsmsTrust(CertificateCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self._tls_reported = _NONE_REPORTED
        """Kinds raised since the link was last up (one each per outage)."""
        self._fallback_for: str | None = None
        """The newest root's name while its fallback is the one to try."""

    # --- the security events of a failed handshake (A00) -------------------------------

    def tls_failed(self, event: TlsFailed) -> None:
        if event.kind not in TLS_EVENTS:
            log.warning("TlsFailed %r is no TLS security event; ignored", event.kind[:60])
            return
        if event.kind == sec.INVALID_CENTRAL_SYSTEM_CERTIFICATE:
            self._switch_root()
        if event.kind in self._tls_reported:
            return
        self._tls_reported |= {event.kind}
        required = event.kind in sec.RAISED_AT_CONNECT
        self.security_event(event.kind, event.tech_info or None, required=required)

    def link_up(self, event: LinkUp) -> None:
        super().link_up(event)
        self._tls_reported = _NONE_REPORTED  # the outage is over
        self._root_connected()

    # --- AdditionalRootCertificateCheck's fallback root (M05.FR.08-13) ---------------

    def _root_pair(self) -> tuple[str, str] | None:
        """(fallback, newest) names of the installed CSMS roots the link trusts, when the
        check is on and a fallback is kept; else None."""
        if not self.config.get_bool("AdditionalRootCertificateCheck"):
            return None
        if "ca" in self.settings.tls_files:  # a CA file was given: the link uses it
            return None
        roots = self.installed(CS_ROOT)
        return (roots[-2][0], roots[-1][0]) if len(roots) >= 2 else None

    def installed_roots_pem(self) -> str:
        """The roots the next connect trusts: with a fallback kept, the newest alone, or
        the fallback alone after the newest failed (M05: "retry with the fallback")."""
        pair = self._root_pair()
        if pair is None:
            return super().installed_roots_pem()
        fallback, newest = pair
        return self.security_objects[fallback if self._fallback_for == newest else newest]

    def _switch_root(self) -> None:
        pair = self._root_pair()
        if pair is None:
            return
        fallback, newest = pair
        self._fallback_for = None if self._fallback_for == newest else newest
        tried = fallback if self._fallback_for == newest else newest
        self.timeline("certificate", nextConnectTrusts=tried)

    def _root_connected(self) -> None:
        """The first connection with the newest root removes the fallback (M05)."""
        pair = self._root_pair()
        if pair is None or not self._tls_on():
            return
        fallback, newest = pair
        if self._fallback_for == newest:  # connected with the fallback: keep both
            self._fallback_for = None  # the next connect tries the newest again
            return
        self._delete_object(fallback)
        self.timeline("certificate", fallbackRemoved=fallback, connectedWith=newest)
