"""The system keyring of the Azure kind: a service principal's secret (or its certificate's password) lives
only there, key ``("studio-azure", "<tenant>/<client id>")``; no message carries it."""

from __future__ import annotations

import logging
from typing import Any

from studio.core.errors import WorkspaceError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "studio-azure"
NO_KEYRING = (
    "No system keyring is available to keep the service principal's secret: install and unlock one "
    "(GNOME Keyring or KWallet on Linux), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET instead."
)


def keyring_key(tenant_id: str, client_id: str) -> str:
    """The keyring user name of a service principal's secret."""
    return f"{tenant_id}/{client_id}"


def _keyring_backend() -> Any:
    """The system keyring backend, or None when there is none that keeps anything."""
    import keyring
    from keyring.backends import chainer, fail, null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration counts as none
        log.info("No system keyring (%s)", type(exc).__name__)
        return None
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def save_secret(tenant_id: str, client_id: str, secret: str) -> None:
    """Keep a service principal's secret in the system keyring; WorkspaceError (a sentence) when it cannot."""
    backend = _keyring_backend()
    if backend is None:
        raise WorkspaceError(NO_KEYRING)
    try:
        backend.set_password(KEYRING_SERVICE, keyring_key(tenant_id, client_id), secret)
    except Exception as exc:  # locked, D-Bus errors…: the message must not carry the secret
        raise WorkspaceError(
            f"The system keyring did not keep the secret ({type(exc).__name__}): unlock it and sign in again."
        ) from None


def load_secret(tenant_id: str, client_id: str) -> str | None:
    """The saved secret, or None (none saved, no keyring, or a locked one: logged without the secret)."""
    backend = _keyring_backend()
    if backend is None:
        return None
    try:
        value = backend.get_password(KEYRING_SERVICE, keyring_key(tenant_id, client_id))
    except Exception as exc:
        log.info("Could not read a service principal's secret from the keyring (%s)", type(exc).__name__)
        return None
    return value if isinstance(value, str) else None


def forget_secret(tenant_id: str, client_id: str) -> None:
    """Delete the saved secret; nothing happens when none is saved. WorkspaceError when the keyring refuses."""
    backend = _keyring_backend()
    if backend is None:
        return
    key = keyring_key(tenant_id, client_id)
    try:
        if backend.get_password(KEYRING_SERVICE, key) is None:
            return
        backend.delete_password(KEYRING_SERVICE, key)
    except Exception as exc:
        from keyring.errors import PasswordDeleteError

        if isinstance(exc, PasswordDeleteError):
            return
        raise WorkspaceError(
            f"The system keyring did not forget the secret ({type(exc).__name__}): unlock it and sign out again."
        ) from None
