"""Azure's failures as studio errors, each one sentence a user can act on.

Three sources end here:
- answers with an HTTP status (ARM, run history, MLflow): ``error_for_status`` reads the body's message from
  ARM's ``{"error": {"code", "message"}}`` or Azure ML's ``{"Error": {"Code", "Message"}}``;
- azure-core's exceptions (``HttpResponseError`` and its kinds, ``ServiceRequestError`` when nothing answered,
  ``ClientAuthenticationError`` from a credential that could not get a token): ``from_azure_exception``;
- the MLflow REST client's errors, which name "the MLflow server" and MLflow's variables: ``from_mlflow_error``
  says the same in Azure's terms.

Nothing here sees a token: messages are built from host names, paths, statuses and the service's own message.
This module imports no ``azure`` package at module level (exception types are looked up by name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from studio.core.errors import AuthenticationError, NotFoundError, RunStateError, StudioError, WorkspaceError

MAX_MESSAGE = 300
_ACTION = re.compile(r"perform action '([^']+)'", re.IGNORECASE)
_SCOPE = re.compile(r"over scope '([^']+)'", re.IGNORECASE)


class AzureError(WorkspaceError):
    """A call to Azure failed; ``status`` is the HTTP status (None when nothing answered), ``code`` Azure's code."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AzureAuthError(AzureError, AuthenticationError):
    """401 (sign in again) or 403 (the account lacks a role): the window offers "Sign in…"."""


class AzureNotFoundError(AzureError, NotFoundError):
    """404: the workspace, job or file is not there (or the account cannot see it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AzureConflictError(AzureError, RunStateError):
    """409 or a refusal because of a job's state (cancel of a finished job)."""


class AzureThrottledError(AzureError):
    """429 after the retries: Azure limits the requests."""


class AzureServerError(AzureError):
    """5xx after the retries."""


class AzureUnreachableError(AzureError):
    """No answer: DNS, proxy, TLS, a dropped connection."""


class AzureTimeoutError(AzureError):
    """Connected, but no answer within the read timeout."""


