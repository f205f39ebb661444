"""Secrets of remote workspaces (an MLflow server's password or token), kept in the OS keyring only.

One keyring entry per workspace: service ``"studio"``, user name the location in canonical
spelling (``credential_key``), password a JSON object ``{"scheme", "username", "secret"}``.
Settings files, logs and error messages never hold the secret: ``ServerCredentials`` hides it
in its repr, and nothing here logs more than a location and an exception's type.

``keyring`` is imported inside the functions: finding the system's backend may start D-Bus
and takes a while, so these functions run on worker threads (the window's TaskRunner), never at
start-up and never on the GUI thread.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast
from urllib.parse import urlsplit

from studio.core.errors import WorkspaceError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "studio"
"""The keyring's service name of every entry Studio keeps."""
Scheme = Literal["basic", "token"]
SCHEMES: tuple[Scheme, ...] = ("basic", "token")
NO_KEYRING = (
    "No system keyring is available to keep the password: install and unlock one "
    "(GNOME Keyring or KWallet on Linux; macOS and Windows have one), "
    "or set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead."
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerCredentials:
    """How to sign in to a server: HTTP basic (user name and password) or a bearer token.

    Its repr (and so its str) shows the scheme and the user name, never the secret.
    """

    scheme: Scheme
    username: str = ""
    secret: str = ""

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"Unknown authentication scheme {self.scheme!r}: expected 'basic' or 'token'.")

    def __repr__(self) -> str:
        hidden = "'***'" if self.secret else "''"
        return f"ServerCredentials(scheme={self.scheme!r}, username={self.username!r}, secret={hidden})"

    __str__ = __repr__


def credential_key(location: str) -> str:
    """The keyring user name of a location: one spelling per server (scheme and host in lower case, no
    trailing slash), so that ``mlflow+http://Host:5000/`` and ``mlflow+http://host:5000`` share one entry."""
    text = location.strip()
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return text.rstrip("/") or text
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def save_credentials(location: str, credentials: ServerCredentials) -> None:
    """Keep ``credentials`` for ``location`` in the system keyring (replacing any saved before).

    Raises WorkspaceError with a sentence the user can act on when no usable keyring exists or
    the keyring refuses (locked, access denied). Slow: call it on a worker thread.
    """
    from keyring.errors import KeyringLocked, NoKeyringError

    backend = _usable_backend()
    if backend is None:
        raise WorkspaceError(NO_KEYRING)
    value = json.dumps({"scheme": credentials.scheme, "username": credentials.username, "secret": credentials.secret})
    try:
        backend.set_password(SERVICE, credential_key(location), value)
    except NoKeyringError:
        raise WorkspaceError(NO_KEYRING) from None
    except KeyringLocked:
        raise WorkspaceError("The system keyring is locked: unlock it and add the server again.") from None
    except Exception as exc:  # D-Bus and platform errors come in many types; none may carry the secret out
        raise WorkspaceError(
            f"The system keyring did not keep the password ({type(exc).__name__}): "
            "unlock it or check that it runs, then add the server again."
        ) from None


def load_credentials(location: str) -> ServerCredentials | None:
    """The credentials saved for ``location``, or None when none are saved or no keyring can be read.

    Never raises: a locked or absent keyring means "none saved" to the caller (it then tries the
    environment). Slow: call it on a worker thread.
    """
    backend = _usable_backend()
    if backend is None:
        return None
    key = credential_key(location)
    try:
        value = backend.get_password(SERVICE, key)
    except Exception as exc:  # locked, D-Bus down, access denied: as if nothing were saved
        log.info("Could not read the saved credentials of %s from the system keyring (%s)", key, type(exc).__name__)
        return None
    if value is None:
        return None
    try:
        data = json.loads(value)
        scheme = cast(Scheme, data["scheme"])
        return ServerCredentials(scheme, str(data.get("username", "")), str(data["secret"]))  # checks the scheme
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("The keyring entry of %s is not one Studio wrote; it is ignored", key)  # its value is not logged
        return None


def forget_credentials(location: str) -> None:
    """Delete the credentials saved for ``location``; nothing happens when none are saved or there is no keyring.

    Raises WorkspaceError when a keyring exists but refuses (locked): the secret would stay.
    Slow: call it on a worker thread.
    """
    from keyring.errors import KeyringLocked, PasswordDeleteError

    backend = _usable_backend()
    if backend is None:
        return
    key = credential_key(location)
    try:
        if backend.get_password(SERVICE, key) is None:
            return  # deleting an absent entry raises in most backends
        backend.delete_password(SERVICE, key)
    except PasswordDeleteError:
        return  # gone meanwhile
    except KeyringLocked:
        raise WorkspaceError("The system keyring is locked: unlock it to forget the password.") from None
    except Exception as exc:
        raise WorkspaceError(
            f"The system keyring did not forget the password ({type(exc).__name__}): unlock it and try again."
        ) from None


def _usable_backend() -> KeyringBackend | None:
    """The keyring backend in use, or None when it cannot keep anything (no backend, or one that drops secrets)."""
    import keyring
    from keyring.backends import chainer, fail, null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration: as if there were none
        log.info("No system keyring (%s)", type(exc).__name__)
        return None
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None  # chains nothing: it would drop the secret without a word
    return backend
