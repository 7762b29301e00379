"""The one error type of the local CSMS's HTTP side: a JSON answer with the right status.

Every refusal names the rule broken (``problem``, a short machine-readable word such
as ``bad_token``), says what to do in ``error`` (one sentence), and, for bad input,
names the ``field``.  The HTTP side turns it into ``{"error": ..., "problem": ...}``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """A request the HTTP side refuses: ``status`` and a JSON body naming the problem."""

    def __init__(
        self,
        status: HTTPStatus,
        problem: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.problem, self.message = status, problem, message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "problem": self.problem}
        if self.field is not None:
            body["field"] = self.field
        return body


def bad_input(field: str, message: str) -> ApiError:
    """400: the request's ``field`` breaks a rule; the message starts with the field's name."""
    return ApiError(HTTPStatus.BAD_REQUEST, "bad_input", f"{field}: {message}", field=field)
