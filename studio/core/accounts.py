"""Accounts of the kinds that sign in (Azure ML): what the Workspaces pane shows as accounts → subscriptions →
workspaces, without the window knowing the kind.

A kind that signs in gives its opener an ``account_directory()`` method (looked up with ``getattr``, see
``SignsIn``); it returns an ``AccountDirectory``. Every method that says "network" may block for seconds:
call it off the GUI thread. ``accounts()`` and ``sign_in_methods()`` read only settings and PATH.
Nothing here holds a secret: secrets go to the system keyring and tokens to the kind's token cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from studio.core.errors import AuthenticationError
from studio.core.tasks import CancelToken


@dataclass(frozen=True)
class SignInField:
    """One input of a sign-in method's form (the tenant, a client id, a secret, a certificate file)."""

    name: str
    label: str
    secret: bool = False
    """Shown as dots and never kept anywhere but the system keyring."""
    optional: bool = False
    kind: str = "text"
    """"text" or "file" (a path chosen with a file dialog)."""
    placeholder: str = ""


@dataclass(frozen=True)
class SignInMethod:
    """A way to sign in ("browser", "device_code", "cli", "service_principal")."""

    method_id: str
    label: str
    fields: tuple[SignInField, ...] = ()
    available: bool = True
    note: str = ""
    """Why it is not available ("the Azure CLI (az) is not on PATH"), or a hint shown under it."""


@dataclass(frozen=True)
class AccountInfo:
    """A signed-in account as lists show it."""

    account_id: str
    label: str
    """The user name, or "service principal <client id>", or "Azure CLI"."""
    method_id: str
    tenant_id: str = ""
    state: str = "unknown"
    """"signed-in", "expired" (sign in again) or "unknown" (not checked yet)."""
    detail: str = ""
    """A sentence for the state ("The sign-in expired: sign in again.")."""


@dataclass(frozen=True)
class SubscriptionInfo:
    """A subscription an account can see."""

    subscription_id: str
    name: str
    tenant_id: str = ""
    state: str = "Enabled"


@dataclass(frozen=True)
class RemoteWorkspaceInfo:
    """A workspace found in a subscription; ``location`` opens it."""

    location: str
    name: str
    resource_group: str
    subscription_id: str
    region: str = ""
    display_name: str = ""
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceCodePrompt:
    """What a device-code sign-in asks the user to do: open ``verification_uri`` and enter ``user_code``."""

    verification_uri: str
    user_code: str
    expires_on: float
    """Seconds since the epoch."""
    message: str = ""


class ConsentRequired(AuthenticationError):
    """Signing in needs the user's answer first: the system has no encrypted store for the token cache, and
    keeping it in a plain file (readable by this user only) needs consent (``set_unencrypted_cache_allowed``)."""


@runtime_checkable
class AccountDirectory(Protocol):
    """Accounts, their subscriptions and workspaces, for one kind."""

    def sign_in_methods(self) -> list[SignInMethod]:
        """The ways to sign in, with the fields each needs (cheap: no network)."""
        ...

    def accounts(self) -> list[AccountInfo]:
        """The accounts signed in before, from settings (cheap: no network; states "unknown")."""
        ...

    def sign_in(
        self,
        method_id: str,
        values: Mapping[str, str],
        *,
        prompt: Callable[[DeviceCodePrompt], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> AccountInfo:
        """Sign in (network, may wait minutes for the user); the account is saved for the next start.
        ConsentRequired when the token cache could only be kept unencrypted; CancelledError when cancelled."""
        ...

    def sign_out(self, account_id: str) -> None:
        """Forget the account: its saved record, its token cache entries and its keyring secret."""
        ...

    def check_account(self, account_id: str) -> AccountInfo:
        """Try a silent token (network): the account with state "signed-in" or "expired"."""
        ...

    def subscriptions(self, account_id: str) -> list[SubscriptionInfo]:
        """The subscriptions the account sees, every page (network)."""
        ...

    def workspaces(self, account_id: str, subscription_ids: Sequence[str]) -> list[RemoteWorkspaceInfo]:
        """The workspaces of those subscriptions, asked in parallel (network)."""
        ...

    def workspace_from_config(self, path: Path) -> RemoteWorkspaceInfo:
        """The workspace a ``config.json`` names (the file ``Workspace.from_config`` reads); ValueError if unreadable."""
        ...

    def remember_account_for(self, location: str, account_id: str) -> None:
        """Open ``location`` with this account from now on (also without the window)."""
        ...

    def unencrypted_cache_allowed(self) -> bool | None:
        """The user's answer to keeping the token cache unencrypted (None: never asked)."""
        ...

    def set_unencrypted_cache_allowed(self, allowed: bool) -> None:
        """Remember the answer."""
        ...


@runtime_checkable
class SignsIn(Protocol):
    """An opener whose kind signs in: the Workspaces pane shows its accounts."""

    def account_directory(self) -> AccountDirectory:
        """The kind's accounts (cheap to call; the kind's SDK loads on the first network call)."""
        ...
