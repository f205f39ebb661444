"""A compute operation's failure said in the service's terms, with what to do.

Three ways a start, stop, restart, create or delete fails on Azure ML:

- the POST / PUT / DELETE itself is refused: 409 Conflict while another operation runs on the instance ("busy"),
  404 when it is gone, 401/403 for the sign-in, … (azure-core's ``HttpResponseError`` with that status);
- the service accepted it (202) and the long-running operation ended ``Failed``: a refused transition
  (``StartComputeInstanceOnlyAllowedInStoppedState``, "only allowed when the instance X is in 'stopped' state") or
  a failure half-way. azure-core raises ``HttpResponseError`` carrying the last status poll's answer
  (``{"status": "Failed", "error": {"code", "message"}}``, HTTP 200);
- no answer at all (network), said by ``errors.from_azure_exception``.
"""

from __future__ import annotations

from typing import Any

from studio.core.errors import StudioError
from studio.workspaces.azure.errors import (
    AzureConflictError,
    AzureError,
    from_azure_exception,
    service_message,
)

VERBS = {"start": "start", "stop": "stop", "restart": "restart", "delete": "delete", "create": "create"}
_REFUSAL_HINTS = ("onlyallowed", "notallowed", "invalidstate", "conflict", "state")


def operation_error(exc: BaseException, action: str, name: str, *, host: str) -> StudioError:
    """The studio error for ``exc``, raised by ``action`` ("start", "stop", …) of compute ``name``."""
    if isinstance(exc, StudioError):
        return exc
    verb = VERBS.get(action, action)
    status = _status(exc)
    code, message = service_message(_body(exc))
    said = f" ({message.rstrip('.')})" if message else ""
    if status == 409:
        return AzureConflictError(
            f"{name} is busy with another operation{said}; wait until it ends, then {verb} it again.",
            status=status,
            code=code,
        )
    if isinstance(status, int) and status < 300 and (code or message):
        # The service accepted the request and then failed the operation.
        text = (message or code or "").rstrip(".")
        if any(hint in (code or "").lower() for hint in _REFUSAL_HINTS):
            return AzureConflictError(
                f"Azure refused to {verb} {name}: {text}. Refresh to see its state, then try what it allows.",
                status=409,
                code=code,
            )
        return AzureError(
            f"Azure could not {verb} {name}: {text}. Refresh to see its state now.", status=status, code=code
        )
    method = "DELETE" if action == "delete" else ("PUT" if action == "create" else "POST")
    return from_azure_exception(exc, host=host, what=f"the compute {name!r}", method=method)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _body(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return response.text()
        except Exception:  # a streamed or closed body: the parsed error below
            pass
    error = getattr(exc, "error", None)
    code, message = getattr(error, "code", None), getattr(error, "message", None)
    if code or message:
        return {"error": {"code": code, "message": message}}
    return None