def service_message(body: bytes | str | Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(code, message) from an Azure error body, one line each; (None, None) if it holds neither."""
    document: Any = body
    if isinstance(body, bytes | str):
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None, None
    if not isinstance(document, Mapping):
        return None, None
    for key in ("error", "Error"):
        inner = document.get(key)
        if isinstance(inner, Mapping):
            code = inner.get("code") or inner.get("Code")
            message = inner.get("message") or inner.get("Message")
            return (str(code) if code else None), (_one_line(str(message)) if message else None)
    code = document.get("error_code") or document.get("code")
    message = document.get("message")
    return (str(code) if code else None), (_one_line(str(message)) if message else None)


def role_hint(message: str | None, method: str = "GET") -> str:
    """The permission a 403 lacks, from ARM's AuthorizationFailed message, with the role that grants it."""
    action = _ACTION.search(message or "")
    scope = _SCOPE.search(message or "")
    name = action.group(1) if action else ""
    reads = (name.lower().endswith("/read") if name else method.upper() == "GET") and "listsecrets" not in name.lower()
    role = "Reader (or AzureML Data Scientist)" if reads else "AzureML Data Scientist (or Contributor)"
    what = f"permission {name!r}" if name else ("read access" if reads else "write access")
    where = f" on {scope.group(1)}" if scope else ""
    return f"your account lacks {what}{where}: ask an owner for the {role} role, or sign in with another account"


def error_for_status(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    host: str,
    what: str = "",
    method: str = "GET",
    tries: int = 1,
) -> AzureError:
    """The error for an answer with a failing HTTP status. ``what``: what was asked ("the job 'x'")."""
    code, message = service_message(body)
    detail = f": {message}" if message else "."
    after = f" (after {tries} tries)" if tries > 1 else ""
    subject = f" for {what}" if what else ""
    if status == 401:
        return AzureAuthError(
            f"Azure ({host}) refused the sign-in (HTTP 401){subject}: sign in again.", status=status, code=code
        )
    if status == 403:
        return AzureAuthError(
            f"Azure ({host}) refused access{subject} (HTTP 403): {role_hint(message, method)}.",
            status=status,
            code=code,
        )
    if status == 404:
        target = what or "what was asked for"
        return AzureNotFoundError(
            f"Azure ({host}) has no {target} (HTTP 404), or your account cannot see it{detail}",
            status=status,
            code=code,
        )
    if status == 409:
        return AzureConflictError(
            f"Azure ({host}) refused the change{subject} (HTTP 409){detail}", status=status, code=code
        )
    if status == 429:
        return AzureThrottledError(
            f"Azure ({host}) is limiting requests (HTTP 429){after}: try again in a minute.", status=status, code=code
        )
    if status >= 500:
        said = f": {message.rstrip('.')}; try again later." if message else ": try again later."
        return AzureServerError(
            f"Azure ({host}) failed{subject} (HTTP {status}){after}{said}", status=status, code=code
        )
    return AzureError(f"Azure ({host}) refused the request{subject} (HTTP {status}){detail}", status=status, code=code)


def unreachable(host: str, reason: str = "") -> AzureUnreachableError:
    """Nothing answered (DNS, proxy, TLS, connection dropped)."""
    why = f" ({reason})" if reason else ""
    return AzureUnreachableError(f"Cannot reach Azure ({host}){why}: check the network or proxy.")


def timed_out(host: str, seconds: float | None = None) -> AzureTimeoutError:
    """Connected, but the answer did not come in time."""
    within = f" within {seconds:g} s" if seconds else " in time"
    return AzureTimeoutError(f"Azure ({host}) did not answer{within}: it may be busy; try again later.")


def from_azure_exception(exc: BaseException, *, host: str, what: str = "", method: str = "GET") -> StudioError:
    """A studio error for an azure-core / azure-identity exception (a StudioError passes through unchanged)."""
    if isinstance(exc, StudioError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    if "CredentialUnavailableError" in names:
        return AzureAuthError(f"No Azure sign-in is available: {_first_line(exc)} Sign in to Azure in Studio.")
    if "ClientAuthenticationError" in names and not isinstance(status, int):
        return AzureAuthError(f"Azure sign-in failed: {_first_line(exc)} Sign in again.")
    if isinstance(status, int) and status >= 300:
        body = _exception_body(exc)
        return error_for_status(status, body, host=host, what=what, method=method)
    if "ServiceResponseTimeoutError" in names or "ServiceRequestTimeoutError" in names:
        return timed_out(host)
    if "ServiceRequestError" in names or "ServiceResponseError" in names or "TooManyRedirectsError" in names:
        return unreachable(host, _network_reason(exc))
    if "HttpResponseError" in names or "AzureError" in names:
        return AzureError(f"Azure ({host}) failed{(' for ' + what) if what else ''}: {_first_line(exc)}")
    return AzureError(f"Azure ({host}) failed{(' for ' + what) if what else ''}: {_first_line(exc)}")


def from_mlflow_error(exc: BaseException, *, host: str, workspace: str) -> StudioError:
    """The MLflow client's error said in Azure's terms (its messages name "the MLflow server" and MLflow's
    variables, which mean nothing for an Azure workspace). Other errors pass through unchanged."""
    from studio.workspaces.mlflow.rest.errors import (
        MlflowNotFoundError,
        MlflowRestError,
        MlflowTimeoutError,
        MlflowTlsError,
        MlflowUnreachableError,
    )

    if not isinstance(exc, MlflowRestError):
        return exc if isinstance(exc, StudioError) else AzureError(f"Azure ({host}) failed: {_first_line(exc)}")
    status, code = exc.status, exc.error_code
    text = str(exc)
    message = text.split(": ", 1)[1] if ": " in text and isinstance(exc, MlflowNotFoundError) else None
    if status == 401:
        return AzureAuthError(
            f"Azure ML's tracking service for {workspace} refused the sign-in (HTTP 401): sign in again.",
            status=status,
            code=code,
        )
    if status == 403:
        return AzureAuthError(
            f"Azure ML's tracking service for {workspace} refused access (HTTP 403): {role_hint(None)}.",
            status=status,
            code=code,
        )
    if isinstance(exc, MlflowNotFoundError):
        return AzureNotFoundError(
            f"The workspace {workspace} has no such experiment, job or metric{': ' + message if message else '.'}",
            status=status,
            code=code,
        )
    if status == 429:
        return AzureThrottledError(
            f"Azure ML's tracking service for {workspace} is limiting requests (HTTP 429): try again in a minute.",
            status=status,
            code=code,
        )
    if isinstance(exc, MlflowTlsError):
        return AzureUnreachableError(
            f"The secure connection to Azure ({host}) failed: check the proxy and REQUESTS_CA_BUNDLE."
        )
    if isinstance(exc, MlflowTimeoutError):
        return timed_out(host)
    if isinstance(exc, MlflowUnreachableError):
        return unreachable(host)
    said = _service_part(text)
    if (status or 0) >= 500:
        detail = f": {said.rstrip('.')}" if said else ""
        return AzureServerError(
            f"Azure ML's tracking service for {workspace} failed (HTTP {status}){detail}; try again later.",
            status=status,
            code=code,
        )
    label = f"HTTP {status}" if status else "no answer"
    return AzureError(
        f"Azure ML's tracking service for {workspace} refused the request ({label}){': ' + said if said else '.'}",
        status=status,
        code=code,
    )


def _service_part(text: str) -> str:
    """What the service said, from an MLflow client message "... (HTTP 400, Code): <what the service said>"."""
    match = re.search(r"\(HTTP \d+[^)]*\)(?: \(after \d+ tries\))?: (.+)$", text)
    return match.group(1).strip() if match else ""


def _exception_body(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return response.text()
        except Exception:  # a streamed or closed body: fall back to the parsed error
            pass
    error = getattr(exc, "error", None)
    if error is not None:
        return {"error": {"code": getattr(error, "code", None), "message": getattr(error, "message", None)}}
    return None


def _network_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "certificate" in text or "ssl" in text:
        return "the secure connection failed: check REQUESTS_CA_BUNDLE"
    if "proxy" in text:
        return "the proxy refused the connection"
    if "name or service not known" in text or "getaddrinfo" in text or "nodename" in text:
        return "the host name does not resolve"
    if "refused" in text:
        return "connection refused"
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _one_line(text)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"
