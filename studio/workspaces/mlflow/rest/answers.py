"""Readable errors from what the server answered (or failed to): the sentences a user sees.

Nothing here sees a credential: messages are built from the base URL (which holds none), the API path,
the HTTP status and MLflow's ``error_code`` / ``message``. Server messages are cut to one short line.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from studio.workspaces.mlflow.rest.errors import (
    MlflowAuthError,
    MlflowNotApiError,
    MlflowNotFoundError,
    MlflowRequestError,
    MlflowRestError,
    MlflowServerError,
    MlflowTimeoutError,
    MlflowTlsError,
    MlflowUnreachableError,
)

MAX_SERVER_MESSAGE = 300


def decode_json(response: requests.Response, base_url: str) -> dict[str, Any]:
    """The JSON object of a 200 answer; MlflowNotApiError if it is a web page or anything else."""
    body = response.content
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise not_api_error(response, base_url) from None
    if not isinstance(document, dict):
        raise not_api_error(response, base_url)
    return document


def not_api_error(response: requests.Response, base_url: str) -> MlflowNotApiError:
    """The URL answered with something that is not MLflow's JSON (usually an HTML page)."""
    kind = "a web page" if _looks_like_html(response) else "something other than JSON"
    return MlflowNotApiError(
        f"The server at {base_url} answered with {kind}, not the MLflow API (HTTP {response.status_code}): "
        "check the URL and its path prefix.",
        status=response.status_code,
    )


def error_for_status(
    response: requests.Response, base_url: str, tries: int = 1, *, sent_credentials: bool = True
) -> MlflowRestError:
    """The error for a non-2xx answer, with MLflow's error_code and message when it sent them.

    ``sent_credentials``: whether the request carried any; a 401 to one without is "asks for", not "refused".
    """
    status = response.status_code
    code, message = _mlflow_error(response)
    detail = f": {message}" if message else "."
    after = f" (after {tries} tries)" if tries > 1 else ""
    if status == 401 and not sent_credentials:
        return MlflowAuthError(
            f"The MLflow server at {base_url} asks for a user name and password or a token (HTTP 401): "
            "sign in with them, or set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN).",
            status=status,
            error_code=code,
        )
    if status in (401, 403):
        what = "refused the credentials" if status == 401 else "refused access"
        hint = (
            "check the user name and password or token (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD / "
            "MLFLOW_TRACKING_TOKEN)"
            if status == 401
            else "the credentials were accepted but lack the permission for this"
        )
        return MlflowAuthError(
            f"The MLflow server at {base_url} {what} (HTTP {status}): {hint}.", status=status, error_code=code
        )
    if (code is None and status in (404, 405)) or _looks_like_html(response):
        return not_api_error(response, base_url)
    if status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return MlflowNotFoundError(
            f"Not found on the MLflow server at {base_url}{detail}", status=status, error_code=code
        )
    if status == 429:
        return MlflowServerError(
            f"The MLflow server at {base_url} is limiting requests (HTTP 429){after}: try again in a moment.",
            status=status,
            error_code=code,
        )
    if status >= 500:
        label = f"HTTP {status}" + (f", {code}" if code else "")
        return MlflowServerError(
            f"The MLflow server at {base_url} failed ({label}){after}{detail}", status=status, error_code=code
        )
    label = f"HTTP {status}" + (f", {code}" if code else "")
    return MlflowRequestError(
        f"The MLflow server at {base_url} refused the request ({label}){detail}", status=status, error_code=code
    )


def error_for_exception(
    exc: requests.RequestException, base_url: str, *, read_timeout: float, tries: int
) -> MlflowRestError:
    """The error for a request that got no answer: refused, unresolvable, dropped, timed out, TLS."""
    after = f" (after {tries} tries)" if tries > 1 else ""
    if isinstance(exc, requests.exceptions.SSLError):
        reason = _tls_reason(exc)
        if reason == "wrong version number":  # what OpenSSL says when plain HTTP answers the handshake
            return MlflowTlsError(
                f"The secure connection to the MLflow server at {base_url} failed: it answered in plain HTTP, "
                "not TLS. Open it with http:// instead of https://."
            )
        return MlflowTlsError(
            f"The secure connection to the MLflow server at {base_url} failed: {reason}. "
            "If the server uses a private certificate authority, set MLFLOW_TRACKING_SERVER_CERT_PATH to its bundle.",
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return MlflowTimeoutError(
            f"Could not reach the MLflow server at {base_url}: no connection within the timeout{after}. "
            "Check the address and the network."
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return MlflowTimeoutError(
            f"The MLflow server at {base_url} did not answer within {read_timeout:g} s{after}: "
            "it may be busy or stuck; try again later."
        )
    if _caused_by(exc, NameResolutionError):
        return MlflowUnreachableError(
            f"Could not reach the MLflow server at {base_url}: its host name does not resolve."
        )
    if _caused_by(exc, ConnectionRefusedError):
        return MlflowUnreachableError(
            f"Could not reach the MLflow server at {base_url}: connection refused{after}. Is it running?"
        )
    if _caused_by(exc, NewConnectionError):
        return MlflowUnreachableError(f"Could not reach the MLflow server at {base_url}{after}. Is it running?")
    return MlflowUnreachableError(
        f"The connection to the MLflow server at {base_url} was dropped before it answered{after}: try again."
    )


def deadline_error(base_url: str, deadline_s: float, tries: int, last: MlflowRestError) -> MlflowRestError:
    """The call's deadline ran out while retrying; says what the last failure was."""
    error = type(last)(
        f"Gave up on the MLflow server at {base_url} after {deadline_s:g} s and {tries} tries. Last: {last}",
        status=last.status,
        error_code=last.error_code,
    )
    return error


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request surely never reached the server (the connection was not made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return isinstance(exc, requests.exceptions.ConnectionError) and _caused_by(exc, NewConnectionError)


def _mlflow_error(response: requests.Response) -> tuple[str | None, str | None]:
    """MLflow's ``{"error_code", "message"}`` or Azure's ``{"Error": {"Code", "Message"}}``, one line each."""
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    code = document.get("error_code")
    message = document.get("message")
    azure = document.get("Error")
    if isinstance(azure, dict):
        code = code or azure.get("Code")
        message = azure.get("Message") or message
    return (str(code) if code else None), (_one_line(str(message)) if message else None)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_SERVER_MESSAGE else line[: MAX_SERVER_MESSAGE - 1] + "…"


def _looks_like_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type:
        return True
    head = response.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is anywhere in the chain of causes and wrapped reasons (requests wraps urllib3 wraps OS)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return False


def _tls_reason(exc: BaseException) -> str:
    """A short reason from the ssl module's error, without the URL soup requests puts around it."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"the certificate is not trusted ({current.verify_message})"
        if isinstance(current, ssl.SSLError):
            return current.reason.lower().replace("_", " ") if current.reason else "the TLS handshake failed"
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return "the TLS handshake failed"
