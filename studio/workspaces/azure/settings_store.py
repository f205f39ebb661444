"""Settings of the Azure kind: signed-in accounts, cloud, consent, location → account.

One JSON file, ``platformdirs.user_config_dir("studio", appauthor=False)/azure.json``, written atomically
(a temporary file renamed over it). It never holds a secret or a token: an account keeps only what
identifies it (method, tenant, client id, the ``AuthenticationRecord`` JSON, which names the user and the
authority) and a certificate's path. Service-principal secrets live in the system keyring
(``keyring_secrets.py``), tokens in MSAL's token cache.

A file that does not parse is moved aside as ``azure.json.corrupt`` with one warning in the log, and the
settings start empty: a broken file never stops the window. This module imports no azure package.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "azure.json"
VERSION = 1

# Read-modify-write of the file from several worker threads (sign-in, sign-out, remember) goes through this lock.
_lock = threading.RLock()


@dataclass
class AccountRecord:
    """A signed-in account as saved between starts (no secret, no token)."""

    account_id: str
    """Stable: "device_code:<tenant>:<username>", "service_principal:<tenant>:<client id>", "cli"…"""
    method_id: str
    """"browser" | "device_code" | "cli" | "service_principal"."""
    label: str
    tenant_id: str = ""
    client_id: str = ""
    authentication_record: str | None = None
    """``AuthenticationRecord.serialize()`` of a user sign-in (authority, client id, home account, tenant, user)."""
    certificate_path: str | None = None
    """A service principal's certificate file (its password, if any, is in the keyring)."""

    @classmethod
    def from_json(cls, data: object) -> AccountRecord | None:
        """The record in ``data``, or None when it is not one (unknown keys are ignored)."""
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("account_id"), str) or not isinstance(values.get("method_id"), str):
            return None
        values.setdefault("label", values["account_id"])
        for name in ("label", "tenant_id", "client_id"):
            if not isinstance(values.get(name, ""), str):
                return None
        for name in ("authentication_record", "certificate_path"):
            if values.get(name) is not None and not isinstance(values[name], str):
                return None
        return cls(**values)


@dataclass
class AzureSettings:
    """Everything the Azure kind keeps between starts."""

    accounts: list[AccountRecord] = field(default_factory=list)
    cloud: str | None = None
    """A cloud name ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment") or an ARM metadata URL; None: default."""
    allow_unencrypted_cache: bool | None = None
    """The user's answer to keeping the token cache in a plain file when no encrypted store exists (None: not asked)."""
    workspace_accounts: dict[str, str] = field(default_factory=dict)
    """Workspace location (canonical ``azureml://`` spelling) → the account_id that opens it."""

    def account(self, account_id: str) -> AccountRecord | None:
        """The saved account with this id, or None."""
        return next((a for a in self.accounts if a.account_id == account_id), None)

    def put_account(self, record: AccountRecord) -> None:
        """Add ``record``, replacing a saved account with the same id (keeping its place in the list)."""
        for i, existing in enumerate(self.accounts):
            if existing.account_id == record.account_id:
                self.accounts[i] = record
                return
        self.accounts.append(record)

    def remove_account(self, account_id: str) -> AccountRecord | None:
        """Forget the account and every workspace remembered for it; the removed record, or None."""
        record = self.account(account_id)
        self.accounts = [a for a in self.accounts if a.account_id != account_id]
        self.workspace_accounts = {loc: acc for loc, acc in self.workspace_accounts.items() if acc != account_id}
        return record

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to the file."""
        return {
            "version": VERSION,
            "accounts": [asdict(a) for a in self.accounts],
            "cloud": self.cloud,
            "allow_unencrypted_cache": self.allow_unencrypted_cache,
            "workspace_accounts": dict(self.workspace_accounts),
        }

    @classmethod
    def from_json(cls, data: object) -> AzureSettings:
        """Settings from a parsed file; ValueError when it is not an object. Bad entries are dropped one by one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        accounts = [r for r in (AccountRecord.from_json(a) for a in _list(data.get("accounts"))) if r is not None]
        cloud = data.get("cloud")
        allow = data.get("allow_unencrypted_cache")
        mapping = data.get("workspace_accounts")
        return cls(
            accounts=accounts,
            cloud=cloud if isinstance(cloud, str) and cloud else None,
            allow_unencrypted_cache=allow if isinstance(allow, bool) else None,
            workspace_accounts=(
                {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}
                if isinstance(mapping, dict)
                else {}
            ),
        )


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def settings_path() -> Path:
    """``<user config dir>/studio/azure.json`` (honours ``XDG_CONFIG_HOME`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("studio", appauthor=False)) / FILE_NAME


def load_settings() -> AzureSettings:
    """The saved settings; empty ones when there is no file. A file that cannot be parsed is renamed to
    ``azure.json.corrupt`` (one warning in the log) and empty settings are returned."""
    path = settings_path()
    with _lock:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AzureSettings()
        except OSError as exc:
            log.warning("Cannot read the Azure settings %s (%s); starting without them", path, exc.strerror)
            return AzureSettings()
        try:
            return AzureSettings.from_json(json.loads(text))
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            aside = path.with_name(path.name + ".corrupt")
            try:
                os.replace(path, aside)
            except OSError:
                aside = path
            log.warning(
                "The Azure settings file %s was not readable (%s); it was kept as %s and the settings start empty",
                path,
                type(exc).__name__,
                aside,
            )
            return AzureSettings()


def save_settings(settings: AzureSettings) -> None:
    """Write ``settings`` atomically (a temporary file in the same folder renamed over the file, readable by
    this user only). OSError when the folder cannot be written."""
    path = settings_path()
    text = json.dumps(settings.to_json(), indent=2, sort_keys=True) + "\n"
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".azure-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def update_settings(change: Callable[[AzureSettings], None]) -> AzureSettings:
    """Load, apply ``change`` and save under one lock (so two workers do not lose each other's edit)."""
    with _lock:
        settings = load_settings()
        change(settings)
        save_settings(settings)
        return settings
