"""GetDiagnostics in the sans-I/O core (OCPP 1.6 §5.9, §6.25/6.26, §4.4, E3.31, E3.50)."""

from __future__ import annotations

from typing import Any

from core.harness import Harness  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import actions as act
from chargepoint.core import events as ev

LOCATION = "ftp://user:secret@files.example/diag/"


def online(**settings: Any) -> Harness:
    h = Harness(**settings)
    h.boot(interval=3600)
    return h


def diag_statuses(h: Harness) -> list[str]:
    return [f[3]["status"] for f in h.calls("DiagnosticsStatusNotification")]


def uploads(h: Harness) -> list[act.StartTransfer]:
    return [a for a in h.log if isinstance(a, act.StartTransfer) and a.kind == "diagnostics"]


def get_diagnostics(h: Harness, uid: str = "g1", **extra: Any) -> dict[str, Any]:
    answer = h.csms_call("GetDiagnostics", {"location": LOCATION, **extra}, uid=uid)
    assert answer[0] == 3
    h.answer_all()
    return dict(answer[2])


def finish(h: Harness, ok: bool = True, detail: str = "") -> None:
    h.feed(ev.TransferFinished(uploads(h)[-1].transfer_id, ok, detail))
    h.answer_all()


def trigger(h: Harness) -> str:
    h.csms_call("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    status = str(h.answer_until("DiagnosticsStatusNotification")[3]["status"])
    h.answer_all()
    return status


def test_the_answer_names_the_file_that_is_then_uploaded_with_the_window() -> None:
    h = online()
    answer = get_diagnostics(h, startTime="2030-01-01T00:00:00Z", stopTime="2030-01-01T01:00:00Z")
    name = answer["fileName"]
    assert name.startswith("CP1-diagnostics-") and name.endswith(".tar.gz")
    (upload,) = uploads(h)
    assert (upload.url, upload.file_name) == (LOCATION, name)
    assert (upload.start_time, upload.stop_time) == (
        "2030-01-01T00:00:00Z",
        "2030-01-01T01:00:00Z",
    )
    assert diag_statuses(h) == ["Uploading"]
    assert trigger(h) == "Uploading"
    finish(h)
    assert diag_statuses(h)[-1] == "Uploaded"
    assert trigger(h) == "Idle"


def test_a_failed_upload_is_retried_and_its_reason_is_on_the_timeline() -> None:
    h = online()
    get_diagnostics(h, retries=1, retryInterval=60)
    finish(h, ok=False, detail="ftp://user:secret@files.example/diag/: 550 Permission denied")
    assert diag_statuses(h) == ["Uploading", "UploadFailed"]
    reasons = [e["reason"] for e in h.timeline if e.get("status") == "UploadFailed"]
    assert "550 Permission denied" in reasons[0] and "secret" not in reasons[0]
    h.advance(59)
    assert len(uploads(h)) == 1
    h.advance(1)
    assert len(uploads(h)) == 2
    finish(h)
    assert diag_statuses(h) == ["Uploading", "UploadFailed", "Uploading", "Uploaded"]


def test_retries_zero_means_one_attempt() -> None:
    h = online()
    get_diagnostics(h, retries=0)
    finish(h, ok=False, detail="refused")
    h.advance(3600)
    assert len(uploads(h)) == 1
    assert diag_statuses(h) == ["Uploading", "UploadFailed"]
    assert trigger(h) == "Idle"


def test_without_logs_the_answer_has_no_file_name_and_nothing_is_uploaded() -> None:
    h = online(diagnostics_available=False)
    assert get_diagnostics(h) == {}  # §5.9, §6.26
    assert uploads(h) == [] and diag_statuses(h) == []


def test_a_new_request_during_an_upload_supersedes_it() -> None:
    h = online()
    get_diagnostics(h, uid="g1")
    first = uploads(h)[0].transfer_id
    h.now += 2
    get_diagnostics(h, uid="g2")
    cancelled = [a.transfer_id for a in h.log if isinstance(a, act.CancelTransfer)]
    assert cancelled == [first]
    assert diag_statuses(h) == ["Uploading", "UploadFailed", "Uploading"]
    h.feed(ev.TransferFinished(first, False, "cancelled"))  # late: ignored
    assert diag_statuses(h) == ["Uploading", "UploadFailed", "Uploading"]
    finish(h)
    assert diag_statuses(h)[-1] == "Uploaded"


def test_a_window_that_is_no_date_time_is_a_callerror_and_uploads_nothing() -> None:
    h = online()
    for field in ("startTime", "stopTime"):
        payload = {"location": "http://h/up/", field: "2030-13-45T99:00:00Z"}
        answer = h.csms_call("GetDiagnostics", payload, uid=field)
        assert answer[:3] == [4, field, "TypeConstraintViolation"]
    assert uploads(h) == [] and diag_statuses(h) == []
