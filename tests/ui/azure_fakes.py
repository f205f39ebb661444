"""An in-memory ``AccountDirectory`` for the GUI tests of the Azure accounts rows and the sign-in dialog.

The directory is the GUI layer's boundary (studio.core.accounts), so the window's behaviour can be
shown against it: slow answers (``hold`` a method until ``release``), failures (``fail``), expired
accounts, a device-code prompt then completion, cancel, consent. Every call is recorded with the
thread it ran on; the methods the protocol says may reach the network refuse the GUI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from studio.core.accounts import (
    AccountInfo,
    ConsentRequired,
    DeviceCodePrompt,
    RemoteWorkspaceInfo,
    SignInField,
    SignInMethod,
    SubscriptionInfo,
)
from studio.core.backend import WorkspaceBackend
from studio.core.errors import AuthenticationError, CancelledError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.opener import AzureWorkspaceOpener
from tests.fake_backend import FakeBackend

NETWORK = frozenset({"sign_in", "sign_out", "check_account", "subscriptions", "workspaces", "workspace_from_config"})
"""Methods that may block for seconds: never on the GUI thread."""
HOLD_LIMIT_S = 20.0
SUB_A, SUB_B, SUB_C = (f"{n:08x}-0000-4000-8000-000000000000" for n in (0xA, 0xB, 0xC))


def location(sub: str, rg: str, name: str) -> str:
    """An Azure ML workspace location."""
    return f"azureml://subscriptions/{sub}/resourcegroups/{rg}/workspaces/{name}"


def workspace(sub: str, rg: str, name: str, region: str = "eastus") -> RemoteWorkspaceInfo:
    """A workspace as the directory lists it."""
    return RemoteWorkspaceInfo(location(sub, rg, name), name, rg, sub, region=region)


@dataclass
class Call:
    """One call the directory answered."""

    name: str
    args: tuple[Any, ...]
    on_gui_thread: bool


class FakeDirectory:
    """Accounts, subscriptions and workspaces in dicts; the protocol's methods, with holds and faults."""

    def __init__(self) -> None:
        self.methods = [
            SignInMethod("browser", "Interactive browser"),
            SignInMethod(
                "device_code", "Device code", note="For a machine without a browser: enter a code on another one."
            ),
            SignInMethod("cli", "Azure CLI", available=False, note="The Azure CLI (az) is not on PATH."),
            SignInMethod(
                "service_principal",
                "Service principal",
                fields=(
                    SignInField("tenant_id", "Tenant"),
                    SignInField("client_id", "Client id"),
                    SignInField("client_secret", "Client secret", secret=True, optional=True),
                    SignInField("certificate_path", "Certificate", optional=True, kind="file"),
                ),
            ),
        ]
        self.saved: list[AccountInfo] = []
        self.expired: set[str] = set()
        self.subs: dict[str, list[SubscriptionInfo]] = {}
        self.spaces: dict[tuple[str, str], list[RemoteWorkspaceInfo]] = {}
        self.remembered: dict[str, str] = {}
        self.consent: bool | None = None
        self.needs_consent = False
        self.calls: list[Call] = []
        self.cancelled: list[str] = []
        self.device_code = DeviceCodePrompt("https://microsoft.com/devicelogin", "FAKE-CODE9", time.time() + 900)
        self.device_code_entered = threading.Event()
        self._holds: dict[str, threading.Event] = {}
        self._faults: dict[str, list[BaseException]] = {}
        self._lock = threading.Lock()

    # -- arranging -----------------------------------------------------------------------------

    def add_account(self, account_id: str, label: str, method_id: str = "device_code", tenant: str = "t1") -> None:
        """An account signed in before (in settings)."""
        self.saved.append(AccountInfo(account_id, label, method_id, tenant_id=tenant))

    def add_subscription(self, account_id: str, sub_id: str, name: str, workspaces: Sequence[str] = ()) -> None:
        """A subscription the account sees, with workspaces named ``rg/name``."""
        self.subs.setdefault(account_id, []).append(SubscriptionInfo(sub_id, name, tenant_id="t1"))
        self.spaces[(account_id, sub_id)] = [workspace(sub_id, *w.split("/")) for w in workspaces]

    def hold(self, name: str) -> None:
        """Calls of ``name`` wait until ``release(name)`` (a slow network)."""
        self._holds[name] = threading.Event()

    def release(self, name: str) -> None:
        """Let the held calls of ``name`` answer."""
        self._holds.pop(name).set()

    def fail(self, name: str, exc: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of ``name`` raise ``exc``."""
        self._faults.setdefault(name, []).extend([exc] * times)

    def called(self, name: str) -> list[Call]:
        """The calls of ``name`` so far."""
        with self._lock:
            return [c for c in self.calls if c.name == name]

    def _enter(self, name: str, *args: Any) -> None:
        on_gui = threading.current_thread() is threading.main_thread()
        with self._lock:
            self.calls.append(Call(name, args, on_gui))
        if on_gui and name in NETWORK:
            raise AssertionError(f"{name} was called on the GUI thread")
        hold = self._holds.get(name)
        if hold is not None and not hold.wait(HOLD_LIMIT_S):
            raise TimeoutError(f"{name} was held for {HOLD_LIMIT_S} s")
        with self._lock:
            faults = self._faults.get(name)
            exc = faults.pop(0) if faults else None
        if exc is not None:
            raise exc

    # -- the protocol --------------------------------------------------------------------------

    def sign_in_methods(self) -> list[SignInMethod]:
        self._enter("sign_in_methods")
        return list(self.methods)

    def accounts(self) -> list[AccountInfo]:
        self._enter("accounts")
        return list(self.saved)

    def sign_in(
        self,
        method_id: str,
        values: Mapping[str, str],
        *,
        prompt: Callable[[DeviceCodePrompt], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> AccountInfo:
        self._enter("sign_in", method_id, dict(values))
        if self.needs_consent and self.consent is None:
            raise ConsentRequired("The system has no encrypted store for the sign-in tokens.")
        if method_id == "device_code":
            assert prompt is not None and cancel is not None
            prompt(self.device_code)
            while not self.device_code_entered.wait(0.01):
                if cancel.cancelled:
                    self.cancelled.append(method_id)
                    raise CancelledError("cancelled")
            account = AccountInfo("device_code:t1:new@contoso.com", "new@contoso.com", "device_code", "t1")
        elif method_id == "service_principal":
            if (values.get("client_secret") or values.get("secret")) != "s3cret":  # this module's fields or the kind's
                raise AuthenticationError(
                    f"Azure refused the service principal {values.get('client_id')}: check the tenant, client id and secret."
                )
            cid, tenant = values["client_id"], values.get("tenant_id") or values.get("tenant", "")
            account = AccountInfo(
                f"service_principal:{tenant}:{cid}", f"service principal {cid}", "service_principal", tenant
            )
        else:
            account = AccountInfo(f"{method_id}:t1:someone", "someone@contoso.com", method_id, "t1")
        self.expired.discard(account.account_id)
        self.saved = [a for a in self.saved if a.account_id != account.account_id] + [account]
        return replace(account, state="signed-in")

    def sign_out(self, account_id: str) -> None:
        self._enter("sign_out", account_id)
        self.saved = [a for a in self.saved if a.account_id != account_id]

    def check_account(self, account_id: str) -> AccountInfo:
        self._enter("check_account", account_id)
        account = next(a for a in self.saved if a.account_id == account_id)
        if account_id in self.expired:
            return replace(account, state="expired", detail="The sign-in expired: sign in again.")
        return replace(account, state="signed-in")

    def subscriptions(self, account_id: str) -> list[SubscriptionInfo]:
        self._enter("subscriptions", account_id)
        return list(self.subs.get(account_id, []))

    def workspaces(self, account_id: str, subscription_ids: Sequence[str]) -> list[RemoteWorkspaceInfo]:
        self._enter("workspaces", account_id, tuple(subscription_ids))
        return [w for sub in subscription_ids for w in self.spaces.get((account_id, sub), [])]

    def workspace_from_config(self, path: Path) -> RemoteWorkspaceInfo:
        self._enter("workspace_from_config", path)
        import json

        try:
            data = json.loads(path.read_text())
            return workspace(data["subscription_id"], data["resource_group"], data["workspace_name"])
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{path} is not an Azure ML config.json (subscription_id, resource_group, workspace_name)."
            ) from exc

    def remember_account_for(self, location: str, account_id: str) -> None:
        self._enter("remember_account_for", location, account_id)
        self.remembered[location] = account_id

    def unencrypted_cache_allowed(self) -> bool | None:
        self._enter("unencrypted_cache_allowed")
        return self.consent

    def set_unencrypted_cache_allowed(self, allowed: bool) -> None:
        self._enter("set_unencrypted_cache_allowed", allowed)
        self.consent = allowed


class FakeAzureOpener(AzureWorkspaceOpener):
    """The real Azure opener's names and locations, signing in through a FakeDirectory, opening FakeBackends."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.directory = directory
        self.opened: list[str] = []
        self.needs_account: set[str] = set()
        """Locations refused (AuthenticationError) until an account is remembered for them."""

    def account_directory(self) -> FakeDirectory:
        return self.directory

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        assert threading.current_thread() is not threading.main_thread(), "opener.open on the GUI thread"
        if location in self.needs_account and location not in self.directory.remembered:
            raise AuthenticationError(f"Azure refused the sign-in for {self.short_name(location)}: sign in again.")
        self.opened.append(location)
        backend = FakeBackend(name=self.short_name(location), location=location)
        for k, name in enumerate(("baseline", "lr-3e-4", "wide-256")):
            backend.add_run("train", name, tags={"trial": str(k)})
        return backend  # type: ignore[return-value]
