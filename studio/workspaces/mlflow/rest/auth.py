"""Credentials and TLS settings, read the way MLflow's own client reads them, kept out of every repr.

MLflow's rule (``mlflow/utils/credentials.py``, ``mlflow/utils/rest_utils.py``): a user name *and* a password
(``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, the environment winning over
``~/.mlflow/credentials`` section ``[mlflow]``) give HTTP basic auth; otherwise ``MLFLOW_TRACKING_TOKEN`` gives a
bearer token. ``MLFLOW_TRACKING_INSECURE_TLS`` switches certificate checks off, ``MLFLOW_TRACKING_SERVER_CERT_PATH``
names a CA bundle; setting both is an error, as in MLflow. ``MLFLOW_TRACKING_CLIENT_CERT_PATH`` is a client cert.

An *auth hook* is any callable returning the headers to add; it is called for every request, so a hook that
refreshes a bearer token (the Azure kind) works unchanged.
"""

from __future__ import annotations

import base64
import configparser
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import WorkspaceError

AuthHook = Callable[[], Mapping[str, str]]
"""Returns the headers that authenticate one request (e.g. ``{"Authorization": "Bearer ..."}``)."""


class BasicAuth:
    """HTTP basic authentication; the password shows nowhere (repr, str, pickles of exceptions)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        token = base64.standard_b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._header = {"Authorization": f"Basic {token}"}

    def __call__(self) -> Mapping[str, str]:
        """The ``Authorization`` header."""
        return self._header

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=<hidden>)"


class BearerToken:
    """A fixed bearer token (``MLFLOW_TRACKING_TOKEN``); the token shows nowhere."""

    def __init__(self, token: str) -> None:
        self._header = {"Authorization": f"Bearer {token}"}

    def __call__(self) -> Mapping[str, str]:
        """The ``Authorization`` header."""
        return self._header

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"


@dataclass(frozen=True)
class TlsSettings:
    """What ``requests`` gets as ``verify`` (True, False or a CA bundle path) and ``cert``."""

    verify: bool | str = True
    client_cert: str | None = None


def credentials_file() -> Path:
    """MLflow's credentials file, ``~/.mlflow/credentials``."""
    return Path(os.path.expanduser("~/.mlflow/credentials"))


def auth_from_environment(environ: Mapping[str, str] | None = None, file: Path | None = None) -> AuthHook | None:
    """The auth hook MLflow's client would use here, or None for no authentication."""
    env = os.environ if environ is None else environ
    file_user, file_password = _read_credentials_file(credentials_file() if file is None else file)
    username = env.get("MLFLOW_TRACKING_USERNAME") or file_user
    password = env.get("MLFLOW_TRACKING_PASSWORD") or file_password
    if username and password:
        return BasicAuth(username, password)
    token = env.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return BearerToken(token)
    return None


def auth_from_saved_or_environment(location: str) -> AuthHook | None:
    """The credentials saved for ``location`` in the system keyring, else MLflow's environment (see above)."""
    from studio.core.credentials import load_credentials

    saved = load_credentials(location)
    if saved is not None and saved.scheme == "basic":
        return BasicAuth(saved.username, saved.secret)
    if saved is not None and saved.scheme == "token":
        return BearerToken(saved.secret)
    return auth_from_environment()


def tls_from_environment(environ: Mapping[str, str] | None = None) -> TlsSettings:
    """Certificate checks as MLflow's client does them; WorkspaceError if insecure mode and a CA bundle are both set."""
    env = os.environ if environ is None else environ
    insecure = _boolean(env, "MLFLOW_TRACKING_INSECURE_TLS")
    ca_bundle = env.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
    client_cert = env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None
    if insecure and ca_bundle:
        raise WorkspaceError(
            "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are both set: "
            "unset one of them (certificate checks are either off or use that CA bundle)."
        )
    return TlsSettings(verify=ca_bundle if ca_bundle else not insecure, client_cert=client_cert)


def _boolean(env: Mapping[str, str], name: str) -> bool:
    """MLflow's boolean variables: true/false/1/0 in any case; anything else is a mistake worth saying."""
    raw = env.get(name)
    if raw is None or raw == "":
        return False
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise WorkspaceError(f"{name} must be true, false, 1 or 0, not {raw!r}.")
    return value in ("true", "1")


def _read_credentials_file(path: Path) -> tuple[str | None, str | None]:
    """``mlflow_tracking_username`` / ``mlflow_tracking_password`` of section ``[mlflow]``, if the file is there."""
    if not path.is_file():
        return None, None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None, None  # an unreadable file is as good as none, as in MLflow (which would crash instead)
    if "mlflow" not in parser:
        return None, None
    section = parser["mlflow"]
    return section.get("mlflow_tracking_username"), section.get("mlflow_tracking_password")
