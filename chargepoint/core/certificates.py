"""The Security Whitepaper's certificates (ed. 3, A02/A03, M03-M05) and security events (A04).

- Security events (A04, WP§8): every one is kept in the security log (a rolling
  list in the store's values, ``security.log``, and a ``security`` line on the
  timeline, which the diagnostics archive carries); the critical ones and those a
  requirement names are queued as SecurityEventNotification with the transaction
  messages (persisted, in order, retried: A04.FR.02), when ``SecurityExtension``
  is true (cpsim's key; false keeps a charger without the extension as it was).
- CA certificates (M03-M05): InstallCertificate / DeleteCertificate /
  GetInstalledCertificateIds; kept as PEM in the store's ``security_objects`` by
  name ``ca:<use>:<number>`` (installation order).  Which roots a connect trusts
  under AdditionalRootCertificateCheck, and when the fallback goes: :mod:`.csms_trust`.
- The charger's certificate (A02/A03): SignCertificate with a new key pair and a
  CSR (the key kept pending as ``cp:pending_key``), CertificateSigned checked and
  stored as ``cp:cert`` / ``cp:key`` (the previous pair kept as ``cp:cert.old`` /
  ``cp:key.old``, A02.FR.10).  The next connection presents it: the station writes
  the pair under its state dir (``Station.installed_identity``, via
  :func:`charger_certificate`) and ``assembly.current_tls`` (the TLS settings a
  link's endpoint reads at connect) uses it instead of ``--cert``/``--key`` once it is
  valid and newer (A02.FR.08/09).  Installed CSMS roots stand in for a missing
  ``--ca-file`` likewise.

Choices: deleting the charger's own certificate is Failed (M04.FR.05 "impossible";
found, so not NotFound); the chain of a CertificateSigned must end at a
CentralSystemRootCertificate (A02.FR.06 "the CPO hierarchy": the CSMS's root is the
CPO's), installed over OCPP or given at start (``--ca-file``, the settings'
``given_csms_roots``), and its leaf carry the pending CSR's key; a chain over
CertificateSignedMaxChainSize is Rejected (derived, ocpp16-profiles.md §6.5).  The
renewal a month before expiry (A03.FR.02) watches the certificate given at start
(``--cert``, the settings' ``given_certificate_expiry``) as well as an installed one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Final

from cryptography import x509
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.security import certstore
from chargepoint.security import events as sec
from chargepoint.security.certstore import CertificateProblem

from .actions import ArmTimer, DeleteSecurityObject, SaveSecurityObject, SaveValue
from .csms_calls import RECONNECT_DELAY_S, RECONNECT_TIMER
from .events import InstallFinished
from .firmware import FirmwareCalls
from .firmware_jobs import FirmwarePhase
from .records import StoredState
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

SECURITY_LOG_KEY: Final = "security.log"
SECURITY_LOG_MAX: Final = 200
"""Entries kept in the rolling security log (A04.FR.04 recommends rolling)."""
CP_CERT, CP_KEY, PENDING_KEY = "cp:cert", "cp:key", "cp:pending_key"
RENEW_BEFORE_S: Final = 30 * 24 * 3600
"""A03.FR.02: a new certificate is asked for when the current one expires within a month."""
EXPIRY_TIMER: Final = "security:expiry"
SECURITY_PARAMETERS: Final = frozenset({"AuthorizationKey", "SecurityProfile", "CpoName"})


def charger_certificate(security: dict[str, str]) -> tuple[str, str] | None:
    """(certificate chain PEM, private key PEM) the charger presents as its TLS client
    certificate (profile 3), from a store's ``security`` objects; None before any
    CertificateSigned was accepted."""
    cert, key = security.get(CP_CERT), security.get(CP_KEY)
    return (cert, key) if cert and key else None


class CertificateCalls(FirmwareCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.security_objects = dict(stored.security)
        self.security_log: list[list[Any]] = _load_log(stored.values.get(SECURITY_LOG_KEY))
        self._csr_requested = False
        self._renewed_on_profile_3 = False
        self._given_roots: list[x509.Certificate] | None = None
        """``settings.given_csms_roots`` parsed at the first CertificateSigned (a fleet's
        chargers share the text; most never need it parsed)."""
        self.security_event(sec.STARTUP_OF_THE_DEVICE)

    # --- security events (A04) --------------------------------------------------------

    @property
    def security_extension(self) -> bool:
        return self.config.get_bool("SecurityExtension")

    def security_event(
        self, event_type: str, tech_info: str | None = None, required: bool = False
    ) -> None:
        """Log the event (A04.FR.04); queue it for the CSMS when it is pushed (A04.FR.01),
        or ``required`` (a requirement names this occurrence: A00.FR.309 for a CSMS
        certificate refused at connect, where one refused by InstallCertificate is only
        logged, as EVerest does)."""
        if tech_info is not None:
            tech_info = tech_info[: sec.TECH_INFO_MAX]
        stamp = self.timestamp()
        self.security_log.append([stamp, event_type, tech_info])
        del self.security_log[:-SECURITY_LOG_MAX]
        self.emit(SaveValue(SECURITY_LOG_KEY, json.dumps(self.security_log)))
        self.timeline("security", event=event_type, techInfo=tech_info)
        if self.security_extension and (required or sec.is_pushed(event_type)):
            payload: dict[str, Any] = {"type": event_type, "timestamp": stamp}
            if tech_info:
                payload["techInfo"] = tech_info
            self.enqueue("SecurityEventNotification", payload)

    def begin_reset(self, kind: str) -> None:
        self.security_event(sec.RESET_OR_REBOOT, f"{kind} reset")
        super().begin_reset(kind)

    def config_changed(self, key: str) -> None:
        super().config_changed(key)
        if key in SECURITY_PARAMETERS:  # logged without the value (A01.FR.11/12)
            self.security_event(sec.RECONFIGURATION_OF_SECURITY_PARAMETERS, key)

    def install_finished(self, event: InstallFinished) -> None:
        super().install_finished(event)
        if self.firmware_phase is FirmwarePhase.REBOOTING:  # installed: queued, sent after
            self.security_event(sec.FIRMWARE_UPDATED, self.firmware_version)  # the reboot

    def wall_clock_changed(self) -> None:
        super().wall_clock_changed()
        self.security_event(sec.SETTING_SYSTEM_TIME)

    # --- the installed CA certificates (M03-M05) --------------------------------------

    def _save_object(self, name: str, value: str) -> None:
        self.security_objects[name] = value
        self.emit(SaveSecurityObject(name, value))

    def _delete_object(self, name: str) -> None:
        self.security_objects.pop(name, None)
        self.emit(DeleteSecurityObject(name))

    def installed(self, use: str) -> list[tuple[str, x509.Certificate]]:
        """(name, certificate) of every installed certificate of ``use``, oldest first."""
        found = []
        for name in sorted(n for n in self.security_objects if n.startswith(f"ca:{use}:")):
            try:
                found.append((name, certstore.load_one(self.security_objects[name])))
            except CertificateProblem as exc:
                log.warning("stored %s skipped: %s", name, exc)
        return found

    def _all_ca(self) -> list[x509.Certificate]:
        return [c for use in certstore.CERTIFICATE_USES for _, c in self.installed(use)]

    def _wall_datetime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.wall(), dt.UTC)

    @on(Action.install_certificate)
    def on_install_certificate(self, certificate_type: str, certificate: str, **_: Any) -> Any:
        status = self._install_certificate(certificate_type, certificate)
        if status == "Rejected" and certificate_type == "CentralSystemRootCertificate":
            self.security_event(sec.INVALID_CENTRAL_SYSTEM_CERTIFICATE, "InstallCertificate")
        return call_result.InstallCertificate(status=status)

    def _install_certificate(self, use: str, text: str) -> str:
        try:
            cert = certstore.load_one(text)
            certstore.check_validity(cert, self._wall_datetime(), "the certificate")
            certstore.check_key_strength(cert, "the certificate")
        except CertificateProblem as exc:
            log.warning("InstallCertificate %s rejected: %s", use, exc)
            return "Rejected"  # M05.FR.03: invalid
        current = self.installed(use)
        if any(c == cert for _, c in current):
            return "Accepted"  # already there: installing it again changes nothing
        if len(self._all_ca()) >= self.config.get_int("CertificateStoreMaxLength"):
            log.warning("InstallCertificate %s rejected: the store is full (M05.FR.06)", use)
            return "Rejected"
        check = self.config.get_bool("AdditionalRootCertificateCheck")
        if check and use == "CentralSystemRootCertificate" and current:
            # M05.FR.08-13: one root plus the one it replaces, kept as fallback
            if not any(certstore.signed_by(cert, c) for _, c in current):
                log.warning("InstallCertificate rejected: not signed by the current root")
                return "Rejected"
            for name, _ in current[:-1]:
                self._delete_object(name)
        name = f"ca:{use}:{self.next_number('next_certificate'):06d}"
        self._save_object(name, certstore.pem(cert))
        self.timeline("certificate", installed=use, serial=format(cert.serial_number, "X"))
        return "Accepted"

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, certificate_type: str, **_: Any) -> Any:
        # Only what InstallCertificate installed (M03 lists the installed certificates;
        # M05.FR.02: Accepted = installed).  The --ca-file roots are trusted (A02.FR.06)
        # but not listed: nothing in the whitepaper (ocpp16-profiles.md §6.6) makes a
        # local file an installed certificate, the CSMS could not delete one it saw
        # (M04: the file is the owner's, read at every start), and a system bundle of
        # hundreds would break CertificateStoreMaxLength (WP§7.4).
        everyone = self._all_ca()
        hashes = [
            certstore.hash_data(c, certstore.issuer_in(c, everyone))
            for _, c in self.installed(certificate_type)
        ]
        if not hashes:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data=hashes
        )

    @on(Action.delete_certificate)
    def on_delete_certificate(self, certificate_hash_data: dict[str, Any], **_: Any) -> Any:
        wanted = {_camel(k): v for k, v in certificate_hash_data.items()}
        algorithm = str(wanted.get("hashAlgorithm", "SHA256"))
        everyone = self._all_ca()
        own = self._own_chain()
        if own and certstore.same_hash_data(
            certstore.hash_data(own[0], certstore.issuer_in(own[0], own[1:] + everyone), algorithm),
            wanted,
        ):
            return call_result.DeleteCertificate(status="Failed")  # M04.FR.05
        for use in certstore.CERTIFICATE_USES:
            current = self.installed(use)
            for name, cert in current:
                issuer = certstore.issuer_in(cert, everyone)
                if not certstore.same_hash_data(
                    certstore.hash_data(cert, issuer, algorithm), wanted
                ):
                    continue
                if use == "CentralSystemRootCertificate" and len(current) == 1 and self._tls_on():
                    return call_result.DeleteCertificate(status="Failed")  # M04.FR.06
                self._delete_object(name)
                self.timeline("certificate", deleted=use, serial=wanted.get("serialNumber"))
                return call_result.DeleteCertificate(status="Accepted")
        return call_result.DeleteCertificate(status="NotFound")  # M04.FR.04

    def security_prerequisites(self) -> frozenset[str]:
        """A05.FR.03/04: an installed CSMS root counts as ``ca``, a certificate a
        CertificateSigned installed as ``cert`` (the link uses both: assembly.current_tls)."""
        have = set(super().security_prerequisites())
        if self.installed("CentralSystemRootCertificate"):
            have.add("ca")
        if charger_certificate(self.security_objects) is not None:
            have.add("cert")
        return frozenset(have)

    def installed_roots_pem(self) -> str:
        """Every installed CentralSystemRootCertificate, one PEM text ("" when none)."""
        return "".join(
            self.security_objects[name]
            for name, _ in self.installed("CentralSystemRootCertificate")
        )

    def _tls_on(self) -> bool:
        """Whether the connection uses the CSMS root (security profile 2 or 3)."""
        if "SecurityProfile" not in self.config.specs:
            return False
        return self.config.get("SecurityProfile") in ("2", "3")

    # --- the charger's own certificate (A02, A03) -------------------------------------

    def _own_chain(self) -> list[x509.Certificate]:
        text = self.security_objects.get(CP_CERT)
        if not text:
            return []
        try:
            return certstore.load_chain(text)
        except CertificateProblem as exc:
            log.warning("the stored charger certificate is unusable: %s", exc)
            return []

    def cpo_name(self) -> str:
        return self.config.get("CpoName") if "CpoName" in self.config.specs else ""

    def request_certificate(self, reason: str) -> bool:
        """Send SignCertificate with a NEW key pair's CSR (A02.FR.02/03); False when
        CpoName is not set (the prerequisite of A02/A03; EVerest rejects then)."""
        cpo = self.cpo_name()
        if not cpo:
            log.warning("SignCertificate not sent: CpoName is not set (A02 prerequisite)")
            return False
        key_pem, csr_pem = certstore.new_csr(self.identity.charge_point_id, cpo)
        self._save_object(PENDING_KEY, key_pem)
        self._csr_requested = True
        self.timeline("certificate", csr=reason)

        def answered(result: dict[str, Any]) -> None:
            status = result.get("status")
            self.timeline("certificate", signCertificate=status)
            if status != "Accepted":  # A02: no automatic retry; the key is of no use
                self._delete_object(PENDING_KEY)

        self.send_urgent("SignCertificate", {"csr": csr_pem}, on_result=answered, when_pending=True)
        return True

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, **_: Any) -> Any:
        try:
            chain = self._check_signed(certificate_chain)
        except CertificateProblem as exc:
            log.warning("CertificateSigned rejected: %s", exc)
            self.security_event(sec.INVALID_CHARGE_POINT_CERTIFICATE, str(exc))
            return call_result.CertificateSigned(status="Rejected")  # A02.FR.07
        old_cert, old_key = self.security_objects.get(CP_CERT), self.security_objects.get(CP_KEY)
        if old_cert and old_key:  # A02.FR.10: the previous one stays as fallback
            self._save_object(f"{CP_CERT}.old", old_cert)
            self._save_object(f"{CP_KEY}.old", old_key)
        self._save_object(CP_CERT, "".join(certstore.pem(c) for c in chain))
        self._save_object(CP_KEY, self.security_objects[PENDING_KEY])
        self._delete_object(PENDING_KEY)
        leaf = chain[0]
        self.timeline(
            "certificate",
            signed=format(leaf.serial_number, "X"),
            notAfter=leaf.not_valid_after_utc.isoformat(),
        )
        self._renewed_on_profile_3 = (
            "SecurityProfile" in self.config.specs and self.config.get("SecurityProfile") == "3"
        )
        return call_result.CertificateSigned(status="Accepted")

    @after(Action.certificate_signed)
    def after_certificate_signed(self, **_: Any) -> None:
        """On profile 3 the certificate is the charger's credential: once the answer is out,
        close and connect again presenting the new one (A02.FR.08; EVerest reconnects after
        an accepted chain on profile 3, ocpp16-profiles.md §6.5)."""
        if not self._renewed_on_profile_3:
            return
        self._renewed_on_profile_3 = False
        self._reconnect_reason = "charger certificate renewed"
        self.emit(ArmTimer(RECONNECT_TIMER, self.now + RECONNECT_DELAY_S))

    def _check_signed(self, text: str) -> list[x509.Certificate]:
        limit = self.config.get_int("CertificateSignedMaxChainSize")
        if len(text) > limit:
            raise CertificateProblem(
                f"certificateChain of {len(text)} characters, over "
                f"CertificateSignedMaxChainSize {limit}"
            )
        chain = certstore.load_chain(text, limit)
        use = "CentralSystemRootCertificate"
        roots = [c for _, c in self.installed(use)] + self.given_roots()
        certstore.check_chain(chain, roots, self._wall_datetime(), use)
        pending = self.security_objects.get(PENDING_KEY)
        if pending is None:
            raise CertificateProblem("no SignCertificate is pending (no key waits for it)")
        if not certstore.key_matches(chain[0], pending):
            raise CertificateProblem("the certificate is not for the key of the pending CSR")
        names = chain[0].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if [a.value for a in names] != [self.identity.charge_point_id]:
            raise CertificateProblem("its CN is not this charge point's id (A00.FR.511)")
        return chain

    def given_roots(self) -> list[x509.Certificate]:
        """The CSMS roots of the CA file given at start: trust anchors for a
        CertificateSigned chain (A02.FR.06) as an installed root is."""
        if self._given_roots is None:
            self._given_roots = []
            if self.settings.given_csms_roots:
                try:
                    self._given_roots = certstore.load_bundle(self.settings.given_csms_roots)
                except CertificateProblem as exc:
                    log.warning("the CA file's roots are unusable: %s", exc)
        return self._given_roots

    def certificate_expiry(self) -> float | None:
        """When the charger's certificates run out (POSIX seconds): the latest notAfter of
        the one CertificateSigned installed and the one given at start; None without any."""
        own = self._own_chain()
        ends = [own[0].not_valid_after_utc.timestamp()] if own else []
        if self.settings.given_certificate_expiry is not None:
            ends.append(self.settings.given_certificate_expiry)
        return max(ends, default=None)

    def _check_expiry(self) -> None:
        """A03.FR.02: ask for a new certificate a month before the current one expires
        (the latest to expire: a renewed one makes the given one's end no reason)."""
        expiry = self.certificate_expiry()
        if expiry is None or self._csr_requested or PENDING_KEY in self.security_objects:
            return
        if expiry - self.wall() < RENEW_BEFORE_S:
            self.request_certificate("expiring")

    def report_all_statuses(self) -> None:
        super().report_all_statuses()
        self._check_expiry()
        self.emit_expiry_timer()

    def emit_expiry_timer(self) -> None:
        self.emit(ArmTimer(EXPIRY_TIMER, self.now + 24 * 3600))

    def layer_timer(self, name: str) -> bool:
        if name != EXPIRY_TIMER:
            return super().layer_timer(name)
        if self.accepted:
            self._check_expiry()
            self.emit_expiry_timer()
        return True


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _load_log(text: str | None) -> list[list[Any]]:
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 3][-SECURITY_LOG_MAX:]
