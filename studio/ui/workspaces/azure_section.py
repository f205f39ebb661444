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
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem

from studio.core.accounts import AccountDirectory, AccountInfo, RemoteWorkspaceInfo, SubscriptionInfo
from studio.core.errors import AuthenticationError
from studio.ui.background.debounce import qdebounced
from studio.ui.background.notifier import sentence
from studio.ui.background.tasks import TaskRunner
from studio.ui.workspaces.azure_account_actions import AccountActions
from studio.ui.workspaces.azure_accounts_state import AccountsState, Lazy, is_expired, workspace_label
from studio.ui.workspaces.azure_rows import (
    ACCOUNT,
    ACCOUNT_ROLE,
    ACCOUNTS_KEY,
    ERROR,
    FILTER,
    KEY_ROLE,
    LOADING,
    RETRY,
    ROW_ROLE,
    SIGN_IN_AGAIN,
    SUBSCRIPTION,
    WORKSPACE,
    WORKSPACE_LOCATION_ROLE,
    AzureRows,
    apply_filter,
    children,
    walk,
)
from studio.ui.workspaces.azure_sign_in_dialog import AzureSignInDialog
from studio.ui.workspaces.pane_roles import KIND_ROLE

FILTER_DELAY_MS = 200
FILTER_STYLE = "QLineEdit { border: 1px solid palette(mid); border-radius: 3px; padding: 1px 4px; }"


class AzureSection(AccountActions):
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
        self.rows = AzureRows(tree, kind)
        try:  # the ways' names for the accounts' tooltips (cheap: PATH and settings)
            self.rows.method_labels = {m.method_id: m.label for m in directory.sign_in_methods()}
        except Exception:  # not worth a failure: the tooltips say the method's id
            pass
        self.section: QTreeWidgetItem | None = None
        self.filter_box: QLineEdit | None = None
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
        # On the tree's own background the style's frame vanishes in the dark palette: draw it from the palette.
        box.setStyleSheet(FILTER_STYLE)
        box.setText(self.state.filter_text)
        box.textChanged.connect(self._filter_later)
        box.returnPressed.connect(self._filter_later.flush)
        self.tree.setItemWidget(item, 0, box)
        item.setSizeHint(0, QSize(0, box.sizeHint().height() + 2))
        self.filter_box = box

    def add_account_rows(self, section: QTreeWidgetItem, pinned: set[str], current: str) -> None:
        """The account rows, after the pinned and recent workspaces; the accounts are read on first use."""
        self.section, self.rows.pinned, self.rows.current = section, set(pinned), current
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
            for item in walk(self.section):
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
            rows.append(self.rows.note(LOADING, "Loading accounts…", ACCOUNTS_KEY))
        elif accounts.error is not None and not accounts.items:
            rows += self.rows.error(accounts.error, ACCOUNTS_KEY, "Could not read the accounts")
        for info in accounts.items or []:
            rows.append(self.rows.account(self.state.account(info.account_id) or info))
        section.insertChildren(self._first_row, rows)
        self._row_count = len(rows)
        for row in rows:
            if row.data(0, ROW_ROLE) == ACCOUNT:
                self._fill_account(row)

    def _fill_account(self, item: QTreeWidgetItem) -> None:
        """An account row's children from what is known: a sign-in offer, Loading…, an error, or its subscriptions."""
        (account_id,) = item.data(0, KEY_ROLE)
        account = self.state.account(account_id)
        _clear(item)
        if account is not None and is_expired(account):
            row = self.rows.link(SIGN_IN_AGAIN, "Sign in again…", (account_id,))
            row.setToolTip(0, account.detail or "The sign-in expired: sign in again to list its subscriptions.")
            item.addChild(row)
            return
        subs = self.state.subs_of(account_id)
        item.addChildren(self.rows.for_list(subs, (account_id,), "subscriptions", "No subscriptions"))
        for sub in sorted(subs.items or [], key=lambda x: (x.state not in ("", "Enabled"), x.name.lower())):
            row = self.rows.subscription(account_id, sub)
            item.addChild(row)
            self._fill_subscription(row)

    def _fill_subscription(self, item: QTreeWidgetItem) -> None:
        account_id, sub_id = item.data(0, KEY_ROLE)
        _clear(item)
        workspaces = self.state.workspaces_of(account_id, sub_id)
        item.addChildren(self.rows.for_list(workspaces, (account_id, sub_id), "workspaces", "No workspaces"))
        for ws in sorted(workspaces.items or [], key=lambda w: workspace_label(w).lower()):
            item.addChild(self.rows.workspace(account_id, ws))

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
        fresh = self.rows.account(account)
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
        for child in walk(item):
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
        if not self._building:  # the user's doing (a rebuild restores these; the filter's are not kept)
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
        if self.section is not None:
            apply_filter(self.section, self.state.filter_text, self._expand_quietly)

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
        for item in walk(self.section):
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
            (i for i in walk(self.section) if i.data(0, WORKSPACE_LOCATION_ROLE) == location),
            None,
        )

    def rows_under(self, item: QTreeWidgetItem, visible_only: bool = False) -> list[str]:
        """The texts of a row's children (the shown ones only with ``visible_only``)."""
        return [c.text(0) for c in children(item) if not (visible_only and c.isHidden())]


def _clear(item: QTreeWidgetItem) -> None:
    for child in item.takeChildren():
        del child
