"""The accounts rows of a kind that signs in (Azure ML) in the Workspaces pane.

Under the kind's section: a filter box, the pinned and recent workspaces (built by the pane), then
one row per account → its subscriptions → their workspaces, then the actions. The window talks to
the kind only through its ``AccountDirectory`` (studio.core.accounts), and every call that may
reach the network runs on the runner's threads: a list being fetched shows a "Loading…" row, a
failed one its sentence and a "Retry" row. Lists are fetched when their row is first expanded
(or when the filter needs them) and kept in ``AccountsState`` across the pane's rebuilds.
When the accounts first show, each is checked silently: an expired one says "expired — sign in
again" and offers it. Activating a workspace remembers which account found it
(``remember_account_for``, so the kind opens it with that account), then asks the window to open it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFileDialog, QLineEdit, QMenu, QTreeWidget, QTreeWidgetItem

from studio.core.accounts import AccountDirectory, AccountInfo, RemoteWorkspaceInfo, SubscriptionInfo
from studio.core.errors import AuthenticationError
from studio.ui.background.debounce import qdebounced
from studio.ui.background.notifier import sentence
from studio.ui.background.tasks import TaskRunner
from studio.ui.workspaces.azure_accounts_state import (
    AccountsState,
    Lazy,
    account_label,
    is_expired,
    matches,
    workspace_fields,
    workspace_label,
    workspace_tooltip,
)
from studio.ui.workspaces.azure_sign_in_dialog import AzureSignInDialog
from studio.ui.workspaces.kind_actions import AZURE_ADD_FROM_CONFIG, AZURE_SIGN_IN
from studio.ui.workspaces.pane_roles import KIND_ROLE, LOCATION_ROLE

ROW_ROLE = Qt.ItemDataRole.UserRole + 10
"""What a row of the accounts rows is (one of the row kinds below)."""
KEY_ROLE = Qt.ItemDataRole.UserRole + 11
"""The state key of an account or subscription row, or of the list a Loading/error/Retry row stands for."""
ACCOUNT_ROLE = Qt.ItemDataRole.UserRole + 12
"""The account id a workspace row was found with."""
WORKSPACE_LOCATION_ROLE = Qt.ItemDataRole.UserRole + 13

FILTER, ACCOUNT, SUBSCRIPTION, WORKSPACE = "filter", "account", "subscription", "workspace"
LOADING, ERROR, RETRY, SIGN_IN_AGAIN, EMPTY = "loading", "error", "retry", "sign-in-again", "empty"
ACCOUNTS_KEY = ("accounts",)
"""The key of the accounts list itself (its Loading/error rows)."""
FILTER_DELAY_MS = 200
ERROR_COLOUR = "#d9363e"
"""The colour of errors elsewhere in the window (runs table, dialogs): readable on light and dark."""
PIN = "★ "
"""Put before the name of a pinned workspace."""


class AzureSection(QObject):
    """The accounts, subscriptions and workspaces of one kind's ``AccountDirectory`` in the pane's tree."""

    sig_open_workspace = Signal(str)
    """Open the workspace at this location (its account already remembered for it)."""
    sig_pin = Signal(str, bool)
    """Pin (True) or unpin (False) the workspace at this location."""
    sig_failed = Signal(object, str)
    """Something asked here failed: (exception, what was being done), for the window's notifier."""
    sig_notice = Signal(str)
    """A passing message for the status bar ("Signed out of …")."""
    sig_loaded = Signal(object)
    """A list arrived or failed (its key: ACCOUNTS_KEY, (account,), (account, subscription)) or a check
    ended (("check", account)): the rows show it now."""

    def __init__(self, directory: AccountDirectory, runner: TaskRunner, tree: QTreeWidget, kind: str) -> None:
        super().__init__(tree)
        self.directory, self.runner, self.tree, self.kind = directory, runner, tree, kind
        self.state = AccountsState()
        self.section: QTreeWidgetItem | None = None
        self.filter_box: QLineEdit | None = None
        self.pinned: set[str] = set()
        self.current = ""
        self.dialog: AzureSignInDialog | None = None
        self._first_row = 0  # the section's child index of the first account row
        self._row_count = 0  # how many account-level rows there are
        self._filter_later = qdebounced(self._filter_changed, FILTER_DELAY_MS, self)
        self._building = False  # rows expanded while building are not the user's doing

    # -- building (called by the pane at each rebuild) -----------------------------------------

    def add_filter_row(self, section: QTreeWidgetItem) -> None:
        """The filter box, first row of the section."""
        self.section = section
        item = QTreeWidgetItem(section)
        item.setData(0, ROW_ROLE, FILTER)
        item.setData(0, KIND_ROLE, self.kind)  # the pane's KIND_ROLE
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        box = QLineEdit()
        box.setObjectName("azureFilter")
        box.setPlaceholderText("Filter workspaces")
        box.setToolTip("Show the subscriptions and workspaces whose names hold these words")
        box.setClearButtonEnabled(True)
        box.setText(self.state.filter_text)
        box.textChanged.connect(self._filter_later)
        box.returnPressed.connect(self._filter_later.flush)
        self.tree.setItemWidget(item, 0, box)
        item.setSizeHint(0, QSize(0, box.sizeHint().height() + 2))
        self.filter_box = box

    def add_account_rows(self, section: QTreeWidgetItem, pinned: set[str], current: str) -> None:
        """The account rows, after the pinned and recent workspaces; the accounts are read on first use."""
        self.section, self.pinned, self.current = section, set(pinned), current
        self._first_row, self._row_count = section.childCount(), 0
        self._build_accounts()
        if self.state.accounts.items is None and not self.state.accounts.loading:
            self.load_accounts()

    def restore(self) -> None:
        """After the pane expanded its sections: expand the rows expanded before, apply the filter."""
        if self.section is None:
            return
        self._building = True
        try:
            for item in self._walk(self.section):
                key = item.data(0, KEY_ROLE)
                if item.data(0, ROW_ROLE) in (ACCOUNT, SUBSCRIPTION) and tuple(key) in self.state.expanded:
                    item.setExpanded(True)
        finally:
            self._building = False
        self.apply_filter()

    def _build_accounts(self) -> None:
        """(Re)build the account-level rows in place."""
        section = self.section
        if section is None:
            return
        for _ in range(self._row_count):
            section.takeChild(self._first_row)
        rows: list[QTreeWidgetItem] = []
        accounts = self.state.accounts
        if accounts.items is None and accounts.loading:
            rows.append(_note_row(LOADING, "Loading accounts…", ACCOUNTS_KEY))
        elif accounts.error is not None and not accounts.items:
            rows += self._error_rows(accounts.error, ACCOUNTS_KEY, "Could not read the accounts")
        for info in accounts.items or []:
            rows.append(self._account_row(self.state.account(info.account_id) or info))
        section.insertChildren(self._first_row, rows)
        self._row_count = len(rows)
        for row in rows:
            if row.data(0, ROW_ROLE) == ACCOUNT:
                self._fill_account(row)

    def _account_row(self, account: AccountInfo) -> QTreeWidgetItem:
        item = QTreeWidgetItem([account_label(account)])
        item.setData(0, ROW_ROLE, ACCOUNT)
        item.setData(0, KEY_ROLE, (account.account_id,))
        item.setData(0, KIND_ROLE, self.kind)
        item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        tip = [account.label, f"Signed in with: {account.method_id}"]
        if account.tenant_id:
            tip.append(f"Tenant: {account.tenant_id}")
        if account.detail:
            tip.append(account.detail)
        item.setToolTip(0, "\n".join(tip))
        if is_expired(account):
            item.setForeground(0, self.tree.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            item.setFont(0, _italic())
        return item

    def _fill_account(self, item: QTreeWidgetItem) -> None:
        """An account row's children from what is known: a sign-in offer, Loading…, an error, or its subscriptions."""
        (account_id,) = item.data(0, KEY_ROLE)
        account = self.state.account(account_id)
        _clear(item)
        if account is not None and is_expired(account):
            row = self._link_row(SIGN_IN_AGAIN, "Sign in again…", (account_id,))
            row.setToolTip(0, account.detail or "The sign-in expired: sign in again to list its subscriptions.")
            item.addChild(row)
            return
        subs = self.state.subs_of(account_id)
        item.addChildren(self._list_rows(subs, (account_id,), "subscriptions", "No subscriptions"))
        for sub in subs.items or []:
            row = self._subscription_row(account_id, sub)
            item.addChild(row)
            self._fill_subscription(row)

    def _subscription_row(self, account_id: str, sub: SubscriptionInfo) -> QTreeWidgetItem:
        item = QTreeWidgetItem([sub.name or sub.subscription_id])
        item.setData(0, ROW_ROLE, SUBSCRIPTION)
        item.setData(0, KEY_ROLE, (account_id, sub.subscription_id))
        item.setData(0, KIND_ROLE, self.kind)
        item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        state = "" if sub.state in ("", "Enabled") else f"\nState: {sub.state}"
        item.setToolTip(0, f"{sub.name}\nSubscription: {sub.subscription_id}{state}")
        return item

    def _fill_subscription(self, item: QTreeWidgetItem) -> None:
        account_id, sub_id = item.data(0, KEY_ROLE)
        _clear(item)
        workspaces = self.state.workspaces_of(account_id, sub_id)
        item.addChildren(self._list_rows(workspaces, (account_id, sub_id), "workspaces", "No workspaces"))
        for ws in sorted(workspaces.items or [], key=lambda w: workspace_label(w).lower()):
            item.addChild(self._workspace_row(account_id, ws))

    def _workspace_row(self, account_id: str, ws: RemoteWorkspaceInfo) -> QTreeWidgetItem:
        pinned = PIN if ws.location in self.pinned else ""
        item = QTreeWidgetItem([f"{pinned}{workspace_label(ws)}"])
        item.setData(0, ROW_ROLE, WORKSPACE)
        item.setData(0, WORKSPACE_LOCATION_ROLE, ws.location)
        item.setData(0, ACCOUNT_ROLE, account_id)
        item.setData(0, KEY_ROLE, tuple(workspace_fields(ws)))
        item.setData(0, KIND_ROLE, self.kind)
        item.setToolTip(0, workspace_tooltip(ws))
        if ws.location.lower() == self.current.lower():
            item.setFont(0, _bold())
            item.setText(0, f"{item.text(0)}  (open)")
        return item

    def _list_rows(self, lazy: Lazy[Any], key: tuple[str, ...], what: str, empty: str) -> list[QTreeWidgetItem]:
        """Loading…, or the error and Retry, or "No …", for a lazy list; nothing when it has items or was not asked."""
        if lazy.loading:
            return [_note_row(LOADING, f"Loading {what}…", key)]
        if lazy.error is not None:
            return self._error_rows(lazy.error, key, f"Could not list the {what}")
        if lazy.items == []:
            return [_note_row(EMPTY, empty, key)]
        return []

    def _error_rows(self, exc: BaseException, key: tuple[str, ...], title: str) -> list[QTreeWidgetItem]:
        text = sentence(exc)
        error = _note_row(ERROR, f"⚠ {text}", key)
        error.setToolTip(0, f"{title}: {text}")
        error.setForeground(0, QColor(ERROR_COLOUR))
        return [error, self._link_row(RETRY, "Retry", key)]

    def _link_row(self, row_kind: str, text: str, key: tuple[str, ...]) -> QTreeWidgetItem:
        item = QTreeWidgetItem([text])
        item.setData(0, ROW_ROLE, row_kind)
        item.setData(0, KEY_ROLE, key)
        item.setData(0, KIND_ROLE, self.kind)
        item.setForeground(0, self.tree.palette().link())
        return item

    # -- loading -------------------------------------------------------------------------------

    def load_accounts(self) -> None:
        """Read the accounts (settings: cheap, but still off the GUI thread), then check each silently."""
        epoch = self.state.accounts.start()
        self._build_accounts()
        self.runner.submit(
            self.directory.accounts,
            success=lambda items: self._accounts_arrived(epoch, items, None),
            failure=lambda exc: self._accounts_arrived(epoch, None, exc),
            owner=self,
        )

    def _accounts_arrived(self, epoch: int, items: list[AccountInfo] | None, exc: BaseException | None) -> None:
        if not self.state.accounts.arrived(epoch, items, exc):
            return
        self._build_accounts()
        self.restore()
        for account in items or []:
            if account.account_id not in self.state.checked and account.account_id not in self.state.checking:
                self.check(account.account_id)
        self.sig_loaded.emit(ACCOUNTS_KEY)

    def check(self, account_id: str) -> None:
        """Ask silently whether the account's sign-in still holds (network)."""
        self.state.checking.add(account_id)
        epoch = self.state.subs_of(account_id).epoch
        self.runner.submit(
            self.directory.check_account,
            account_id,
            success=lambda info: self._checked(account_id, epoch, info, None),
            failure=lambda exc: self._checked(account_id, epoch, None, exc),
            owner=self,
        )

    def _checked(self, account_id: str, epoch: int, info: AccountInfo | None, exc: BaseException | None) -> None:
        if epoch != self.state.subs_of(account_id).epoch or account_id not in self.state.checking:
            return  # refreshed or signed out since
        known = self.state.account(account_id)
        if info is None and known is not None:
            if isinstance(exc, AuthenticationError):
                info = replace(known, state="expired", detail=sentence(exc) if exc else "")
            else:  # not known either way (the network is down): usable, saying why it was not checked
                info = replace(
                    known, state="unknown", detail=f"Could not check the sign-in: {sentence(exc)}" if exc else ""
                )
        if info is None:
            self.state.checking.discard(account_id)
            return
        self.state.set_checked(info)
        self._account_changed(account_id)
        self.sig_loaded.emit(("check", account_id))

    def _account_changed(self, account_id: str) -> None:
        """Rebuild one account's row and its children (its text may say expired now)."""
        item = self._item_for((account_id,))
        account = self.state.account(account_id)
        if item is None or account is None or self.section is None:
            return
        fresh = self._account_row(account)
        index = self.section.indexOfChild(item)
        expanded = item.isExpanded()
        self.section.takeChild(index)
        self.section.insertChild(index, fresh)
        self._fill_account(fresh)
        self._building = True
        try:
            fresh.setExpanded(expanded)
            self._restore_under(fresh)
        finally:
            self._building = False
        self.apply_filter()

    def load_subscriptions(self, account_id: str) -> None:
        """Fetch an account's subscriptions (network), showing Loading… under it meanwhile."""
        lazy = self.state.subs_of(account_id)
        epoch = lazy.start()
        self._refill((account_id,))
        self.runner.submit(
            self.directory.subscriptions,
            account_id,
            success=lambda items: self._subs_arrived(account_id, epoch, items, None),
            failure=lambda exc: self._subs_arrived(account_id, epoch, None, exc),
            owner=self,
        )

    def _subs_arrived(
        self, account_id: str, epoch: int, items: list[SubscriptionInfo] | None, exc: BaseException | None
    ) -> None:
        if not self.state.subs_of(account_id).arrived(epoch, items, exc):
            return
        known = self.state.account(account_id)
        if isinstance(exc, AuthenticationError) and known is not None:
            self.state.set_checked(replace(known, state="expired", detail=sentence(exc)))
            self._account_changed(account_id)
        else:
            self._refill((account_id,))
            if self.state.filter_text.strip():
                self.load_workspaces(account_id, self.state.unloaded_subscriptions(account_id))
        self.sig_loaded.emit((account_id,))

    def load_workspaces(self, account_id: str, subscription_ids: list[str]) -> None:
        """Fetch the workspaces of some of an account's subscriptions in one call (the kind asks them in parallel)."""
        if not subscription_ids:
            return
        epochs = {sub: self.state.workspaces_of(account_id, sub).start() for sub in subscription_ids}
        for sub in subscription_ids:
            self._refill((account_id, sub))
        self.runner.submit(
            self.directory.workspaces,
            account_id,
            list(subscription_ids),
            success=lambda items: self._workspaces_arrived(account_id, epochs, items, None),
            failure=lambda exc: self._workspaces_arrived(account_id, epochs, None, exc),
            owner=self,
        )

    def _workspaces_arrived(
        self,
        account_id: str,
        epochs: dict[str, int],
        items: list[RemoteWorkspaceInfo] | None,
        exc: BaseException | None,
    ) -> None:
        by_sub: dict[str, list[RemoteWorkspaceInfo]] = defaultdict(list)
        for ws in items or []:
            by_sub[ws.subscription_id.lower()].append(ws)
        for sub, epoch in epochs.items():
            found = None if exc is not None else by_sub.get(sub.lower(), [])
            if self.state.workspaces_of(account_id, sub).arrived(epoch, found, exc):
                self._refill((account_id, sub))
                self.sig_loaded.emit((account_id, sub))
        known = self.state.account(account_id)
        if isinstance(exc, AuthenticationError) and known is not None:
            self.state.set_checked(replace(known, state="expired", detail=sentence(exc)))
            self._account_changed(account_id)

    def _refill(self, key: tuple[str, ...]) -> None:
        """Rebuild the children of the account or subscription row with this key, keeping what was expanded."""
        item = self._item_for(key)
        if item is None:
            return
        if len(key) == 1:
            self._fill_account(item)
        else:
            self._fill_subscription(item)
        self._building = True
        try:
            self._restore_under(item)
        finally:
            self._building = False
        self.apply_filter()

    def _restore_under(self, item: QTreeWidgetItem) -> None:
        for child in self._walk(item):
            key = child.data(0, KEY_ROLE)
            if child.data(0, ROW_ROLE) in (ACCOUNT, SUBSCRIPTION) and tuple(key) in self.state.expanded:
                child.setExpanded(True)

    def retry(self, key: tuple[str, ...]) -> None:
        """Ask again for the list that failed (Retry)."""
        if key == ACCOUNTS_KEY:
            self.load_accounts()
        elif len(key) == 1:
            self.load_subscriptions(key[0])
        else:
            self.load_workspaces(key[0], [key[1]])

    # -- the user's doing ----------------------------------------------------------------------

    def expanded(self, item: QTreeWidgetItem) -> None:
        """A row was expanded: remember it; fetch its list the first time."""
        row, key = item.data(0, ROW_ROLE), item.data(0, KEY_ROLE)
        if row not in (ACCOUNT, SUBSCRIPTION):
            return
        key = tuple(key)
        self.state.expanded.add(key)
        if row == ACCOUNT:
            account = self.state.account(key[0])
            lazy = self.state.subs_of(key[0])
            unasked = lazy.items is None and not lazy.loading and (lazy.error is None or not self._building)
            if account is not None and not is_expired(account) and unasked:  # a restored error row waits for Retry
                self.load_subscriptions(key[0])
        else:
            lazy_ws = self.state.workspaces_of(*key)
            if lazy_ws.items is None and not lazy_ws.loading and (lazy_ws.error is None or not self._building):
                self.load_workspaces(key[0], [key[1]])

    def collapsed(self, item: QTreeWidgetItem) -> None:
        """A row was collapsed: not expanded at the next rebuild."""
        key = item.data(0, KEY_ROLE)
        if item.data(0, ROW_ROLE) in (ACCOUNT, SUBSCRIPTION) and not self._building:
            self.state.expanded.discard(tuple(key))

    def activate(self, item: QTreeWidgetItem) -> bool:
        """A row was activated (double-click, Enter; a click for link rows); True if it was one of the section's."""
        row, key = item.data(0, ROW_ROLE), item.data(0, KEY_ROLE)
        if row == WORKSPACE:
            self.open_workspace(str(item.data(0, WORKSPACE_LOCATION_ROLE)), str(item.data(0, ACCOUNT_ROLE)))
        elif row == RETRY:
            self.retry(tuple(key))
        elif row == ERROR:
            self.sig_failed.emit(self._error_of(tuple(key)), str(item.toolTip(0)).split(": ", 1)[0])
        elif row == SIGN_IN_AGAIN or (row == ACCOUNT and (a := self.state.account(key[0])) and is_expired(a)):
            self.sign_in(self.state.account(key[0]))
        else:
            return row is not None
        return True

    def _error_of(self, key: tuple[str, ...]) -> BaseException | None:
        lazy: Lazy[Any] = (
            self.state.accounts
            if key == ACCOUNTS_KEY
            else self.state.subs_of(key[0])
            if len(key) == 1
            else self.state.workspaces_of(*key)
        )
        return lazy.error

    def is_link(self, item: QTreeWidgetItem) -> bool:
        """True for rows a single click activates (Retry, Sign in again…)."""
        return item.data(0, ROW_ROLE) in (RETRY, SIGN_IN_AGAIN)

    def open_workspace(self, location: str, account_id: str) -> None:
        """Remember the account for the workspace (settings, on a worker), then ask the window to open it."""

        def remembered(_none: object) -> None:
            self.sig_open_workspace.emit(location)

        def not_remembered(exc: BaseException) -> None:
            self.sig_failed.emit(exc, "Remembering the account of the workspace")
            self.sig_open_workspace.emit(location)  # the kind still finds an account to open it with

        self.runner.submit(
            self.directory.remember_account_for, location, account_id, success=remembered, failure=not_remembered
        )

    def handle_action(self, action_id: str) -> bool:
        """The kind's action rows: True when handled here."""
        if action_id == AZURE_SIGN_IN:
            self.sign_in()
        elif action_id == AZURE_ADD_FROM_CONFIG:
            self.add_from_config()
        else:
            return False
        return True

    def sign_in(self, account: AccountInfo | None = None) -> AzureSignInDialog:
        """Sign in… (or Sign in again for an account): the dialog; a new account shows expanded."""
        if self.dialog is not None:
            self.dialog.close()
        dialog = AzureSignInDialog(self.directory, self.runner, self.tree.window(), again=account)
        dialog.sig_signed_in.connect(self._signed_in)
        dialog.finished.connect(lambda _code: self._dialog_closed(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: AzureSignInDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _signed_in(self, info: AccountInfo) -> None:
        self.state.forget_account(info.account_id)  # what failed or expired before is asked again
        self.state.set_checked(info)
        self.state.expanded.add((info.account_id,))
        self.sig_notice.emit(f"Signed in as {info.label}.")
        self.load_accounts()

    def sign_out(self, account_id: str) -> None:
        """Sign out (keyring and token cache: on a worker), then drop the account's rows."""
        account = self.state.account(account_id)
        label = account.label if account else account_id

        def signed_out(_none: object) -> None:
            self.state.forget_account(account_id)
            self.state.expanded = {k for k in self.state.expanded if k[0] != account_id}
            items = self.state.accounts.items or []
            self.state.accounts.items = [a for a in items if a.account_id != account_id]
            self._build_accounts()
            self.apply_filter()
            self.sig_notice.emit(f"Signed out of {label}.")
            self.sig_loaded.emit(("signed-out", account_id))

        self.runner.submit(
            self.directory.sign_out,
            account_id,
            success=signed_out,
            failure=lambda exc: self.sig_failed.emit(exc, f"Signing out of {label}"),
            label=f"Signing out of {label}",
            owner=self,
        )

    def refresh(self, account_id: str) -> None:
        """Refresh: check the sign-in again and list the subscriptions (and expanded ones' workspaces) again."""
        self.state.forget_account(account_id)
        self._account_changed(account_id)
        self.check(account_id)
        item = self._item_for((account_id,))
        if item is not None and item.isExpanded():
            self.load_subscriptions(account_id)

    def add_from_config(self, path: str | None = None) -> None:
        """Add from config.json…: read the file (on a worker) and open the workspace it names."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self.tree.window(), "Open the workspace of a config.json", "", "config.json (*.json);;All files (*)"
            )
            if not path:
                return
        self.runner.submit(
            self.directory.workspace_from_config,
            Path(path),
            success=lambda info: self.sig_open_workspace.emit(info.location),
            failure=lambda exc: self.sig_failed.emit(exc, f"Reading {path}"),
            owner=self,
        )

    def add_menu_actions(self, item: QTreeWidgetItem, location: str, menu: QMenu) -> None:
        """The section's entries in a row's context menu: Sign in again/Refresh/Sign out; Pin/Unpin."""
        row, key = item.data(0, ROW_ROLE), item.data(0, KEY_ROLE)
        if row == ACCOUNT:
            account_id = key[0]
            account = self.state.account(account_id)
            if account is not None and is_expired(account):
                _menu_action(menu, "Sign in again…", "actionAzureSignInAgain", lambda: self.sign_in(account))
            _menu_action(menu, "Refresh", "actionAzureRefresh", lambda: self.refresh(account_id))
            _menu_action(menu, "Sign out", "actionAzureSignOut", lambda: self.sign_out(account_id))
            return
        if row == WORKSPACE:
            location = str(item.data(0, WORKSPACE_LOCATION_ROLE))
            account_id = str(item.data(0, ACCOUNT_ROLE))
            _menu_action(menu, "Open", "actionAzureOpen", lambda: self.open_workspace(location, account_id))
        if location:
            pinned = location in self.pinned
            _menu_action(
                menu,
                "Unpin" if pinned else "Pin",
                "actionAzureUnpin" if pinned else "actionAzurePin",
                lambda: self.sig_pin.emit(location, not pinned),
            )

    # -- filter --------------------------------------------------------------------------------

    def set_filter(self, text: str) -> None:
        """Filter now (what typing in the box does after a short rest)."""
        if self.filter_box is not None and self.filter_box.text() != text:
            self.filter_box.setText(text)
        self._filter_later.cancel()
        self._filter_changed()

    def _filter_changed(self) -> None:
        text = self.filter_box.text() if self.filter_box is not None else self.state.filter_text
        self.state.filter_text = text
        if text.strip():  # finding a workspace by name needs the lists the user did not expand
            for account in self.state.accounts.items or []:
                known = self.state.account(account.account_id) or account
                subs = self.state.subs_of(account.account_id)
                if is_expired(known):
                    continue
                if subs.items is None and not subs.loading and subs.error is None:
                    self.load_subscriptions(account.account_id)
                else:
                    self.load_workspaces(account.account_id, self.state.unloaded_subscriptions(account.account_id))
        self.apply_filter()

    def apply_filter(self) -> None:
        """Hide the workspaces and subscriptions the filter does not match; show where the matches are."""
        section = self.section
        if section is None:
            return
        text = self.state.filter_text
        for child in _children(section):
            row = child.data(0, ROW_ROLE)
            location = child.data(0, LOCATION_ROLE)  # pinned and recent entries
            if location and row is None:
                child.setHidden(not matches(text, [child.text(0), str(location)]))
            elif row == ACCOUNT:
                self._filter_account(child, text)

    def _filter_account(self, account: QTreeWidgetItem, text: str) -> None:
        any_match = False
        for sub in _children(account):
            if sub.data(0, ROW_ROLE) != SUBSCRIPTION:
                continue
            sub_matches = matches(text, [sub.text(0), *sub.data(0, KEY_ROLE)[1:]])
            found = 0  # workspaces matching by themselves: their subscription opens to show them
            for ws in _children(sub):
                if ws.data(0, ROW_ROLE) == WORKSPACE:
                    hit = matches(text, [ws.text(0), *ws.data(0, KEY_ROLE)])
                    ws.setHidden(not (hit or sub_matches))
                    found += hit
            sub.setHidden(not (sub_matches or found))
            any_match = any_match or sub_matches or bool(found)
            if text.strip() and found:
                self._expand_quietly(sub)
        if text.strip() and any_match:
            self._expand_quietly(account)

    def _expand_quietly(self, item: QTreeWidgetItem) -> None:
        """Expand to show a match, without remembering it as the user's choice."""
        if item.isExpanded():
            return
        building, self._building = self._building, True
        try:
            item.setExpanded(True)
        finally:
            self._building = building

    # -- queries (for the pane and tests) ------------------------------------------------------

    def _item_for(self, key: tuple[str, ...]) -> QTreeWidgetItem | None:
        if self.section is None:
            return None
        for item in self._walk(self.section):
            if item.data(0, ROW_ROLE) in (ACCOUNT, SUBSCRIPTION) and tuple(item.data(0, KEY_ROLE)) == key:
                return item
        return None

    def item_for(self, *key: str) -> QTreeWidgetItem | None:
        """The row of an account (``item_for(account_id)``) or of a subscription (``item_for(account_id, sub_id)``)."""
        return self._item_for(tuple(key))

    def workspace_item(self, location: str) -> QTreeWidgetItem | None:
        """A workspace's row under its subscription."""
        if self.section is None:
            return None
        return next(
            (i for i in self._walk(self.section) if i.data(0, WORKSPACE_LOCATION_ROLE) == location),
            None,
        )

    def rows_under(self, item: QTreeWidgetItem, visible_only: bool = False) -> list[str]:
        """The texts of a row's children (the shown ones only with ``visible_only``)."""
        return [c.text(0) for c in _children(item) if not (visible_only and c.isHidden())]

    @staticmethod
    def _walk(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
        found: list[QTreeWidgetItem] = []
        stack = _children(item)
        while stack:
            child = stack.pop(0)
            found.append(child)
            stack[0:0] = _children(child)
        return found


def _note_row(row_kind: str, text: str, key: tuple[str, ...]) -> QTreeWidgetItem:
    item = QTreeWidgetItem([text])
    item.setData(0, ROW_ROLE, row_kind)
    item.setData(0, KEY_ROLE, key)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
    if row_kind in (LOADING, EMPTY):
        item.setFont(0, _italic())
    return item


def _menu_action(menu: QMenu, text: str, name: str, slot: Callable[[], object]) -> None:
    action = menu.addAction(text)
    action.setObjectName(name)
    action.triggered.connect(lambda _checked=False: slot())


def _clear(item: QTreeWidgetItem) -> None:
    for child in item.takeChildren():
        del child


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    children = (item.child(i) for i in range(item.childCount()))
    return [child for child in children if child is not None]


def _italic() -> QFont:
    font = QFont()
    font.setItalic(True)
    return font


def _bold() -> QFont:
    font = QFont()
    font.setBold(True)
    return font
