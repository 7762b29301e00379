"""The answer to every CSMS call: one handler per action, routed with ocpp's ``@on``
(the answer) and ``@after`` (what the charger does once the answer is on its way:
§5.11, §5.12 and §5.17 say answer first, then act).

Handlers get the payload in snake_case, as ocpp's own routing gives it, and return
ocpp's ``call_result`` dataclasses.  An action OCPP 1.6 does not define is answered
``NotImplemented``; one it defines that this charger does not support,
``NotSupported`` (OCPP-J 1.6 §4.2.3: the reverse of what ocpp's routing sends).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Final

from ocpp.charge_point import camel_to_snake_case, remove_nones, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.payloads import CSMS_ACTIONS

from . import ocppj
from .actions import ArmTimer, ClearAuth, CloseLink, Send
from .profiles import CORE, PROFILE_OF_ACTION
from .session import Session

log = logging.getLogger("cpsim.core")

RECONNECT_TIMER: Final = "link-security:reconnect"
RECONNECT_DELAY_S: Final = 1.0
"""Charger seconds between the Accepted answer to a new AuthorizationKey or
SecurityProfile and the close that reconnects with it (EVerest ~L1873: 1 s)."""

TRIGGERABLE: Final = frozenset(
    {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    }
)


class CsmsCalls(Session):
    _routes: dict[str, dict[str, Any]]
    """action -> ocpp's route entry; the handlers are the class's functions (one map per
    class, shared by every charger of a fleet): call them with ``self``."""
    _reconnect_for: str | None = None
    """The key of the ChangeConfiguration just Accepted (its @after acts on it)."""
    _reconnect_reason: str = ""

    def route_call(self, frame: ocppj.Frame) -> None:
        """Answer one CALL from the CSMS, then run its ``@after`` handler."""
        uid, action = frame.unique_id, frame.action
        route = self._routes.get(action)
        if action not in CSMS_ACTIONS:
            self._answer_error(uid, "NotImplemented", f"{action} is not an OCPP 1.6 call")
            return
        profile = PROFILE_OF_ACTION.get(action, CORE)
        if route is None or "_on_action" not in route or not self.profile_enabled(profile):
            self._answer_error(uid, "NotSupported", f"{action} is not supported ({profile})")
            return
        try:
            problem = ocppj.schema_error(ocppj.CALL, action, frame.payload)
        except ArithmeticError:
            # a decimal too large for the schema's multipleOf check (a limit of 1e300):
            # jsonschema raises decimal.InvalidOperation; answer it, never drop the link
            problem = ("PropertyConstraintViolation", "a number is out of range")
        if problem is not None:
            self._answer_error(uid, *problem)
            return
        kwargs = camel_to_snake_case(frame.payload)
        try:
            answer = route["_on_action"](self, **kwargs)
            payload = snake_to_camel_case(remove_nones(dataclasses.asdict(answer)))
        except OCPPError as exc:  # the handler's answer is a CALLERROR (e.g. E3.39)
            self._answer_error(uid, exc.code, str(exc.description))
            return
        except Exception as exc:  # a bug in a handler: the CSMS gets an answer, we a log line
            log.exception("%s handler failed", action)
            self._answer_error(uid, "InternalError", type(exc).__name__)
            return
        self.emit_answer(uid, action, payload)
        hook = route.get("_after_action")
        if hook is not None:
            hook(self, **kwargs)

    def emit_answer(self, unique_id: str, action: str, payload: dict[str, Any]) -> None:
        self.emit(Send(ocppj.call_result(unique_id, payload), unique_id))
        self.timeline("answered", action=action, uniqueId=unique_id, status=payload.get("status"))

    def _answer_error(self, unique_id: str, code: str, description: str) -> None:
        self.emit(Send(ocppj.call_error(unique_id, code, description), unique_id))
        self.timeline("answered", uniqueId=unique_id, error=code)

    # --- configuration (§5.3, §5.8) ---------------------------------------------------

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        known, unknown = self.config.report(key)
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        if key == "SecurityProfile" and key in self.config.specs:
            refusal = self.security_profile_refusal(value)
            if refusal is not None:
                log.warning("ChangeConfiguration SecurityProfile %s rejected: %s", value, refusal)
                return call_result.ChangeConfiguration(status="Rejected")
        status = self.config.set(key, value)
        self._reconnect_for = key if status == "Accepted" else None
        return call_result.ChangeConfiguration(status=status)

    @after(Action.change_configuration)
    def after_change_configuration(self, key: str, value: str, **_: Any) -> None:
        """A new AuthorizationKey (WP A01, EVerest ~L1873) or a raised SecurityProfile
        (A05.FR.05-07): answered Accepted, then the link is closed and opened again with
        the new credentials; queued messages stay queued.  A key changed under profile 3
        changes nothing on the wire (no Basic auth)."""
        accepted, self._reconnect_for = self._reconnect_for == key, None
        if not accepted:
            return
        if key == "AuthorizationKey" and self.config.get("SecurityProfile") != "3":
            self.timeline("security", change="AuthorizationKey")  # never the key itself
            self._reconnect_reason = "AuthorizationKey changed"
        elif key == "SecurityProfile":
            self.timeline("security", change="SecurityProfile", profile=int(value))
            self._reconnect_reason = f"SecurityProfile raised to {value}"
        else:
            return
        # EVerest closes 1 s after the conf: the CSMS reads the answer before the close
        self.emit(ArmTimer(RECONNECT_TIMER, self.now + RECONNECT_DELAY_S))

    def layer_timer(self, name: str) -> bool:
        if name != RECONNECT_TIMER:
            return super().layer_timer(name)
        self.emit(CloseLink(1000, self._reconnect_reason))
        return True

    def security_profile_refusal(self, value: str) -> str | None:
        """Why SecurityProfile may not become ``value`` over OCPP, or None.

        Never lowered, nor set to what it is (A00.FR.005, A05.FR.01); 1 and 2 need an
        AuthorizationKey (A05.FR.02), 2 and 3 a CA for the CSMS certificate (A05.FR.03),
        3 the charger's certificate (A05.FR.04).  Layers that install certificates
        extend :meth:`security_prerequisites`.
        """
        if value not in ("0", "1", "2", "3"):
            return "not 0, 1, 2 or 3"
        target, current = int(value), int(self.config.get("SecurityProfile"))
        if target <= current:
            return f"the profile is {current} and is never lowered over OCPP (A00.FR.005)"
        if target in (1, 2) and not self.config.get("AuthorizationKey"):
            return "no AuthorizationKey is set (A05.FR.02)"
        have = self.security_prerequisites()
        if target >= 2 and "ca" not in have:
            return "no CA certificate for the CSMS is installed (A05.FR.03)"
        if target == 3 and "cert" not in have:
            return "no charge-point certificate is installed (A05.FR.04)"
        return None

    def security_prerequisites(self) -> frozenset[str]:
        """What is installed for TLS: ``ca`` and/or ``cert`` (the link's files)."""
        return self.settings.tls_files

    # --- remote trigger (§5.17) -------------------------------------------------------

    def _trigger_target_ok(self, connector_id: int | None) -> bool:
        return connector_id is None or connector_id in self.connectors

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        if requested_message not in TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        if not self._trigger_target_ok(connector_id):
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if requested_message not in TRIGGERABLE or not self._trigger_target_ok(connector_id):
            return
        if requested_message == "BootNotification":
            self.request_boot()
        elif requested_message == "Heartbeat":
            self.send_heartbeat(when_pending=True)
        elif requested_message == "StatusNotification":
            ids = [connector_id] if connector_id is not None else list(self.connectors)
            for cid in ids:
                status = self.status_payload(self.connectors[cid])
                if self.accepted:  # behind any change still queued: the CSMS sees them in order
                    self.enqueue_status(status)
                else:
                    self.send_urgent("StatusNotification", status, when_pending=True)
        elif requested_message == "MeterValues":
            ids = [connector_id] if connector_id else [c for c in self.connectors if c]
            for cid in ids:
                payload = self.meter_values_payload(self.connectors[cid], "Trigger")
                self.send_urgent("MeterValues", payload, when_pending=True)
        else:  # DiagnosticsStatusNotification, FirmwareStatusNotification: the true state
            current = self.triggered_status(requested_message)
            self.send_urgent(requested_message, {"status": current}, when_pending=True)

    # --- reset, availability, unlock, cache (§5.14, §5.2, §5.18, §5.4) ----------------

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> Any:  # noqa: A002 - OCPP's field name
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **_: Any) -> None:  # noqa: A002
        reason = "HardReset" if type == "Hard" else "SoftReset"
        for connector in self.connectors.values():
            if connector.transaction is not None:
                self.stop_transaction(connector.id, reason)
        self.begin_reset(type)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:  # noqa: A002
        if connector_id not in self.connectors:
            return call_result.ChangeAvailability(status="Rejected")
        status = self.change_availability(connector_id, type == "Operative")
        return call_result.ChangeAvailability(status=status)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any) -> Any:
        if connector_id == 0 or connector_id not in self.connectors:
            return call_result.UnlockConnector(status="NotSupported")
        if self.connectors[connector_id].transaction is not None:
            self.stop_transaction(connector_id, "UnlockCommand")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> Any:
        if not self.config.get_bool("AuthorizationCacheEnabled"):
            return call_result.ClearCache(status="Rejected")  # no cache in use (E3.23)
        self.auth_cache.clear()
        self.emit(ClearAuth())
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: Any
    ) -> Any:
        if vendor_id in self.settings.data_transfer_vendors:
            return call_result.DataTransfer(status="Accepted", data=data)
        return call_result.DataTransfer(status="UnknownVendorId")

    # --- remote start and stop (§5.11, §5.12) -----------------------------------------

    def remote_start_target(self, connector_id: int | None, id_tag: str) -> int | None:
        """The connector a RemoteStartTransaction would use: free, operative, and not
        reserved for another idTag (§5.13; as EVerest: Rejected).  Without a connectorId,
        one reserved for this idTag comes first."""
        if not self.accepted:
            return None  # Pending: the CSMS may not start transactions (§4.2)
        candidates = [connector_id] if connector_id else [c for c in self.connectors if c]
        candidates.sort(
            key=lambda c: c not in self.connectors or self.connectors[c].reserved is None
        )
        parent = self.known_parent(id_tag)
        for cid in candidates:
            connector = self.connectors.get(cid)
            if (
                connector is not None
                and cid != 0
                and connector.transaction is None
                and connector.operative
                and connector.error_code == "NoError"
                and self.connectors[0].operative
                and self.may_charge(cid, id_tag, parent)
            ):
                return cid
        return None

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        target = self.remote_start_target(connector_id, id_tag)
        return call_result.RemoteStartTransaction(
            status="Accepted" if target is not None else "Rejected"
        )

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> None:
        target = self.remote_start_target(connector_id, id_tag)
        if target is None:
            return
        if not self.config.get_bool("AuthorizeRemoteTxRequests"):
            self.start_transaction(target, id_tag)
            return

        def decided(status: str, parent: str | None) -> None:
            connector = self.connectors[target]
            if status == "Accepted" and not self.may_charge(target, id_tag, parent):
                status = "Reserved"  # its parentIdTag, now known, is not the reservation's
            if status == "Accepted" and connector.transaction is None:
                self.start_transaction(target, id_tag)
            else:
                log.info("remote start for %s refused: Authorize %s", id_tag, status)
                self.timeline("authorize", target, idTag=id_tag, status=status)

        self.authorize(id_tag, decided)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> Any:
        known = self.accepted and self.transaction_by_id(transaction_id) is not None
        return call_result.RemoteStopTransaction(status="Accepted" if known else "Rejected")

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        tx = self.transaction_by_id(transaction_id)
        if tx is not None and self.accepted:
            self.stop_transaction(tx.connector_id, "Remote")
