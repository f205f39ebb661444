"""Errors every layer raises and the GUI shows as readable messages."""

from __future__ import annotations


class StudioError(Exception):
    """Base class of errors meant to be shown to a user as they are."""


class WorkspaceError(StudioError):
    """A workspace cannot be opened or written (corrupt, newer version, read-only, disk full)."""


class AuthenticationError(WorkspaceError):
    """A server refused the credentials it was sent, or asked for some and got none (HTTP 401 / 403).

    The window offers "Sign in…" for it; the message names the server and never holds a secret.
    """


class NotFoundError(StudioError, KeyError):
    """A named experiment, run, metric or file does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RunStateError(StudioError):
    """An operation is not allowed in the run's current state."""


class CancelledError(StudioError):
    """Long work stopped because its cancel token was set."""


class UnsupportedOperation(StudioError):
    """The workspace's kind cannot do what was asked (a read-only server, an edit the service refuses).

    The message is a sentence the user can act on, e.g. "This MLflow server is read-only: tags cannot be changed."
    """


class UnknownLocationError(StudioError, ValueError):
    """A workspace location that no workspace kind accepts."""


class QueryError(StudioError, ValueError):
    """A run filter or order that does not parse; the message is one line naming the column and what was expected.

    ``position`` is the 0-based offset into the text (the message says ``column position + 1``) and ``expected``
    is the phrase after "expected", so a GUI can put a caret under the box without parsing the message.
    """

    def __init__(self, message: str, *, position: int, expected: str) -> None:
        super().__init__(message)
        self.position = position
        self.expected = expected
