"""What the user does with the accounts rows (azure_section.py): open a workspace, sign in and out, refresh,
add a workspace from its config.json, pin; the context menus that offer them.

A mixin of ``AzureSection`` (as ``WorkspaceSwitching`` is of the main window): it uses the section's
directory, runner, state and rows, and says what it did through the section's signals. Everything that may
touch the network, the keyring or a file runs on the runner's threads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, SignalInstance
from PySide6.QtWidgets import QFileDialog, QMenu, QTreeWidget, QTreeWidgetItem

from studio.core.accounts import AccountDirectory, AccountInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.workspaces.azure_accounts_state import AccountsState, is_expired
from studio.ui.workspaces.azure_rows import (
    ACCOUNT,
    ACCOUNT_ROLE,
    KEY_ROLE,
    ROW_ROLE,
    WORKSPACE,
    WORKSPACE_LOCATION_ROLE,
    AzureRows,
)
from studio.ui.workspaces.azure_sign_in_dialog import AzureSignInDialog
from studio.ui.workspaces.kind_actions import AZURE_ADD_FROM_CONFIG, AZURE_SIGN_IN


class AccountActions(QObject):
    """Sign in, sign out, refresh, add from config.json, open, pin: the accounts section's user actions."""

    directory: AccountDirectory
    runner: TaskRunner
    tree: QTreeWidget
    state: AccountsState
    rows: AzureRows
    dialog: AzureSignInDialog | None
    sig_open_workspace: SignalInstance
    sig_pin: SignalInstance
    sig_failed: SignalInstance
    sig_notice: SignalInstance
    sig_loaded: SignalInstance

    def load_accounts(self) -> None:
        """Read the accounts again (the section's)."""
        raise NotImplementedError

    def load_subscriptions(self, account_id: str) -> None:
        """Fetch an account's subscriptions (the section's)."""
        raise NotImplementedError

    def check(self, account_id: str) -> None:
        """Check an account's sign-in silently (the section's)."""
        raise NotImplementedError

    def item_for(self, *key: str) -> QTreeWidgetItem | None:
        """An account's or subscription's row (the section's)."""
        raise NotImplementedError

    def _account_changed(self, account_id: str) -> None:
        raise NotImplementedError

    def _build_accounts(self) -> None:
        raise NotImplementedError

    def apply_filter(self) -> None:
        """Apply the filter to the rows (the section's)."""
        raise NotImplementedError

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
        item = self.item_for(account_id)
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
            pinned = location in self.rows.pinned
            _menu_action(
                menu,
                "Unpin" if pinned else "Pin",
                "actionAzureUnpin" if pinned else "actionAzurePin",
                lambda: self.sig_pin.emit(location, not pinned),
            )


def _menu_action(menu: QMenu, text: str, name: str, slot: Callable[[], object]) -> None:
    action = menu.addAction(text)
    action.setObjectName(name)
    action.triggered.connect(lambda _checked=False: slot())
