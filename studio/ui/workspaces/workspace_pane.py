"""The Workspaces pane: one section per workspace kind, with its recent workspaces and its actions.

The pane knows kinds only through their ``WorkspaceOpener`` (studio.core): the section title is
``opener.label``, entries read ``opener.display_name``, and the actions come from the table in
``kind_actions``. Whether a recent workspace is gone is file-system I/O, so it is asked on the
runner's threads after each rebuild; the answer greys the entries that are.
A kind whose opener signs in (``SignsIn``: Azure ML) gets accounts rows in its section
(azure_section.py): a filter box, its pinned workspaces, then its recent ones, then accounts →
subscriptions → workspaces, fetched on expand; its action rows are handled there too.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QDockWidget, QMenu, QTreeWidget, QTreeWidgetItem, QWidget

from studio.core.accounts import SignsIn
from studio.core.errors import StudioError
from studio.core.opener import WorkspaceOpener, pick_opener
from studio.ui.background.tasks import TaskRunner
from studio.ui.workspaces.azure_rows import PIN
from studio.ui.workspaces.azure_section import AzureSection
from studio.ui.workspaces.kind_actions import KEEPS_PASSWORDS, actions_for, later_note
from studio.ui.workspaces.pane_roles import ACTION_ROLE, KIND_ROLE, LOCATION_ROLE, MISSING_ROLE, PINNED_ROLE
from studio.ui.workspaces.recent_labels import SEPARATOR, distinguishing_suffixes

__all__ = ["ACTION_ROLE", "KIND_ROLE", "LOCATION_ROLE", "MISSING_ROLE", "WorkspacePane"]

SECTION_GAP = 8
"""Pixels of space above each section title after the first."""


class WorkspacePane(QDockWidget):
    """Lists workspaces by kind; activating one asks the window to switch to it."""

    sig_open_workspace = Signal(str)
    """Open the workspace at this location."""
    sig_kind_action = Signal(str, str)
    """The user chose one of a kind's actions: (kind, action id), e.g. ("local", "open-folder")."""
    sig_remove_recent = Signal(str)
    """The user chose "Remove from list" on this recent location."""
    sig_forget_password = Signal(str)
    """The user chose "Forget password" on this recent location (a kind in ``KEEPS_PASSWORDS``)."""
    sig_missing_activated = Signal(str)
    """The user activated a recent workspace known to be gone (its location)."""
    sig_missing_checked = Signal(list)
    """The background check of the recent entries ended: the locations found missing."""
    sig_pin = Signal(str, bool)
    """Pin (True) or unpin (False) a workspace of a kind that signs in (its location)."""
    sig_failed = Signal(object, str)
    """Something the accounts rows asked failed: (exception, what was being done)."""
    sig_notice = Signal(str)
    """A passing message from the accounts rows ("Signed out of …")."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Workspaces", parent)
        self.setObjectName("workspacePane")
        self.runner = runner
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("workspaceList")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(14)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemExpanded.connect(lambda item: self._accounts_of(item, "expanded"))
        self.tree.itemCollapsed.connect(lambda item: self._accounts_of(item, "collapsed"))
        self.setWidget(self.tree)
        self.current = ""
        self.default = ""
        self.pinned: list[str] = []
        self.accounts: dict[str, AzureSection] = {}
        """The accounts rows of each kind that signs in, kept across rebuilds (with what they fetched)."""
        self._generation = 0  # answers of an older check are dropped

    # -- building ------------------------------------------------------------------------------

    def set_workspaces(
        self,
        kinds: Sequence[WorkspaceOpener],
        default: str,
        recent: list[str],
        current: str,
        pinned: Sequence[str] = (),
    ) -> None:
        """Rebuild: a section per kind (local first), its recent entries and its actions; then check for missing.

        ``pinned`` workspaces show first in the section of a kind that signs in (others ignore them)."""
        self.default, self.current, self.pinned = default, current, list(pinned)
        self.tree.clear()
        by_kind: dict[str, list[str]] = {}
        openers: dict[str, WorkspaceOpener] = {}
        for location in dict.fromkeys(loc for loc in [default, *recent] if loc):
            try:
                opener = pick_opener(kinds, location)
            except StudioError:
                continue  # a kind no longer installed: kept in settings, not shown
            by_kind.setdefault(opener.kind, []).append(location)
            openers[location] = opener
        for opener in sorted(kinds, key=lambda o: o.kind != "local"):
            self._add_section(opener, by_kind.get(opener.kind, []))
        for section in self._sections():  # not expandAll: an account row expanded is a network call
            section.setExpanded(True)
        for accounts in self.accounts.values():
            accounts.restore()
        if (open_item := self.entry_item(current)) is not None:
            self.tree.setCurrentItem(open_item)  # not the first section's title
        self._check_missing([(openers[loc], loc) for loc in openers if loc not in (default, current)])

    def _add_section(self, opener: WorkspaceOpener, locations: list[str]) -> None:
        section = QTreeWidgetItem(self.tree, [opener.label])
        section.setFlags(Qt.ItemFlag.ItemIsEnabled)
        section.setData(0, KIND_ROLE, opener.kind)
        section.setFont(0, _bold())
        if self.tree.topLevelItemCount() > 1:  # a little air above every section but the first
            section.setSizeHint(0, QSize(0, self.tree.fontMetrics().height() + SECTION_GAP))
            section.setTextAlignment(0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        accounts = self._accounts_section(opener)
        pinned = [loc for loc in self.pinned if opener.owns(loc)] if accounts is not None else []
        if accounts is not None:
            accounts.add_filter_row(section)
            locations = [loc for loc in locations if loc not in pinned]
        names = {loc: opener.display_name(loc) for loc in [*pinned, *locations]}
        suffixes = distinguishing_suffixes([(loc, name) for loc, name in names.items() if loc != self.default])
        for location in [*pinned, *locations]:
            name = "Default" if location == self.default else names[location]
            if location in suffixes:
                name = f"{name}{SEPARATOR}{suffixes[location]}"
            if location in pinned:
                name = f"{PIN}{name}"
            item = QTreeWidgetItem(section, [name])
            item.setData(0, LOCATION_ROLE, location)
            item.setData(0, KIND_ROLE, opener.kind)
            item.setData(0, PINNED_ROLE, location in pinned)
            item.setToolTip(0, location)
            if location == self.current:
                item.setFont(0, _bold())
                item.setText(0, f"{name}  (open)")
        if accounts is not None:
            accounts.add_account_rows(section, set(pinned), self.current)
        for action in actions_for(opener.kind):
            item = QTreeWidgetItem(section, [action.label])
            item.setData(0, ACTION_ROLE, action.action_id)
            item.setData(0, KIND_ROLE, opener.kind)
            item.setToolTip(0, action.tooltip)
            item.setForeground(0, self.palette().link())
        note = later_note(opener.kind, opener.label)
        if note:
            text, tooltip = note
            item = QTreeWidgetItem(section, [text])
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            item.setToolTip(0, tooltip)
            italic = item.font(0)
            italic.setItalic(True)  # told apart from a greyed "(missing)" entry by more than its words
            item.setFont(0, italic)

    def _accounts_section(self, opener: WorkspaceOpener) -> AzureSection | None:
        """The accounts rows of a kind that signs in (made once per kind), else None."""
        if not isinstance(opener, SignsIn):
            return None
        if opener.kind not in self.accounts:
            try:
                directory = opener.account_directory()
            except Exception as exc:  # a broken kind shows its recent workspaces, not a broken window
                self.sig_failed.emit(exc, f"Listing the accounts of {opener.label}")
                return None
            section = AzureSection(directory, self.runner, self.tree, opener.kind)
            section.sig_open_workspace.connect(self.sig_open_workspace)
            section.sig_pin.connect(self.sig_pin)
            section.sig_failed.connect(self.sig_failed)
            section.sig_notice.connect(self.sig_notice)
            self.accounts[opener.kind] = section
        return self.accounts[opener.kind]

    def _accounts_of(self, item: QTreeWidgetItem, what: str) -> None:
        accounts = self.accounts.get(str(item.data(0, KIND_ROLE)))
        if accounts is not None and what == "expanded":
            accounts.expanded(item)
        elif accounts is not None:
            accounts.collapsed(item)

    # -- missing entries -----------------------------------------------------------------------

    def _check_missing(self, checks: list[tuple[WorkspaceOpener, str]]) -> None:
        self._generation += 1
        generation = self._generation
        if not checks:
            self.sig_missing_checked.emit([])
            return
        self.runner.submit(
            lambda: _missing_of(checks),
            success=lambda missing: self._mark_missing(generation, missing),
            failure=lambda _exc: None,  # not knowing is no error: the entries stay as they are
            owner=self,
        )

    def _mark_missing(self, generation: int, missing: list[str]) -> None:
        if generation != self._generation:
            return
        gone = set(missing)
        grey = self.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for item in self._entry_items():
            location = str(item.data(0, LOCATION_ROLE))
            if location in gone:
                item.setData(0, MISSING_ROLE, True)
                item.setText(0, f"{item.text(0)}  (missing)")
                item.setForeground(0, grey)
                item.setToolTip(0, f"{location}\nThe folder is gone (moved or deleted). Right-click to remove it.")
        self.sig_missing_checked.emit(sorted(gone))

    # -- queries (for the window and tests) ----------------------------------------------------

    def section_titles(self) -> list[str]:
        """The sections' titles, top to bottom."""
        return [section.text(0) for section in self._sections()]

    def section_rows(self, title: str) -> list[str]:
        """The texts of a section's rows (entries, actions, note), top to bottom."""
        for section in self._sections():
            if section.text(0) == title:
                return [row.text(0) for row in _children(section)]
        return []

    def entry_item(self, location: str) -> QTreeWidgetItem | None:
        """The row of a recent (or the default) workspace."""
        return next((i for i in self._entry_items() if i.data(0, LOCATION_ROLE) == location), None)

    def _sections(self) -> list[QTreeWidgetItem]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item for item in items if item is not None]

    def _entry_items(self) -> list[QTreeWidgetItem]:
        return [row for section in self._sections() for row in _children(section) if row.data(0, LOCATION_ROLE)]

    # -- user actions --------------------------------------------------------------------------

    def context_menu_for(self, item: QTreeWidgetItem | None) -> QMenu | None:
        """The context menu of a row: "Remove from list" for recent entries (not the default one), after
        "Forget password" for the servers of a kind whose passwords are kept; the accounts rows' own
        entries (Pin/Unpin, Refresh, Sign out) for a kind that signs in."""
        if item is None:
            return None
        location = item.data(0, LOCATION_ROLE)
        menu = QMenu(self.tree)
        menu.setObjectName("workspaceEntryMenu")
        accounts = self.accounts.get(str(item.data(0, KIND_ROLE)))
        if accounts is not None:
            accounts.add_menu_actions(item, str(location or ""), menu)
            if item.data(0, PINNED_ROLE):
                location = None  # a pinned row is not the recent entry: Unpin, not Remove from list
        if not location or location == self.default:
            if menu.isEmpty():
                menu.deleteLater()
                return None
            return menu
        if item.data(0, KIND_ROLE) in KEEPS_PASSWORDS:
            forget = menu.addAction("Forget password")
            forget.setObjectName("actionForgetPassword")
            forget.setToolTip("Delete the password or token Studio keeps for this server in the system keyring")
            forget.triggered.connect(lambda: self.sig_forget_password.emit(str(location)))
        remove = menu.addAction("Remove from list")
        remove.setObjectName("actionRemoveRecent")
        remove.triggered.connect(lambda: self.sig_remove_recent.emit(str(location)))
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu_for(self.tree.itemAt(pos))
        if menu is not None:
            menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        accounts = self.accounts.get(str(item.data(0, KIND_ROLE)))
        if item.data(0, ACTION_ROLE) or (accounts is not None and accounts.is_link(item)):
            self._activated(item)

    def _activated(self, item: QTreeWidgetItem) -> None:
        action, location = item.data(0, ACTION_ROLE), item.data(0, LOCATION_ROLE)
        accounts = self.accounts.get(str(item.data(0, KIND_ROLE)))
        if accounts is not None and (accounts.handle_action(str(action)) if action else accounts.activate(item)):
            return
        if action:
            self.sig_kind_action.emit(str(item.data(0, KIND_ROLE)), str(action))
        elif location and item.data(0, MISSING_ROLE):
            self.sig_missing_activated.emit(str(location))
        elif location:
            self.sig_open_workspace.emit(str(location))


def _missing_of(checks: list[tuple[WorkspaceOpener, str]]) -> list[str]:
    """The locations whose opener says they are gone (runs on a worker thread)."""
    missing = []
    for opener, location in checks:
        try:
            if opener.is_missing(location):
                missing.append(location)
        except Exception:  # one unreadable entry must not hide the answer for the others
            continue
    return missing


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    children = (item.child(i) for i in range(item.childCount()))
    return [child for child in children if child is not None]


def _bold() -> QFont:
    font = QFont()
    font.setBold(True)
    return font
