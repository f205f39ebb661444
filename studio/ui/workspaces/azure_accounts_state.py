"""What the Workspaces pane's accounts section knows, between rebuilds of the tree (no Qt).

The pane's tree is cleared and rebuilt whenever a workspace opens; the accounts, subscriptions
and workspaces already fetched must not be fetched again for that, nor the rows the user
expanded close. So the section keeps them here, as lazy lists: not asked yet, loading, loaded,
or failed with an error (kept as its type and message only: see ``detached``). ``forget`` (Refresh, Sign out) bumps a list's epoch: an answer asked
before it is dropped when it arrives. The filter is matched here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from studio.core.accounts import AccountInfo, RemoteWorkspaceInfo, SubscriptionInfo
from studio.core.errors import StudioError

T = TypeVar("T")

AccountKey = tuple[str]
SubscriptionKey = tuple[str, str]
"""(account id, subscription id)."""


@dataclass
class Lazy(Generic[T]):
    """A list fetched on demand: ``items`` None until it arrives; ``error`` when the last ask failed."""

    items: list[T] | None = None
    error: BaseException | None = None
    loading: bool = False
    epoch: int = 0

    def start(self) -> int:
        """Mark it loading; returns the epoch its answer must carry."""
        self.loading, self.error = True, None
        return self.epoch

    def arrived(self, epoch: int, items: list[T] | None, error: BaseException | None) -> bool:
        """Keep an answer (True) unless it was asked before the last ``forget`` (False: dropped)."""
        if epoch != self.epoch:
            return False
        self.loading = False
        self.items, self.error = (items, None) if error is None else (self.items, detached(error))
        return True

    def forget(self) -> None:
        """Back to "not asked": what is in flight will be dropped."""
        self.items, self.error, self.loading, self.epoch = None, None, False, self.epoch + 1


@dataclass
class AccountsState:
    """Accounts → subscriptions → workspaces as far as they were fetched, the expanded rows and the filter."""

    accounts: Lazy[AccountInfo] = field(default_factory=Lazy)
    subscriptions: dict[str, Lazy[SubscriptionInfo]] = field(default_factory=dict)
    workspaces: dict[SubscriptionKey, Lazy[RemoteWorkspaceInfo]] = field(default_factory=dict)
    checked: dict[str, AccountInfo] = field(default_factory=dict)
    """The answer of ``check_account`` per account (state "signed-in" or "expired")."""
    checking: set[str] = field(default_factory=set)
    expanded: set[tuple[str, ...]] = field(default_factory=set)
    """Keys of the expanded rows: (account id,) and (account id, subscription id)."""
    filter_text: str = ""

    def account(self, account_id: str) -> AccountInfo | None:
        """The account as last known (its checked state when checked)."""
        if account_id in self.checked:
            return self.checked[account_id]
        return next((a for a in self.accounts.items or () if a.account_id == account_id), None)

    def subs_of(self, account_id: str) -> Lazy[SubscriptionInfo]:
        """The account's subscriptions (made "not asked" on first use)."""
        return self.subscriptions.setdefault(account_id, Lazy())

    def workspaces_of(self, account_id: str, subscription_id: str) -> Lazy[RemoteWorkspaceInfo]:
        """A subscription's workspaces as the account sees them."""
        return self.workspaces.setdefault((account_id, subscription_id), Lazy())

    def forget_account(self, account_id: str) -> None:
        """Drop what was fetched for an account (Refresh; Sign out); answers in flight are dropped."""
        self.subs_of(account_id).forget()
        for key, lazy in self.workspaces.items():
            if key[0] == account_id:
                lazy.forget()
        self.checked.pop(account_id, None)
        self.checking.discard(account_id)

    def set_checked(self, info: AccountInfo) -> None:
        """Keep the answer of a check (or of a new sign-in)."""
        self.checking.discard(info.account_id)
        self.checked[info.account_id] = info

    def unloaded_subscriptions(self, account_id: str) -> list[str]:
        """The ids of the account's known subscriptions whose workspaces were never fetched (nor are being)."""
        subs = self.subs_of(account_id).items or []
        return [
            s.subscription_id
            for s in subs
            if (w := self.workspaces_of(account_id, s.subscription_id)).items is None and not w.loading
        ]


def detached(exc: BaseException) -> BaseException:
    """The error as a row keeps it: same type and message, without traceback, cause or attributes.

    An SDK's error can hold the HTTP response it failed on, and so an open connection (and the server's
    thread serving it) for as long as the row shows it.
    """
    try:
        copy = type(exc)(*exc.args)
    except Exception:  # a constructor that wants more than the message
        copy = StudioError(str(exc))
    if not isinstance(copy, BaseException) or str(copy) != str(exc):
        copy = StudioError(str(exc))
    return copy


def is_expired(account: AccountInfo) -> bool:
    """True when the account must sign in again."""
    return account.state == "expired"


def words(text: str) -> list[str]:
    """The filter's words, lower case."""
    return text.lower().split()


def matches(filter_text: str, fields: Iterable[str]) -> bool:
    """True when every word of the filter is in one of the fields (case-insensitive); an empty filter matches all."""
    wanted = words(filter_text)
    if not wanted:
        return True
    haystack = " ".join(f.lower() for f in fields if f)
    return all(w in haystack for w in wanted)


def workspace_fields(ws: RemoteWorkspaceInfo) -> list[str]:
    """What the filter looks at in a workspace row."""
    return [ws.name, ws.display_name, ws.resource_group, ws.region]


def workspace_label(ws: RemoteWorkspaceInfo) -> str:
    """A workspace row's text: its name, as the recent and pinned rows (and ``--workspace``) spell it."""
    return ws.name


def workspace_tooltip(ws: RemoteWorkspaceInfo) -> str:
    """A workspace row's tooltip: its display name, where it is, and its description."""
    lines = [ws.display_name] if ws.display_name and ws.display_name != ws.name else []
    lines += [ws.location, f"Resource group: {ws.resource_group}"]
    if ws.region:
        lines.append(f"Region: {ws.region}")
    if ws.description:
        lines.append(ws.description)
    return "\n".join(lines)


def account_label(account: AccountInfo) -> str:
    """An account row's text, saying when it has to sign in again."""
    if is_expired(account):
        return f"{account.label}  (expired — sign in again)"
    return account.label
