"""The errors of the MLflow REST client: one family, each message a sentence a user can act on.

Every error derives from ``MlflowRestError`` (a ``WorkspaceError``); "not found" is also a ``NotFoundError``,
so code written against the core protocol catches it without knowing this client. Messages name the server
by its base URL (never a credential: the URL carries none, see ``auth.py``) and keep MLflow's own
``error_code`` and message where the server sent them.
"""

from __future__ import annotations

from studio.core.errors import AuthenticationError, NotFoundError, WorkspaceError


class MlflowRestError(WorkspaceError):
    """A call to an MLflow tracking server failed.

    ``status`` is the HTTP status (None when no answer came), ``error_code`` MLflow's code
    (``RESOURCE_DOES_NOT_EXIST``, ``INVALID_PARAMETER_VALUE``, ...) when the server sent one.
    """

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class MlflowUnreachableError(MlflowRestError):
    """No answer: connection refused, dropped, name not resolved."""


class MlflowTimeoutError(MlflowRestError):
    """The server accepted the connection but did not answer within the timeout or the call's deadline."""


class MlflowTlsError(MlflowRestError):
    """The TLS handshake failed: an untrusted or mismatched certificate, or plain HTTP on an HTTPS port."""


class MlflowNotApiError(MlflowRestError):
    """The URL answered, but not as MLflow's REST API (an HTML page, a proxy's login form)."""


class MlflowAuthError(MlflowRestError, AuthenticationError):
    """401 or 403: credentials missing, wrong, or without the right to do this (the core's AuthenticationError, so the
    window offers "Sign in…" without knowing this client)."""


class MlflowNotFoundError(MlflowRestError, NotFoundError):
    """404 / ``RESOURCE_DOES_NOT_EXIST``: the experiment, run, metric or artifact is not there."""


class MlflowRequestError(MlflowRestError):
    """The server refused the request as invalid (400, ``INVALID_PARAMETER_VALUE``): e.g. a bad filter."""


class MlflowServerError(MlflowRestError):
    """The server failed (5xx) or kept refusing (429) after the retries."""
