"""The rows of the accounts section (azure_section.py): how each row looks, what it carries, how the filter hides.

Rows are ``QTreeWidgetItem``s of the Workspaces pane's tree. Each carries its kind (``ROW_ROLE``) and a key
(``KEY_ROLE``): an account's is ``(account id,)``, a subscription's ``(account id, subscription id)``, and a
Loading…, error or Retry row carries the key of the list it stands for. Workspace rows carry their location and
the account that found them. Nothing here fetches anything: the section decides which rows to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from studio.core.accounts import AccountInfo, RemoteWorkspaceInfo, SubscriptionInfo
from studio.ui.background.notifier import sentence
from studio.ui.workspaces.azure_accounts_state import (
    Lazy,
    account_label,
    is_expired,
    matches,
    workspace_fields,
    workspace_label,
    workspace_tooltip,
)
from studio.ui.workspaces.pane_roles import KIND_ROLE, LOCATION_ROLE

ROW_ROLE = Qt.ItemDataRole.UserRole + 10
"""What a row of the accounts section is (one of the row kinds below)."""
KEY_ROLE = Qt.ItemDataRole.UserRole + 11
"""The state key of an account or subscription row, or of the list a Loading/error/Retry row stands for."""
ACCOUNT_ROLE = Qt.ItemDataRole.UserRole + 12
"""The account id a workspace row was found with."""
WORKSPACE_LOCATION_ROLE = Qt.ItemDataRole.UserRole + 13
"""A workspace row's location (not LOCATION_ROLE: the pane's recent-entry logic must not take it for one)."""

FILTER, ACCOUNT, SUBSCRIPTION, WORKSPACE = "filter", "account", "subscription", "workspace"
LOADING, ERROR, RETRY, SIGN_IN_AGAIN, EMPTY = "loading", "error", "retry", "sign-in-again", "empty"
ACCOUNTS_KEY = ("accounts",)
"""The key of the accounts list itself (its Loading/error rows)."""
PIN = "★ "
"""Put before the name of a pinned workspace."""
ERROR_COLOUR = "#d9363e"
"""The colour of errors elsewhere in the window (runs table, dialogs): readable on light and dark."""


class AzureRows:
    """Makes the section's rows for one kind; ``pinned`` and ``current`` mark workspace rows."""

    def __init__(self, tree: QTreeWidget, kind: str) -> None:
        self.tree, self.kind = tree, kind
        self.pinned: set[str] = set()
        self.current = ""
        self.method_labels: dict[str, str] = {}
        """The sign-in methods' names by id ("device_code" → "Device code")."""

    def _row(self, text: str, row_kind: str, key: tuple[str, ...]) -> QTreeWidgetItem:
        item = QTreeWidgetItem([text])
        item.setData(0, ROW_ROLE, row_kind)
        item.setData(0, KEY_ROLE, key)
        item.setData(0, KIND_ROLE, self.kind)
        return item

    def account(self, account: AccountInfo) -> QTreeWidgetItem:
        """An account's row: its label, greyed and saying so when its sign-in expired."""
        item = self._row(account_label(account), ACCOUNT, (account.account_id,))
        item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        tip = [account.label, f"Signed in with: {self.method_labels.get(account.method_id, account.method_id)}"]
        if account.tenant_id:
            tip.append(f"Tenant: {account.tenant_id}")
        if account.detail:
            tip.append(account.detail)
        item.setToolTip(0, "\n".join(tip))
        if is_expired(account):
            item.setForeground(0, self.tree.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            item.setFont(0, _font(italic=True))
        return item

    def subscription(self, account_id: str, sub: SubscriptionInfo) -> QTreeWidgetItem:
        """A subscription's row (its name; its id in the tooltip)."""
        usable = sub.state in ("", "Enabled")
        text = sub.name or sub.subscription_id
        item = self._row(
            text if usable else f"{text}  ({sub.state.lower()})", SUBSCRIPTION, (account_id, sub.subscription_id)
        )
        item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        state = "" if usable else f"\nState: {sub.state}"
        item.setToolTip(0, f"{sub.name}\nSubscription: {sub.subscription_id}{state}")
        if not usable:  # disabled or warned: listed, but last and grey
            item.setForeground(0, self.tree.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        return item

    def workspace(self, account_id: str, ws: RemoteWorkspaceInfo) -> QTreeWidgetItem:
        """A workspace's row: its name, starred when pinned, bold and "(open)" when it is the open one."""
        pinned = PIN if ws.location in self.pinned else ""
        item = self._row(f"{pinned}{workspace_label(ws)}", WORKSPACE, tuple(workspace_fields(ws)))
        item.setData(0, WORKSPACE_LOCATION_ROLE, ws.location)
        item.setData(0, ACCOUNT_ROLE, account_id)
        item.setToolTip(0, workspace_tooltip(ws))
        if ws.location.lower() == self.current.lower():
            item.setFont(0, _font(bold=True))
            item.setText(0, f"{item.text(0)}  (open)")
        return item

    def sign_in_again(self, account: AccountInfo) -> QTreeWidgetItem:
        """The link row under an expired account."""
        row = self.link(SIGN_IN_AGAIN, "Sign in again…", (account.account_id,))
        row.setToolTip(0, account.detail or "The sign-in expired: sign in again to list its subscriptions.")
        return row

    def for_list(self, lazy: Lazy[Any], key: tuple[str, ...], what: str, empty: str) -> list[QTreeWidgetItem]:
        """Loading…, or the error and Retry, or "No …", for a lazy list; nothing when it has items or was not asked."""
        if lazy.loading:
            return [self.note(LOADING, f"Loading {what}…", key)]
        if lazy.error is not None:
            return self.error(lazy.error, key, f"Could not list the {what}")
        if lazy.items == []:
            return [self.note(EMPTY, empty, key)]
        return []

    def error(self, exc: BaseException, key: tuple[str, ...], title: str) -> list[QTreeWidgetItem]:
        """The error's sentence (whole in the tooltip: a narrow pane elides it) and a Retry link."""
        text = sentence(exc)
        error = self.note(ERROR, f"⚠ {text}", key)
        error.setToolTip(0, f"{title}: {text}")
        error.setForeground(0, QColor(ERROR_COLOUR))
        return [error, self.link(RETRY, "Retry", key)]

    def link(self, row_kind: str, text: str, key: tuple[str, ...]) -> QTreeWidgetItem:
        """A row a single click activates, drawn as a link."""
        item = self._row(text, row_kind, key)
        item.setForeground(0, self.tree.palette().link())
        return item

    def note(self, row_kind: str, text: str, key: tuple[str, ...]) -> QTreeWidgetItem:
        """A row that only says something (Loading…, No workspaces, an error)."""
        item = self._row(text, row_kind, key)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        if row_kind in (LOADING, EMPTY):
            item.setFont(0, _font(italic=True))
        return item


def apply_filter(section: QTreeWidgetItem, text: str, reveal: Callable[[QTreeWidgetItem], None]) -> None:
    """Hide the pinned/recent entries, subscriptions and workspaces the filter does not match.

    A subscription whose name matches shows all its workspaces; one that holds matching workspaces shows
    only those, and is revealed (``reveal`` expands it, and its account) so the matches are in sight.
    """
    for child in children(section):
        row = child.data(0, ROW_ROLE)
        location = child.data(0, LOCATION_ROLE)  # pinned and recent entries
        if location and row is None:
            child.setHidden(not matches(text, [child.text(0), str(location)]))
        elif row == ACCOUNT:
            _filter_account(child, text, reveal)


def _filter_account(account: QTreeWidgetItem, text: str, reveal: Callable[[QTreeWidgetItem], None]) -> None:
    any_match = False
    for sub in children(account):
        if sub.data(0, ROW_ROLE) != SUBSCRIPTION:
            continue
        sub_matches = matches(text, [sub.text(0), *sub.data(0, KEY_ROLE)[1:]])
        found = 0  # workspaces matching by themselves: their subscription opens to show them
        for ws in children(sub):
            if ws.data(0, ROW_ROLE) == WORKSPACE:
                hit = matches(text, [ws.text(0), *ws.data(0, KEY_ROLE)])
                ws.setHidden(not (hit or sub_matches))
                found += hit
        sub.setHidden(not (sub_matches or found))
        any_match = any_match or sub_matches or bool(found)
        if text.strip() and found:
            reveal(sub)
    if text.strip() and any_match:
        reveal(account)


def children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    """A row's children, top to bottom."""
    found = (item.child(i) for i in range(item.childCount()))
    return [child for child in found if child is not None]


def walk(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    """Every row under ``item``, depth first, top to bottom."""
    found: list[QTreeWidgetItem] = []
    stack = children(item)
    while stack:
        child = stack.pop(0)
        found.append(child)
        stack[0:0] = children(child)
    return found


def _font(*, italic: bool = False, bold: bool = False) -> QFont:
    font = QFont()
    font.setItalic(italic)
    font.setBold(bold)
    return font
