"""The workspace pane: local workspaces (default, recent), New…, Open folder…, and room for Azure."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDockWidget, QTreeWidget, QTreeWidgetItem, QWidget

LOCATION_ROLE = Qt.ItemDataRole.UserRole + 1
ACTION_ROLE = Qt.ItemDataRole.UserRole + 2


class WorkspacePane(QDockWidget):
    """Lists workspaces; activating one asks the window to switch to it."""

    sig_open_workspace = Signal(str)
    """Open the workspace at this location."""
    sig_new_workspace = Signal()
    """The user chose "New workspace…"."""
    sig_open_folder = Signal()
    """The user chose "Open folder…"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Workspaces", parent)
        self.setObjectName("workspacePane")
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("workspaceList")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._clicked)
        self.setWidget(self.tree)
        self.current = ""
        self.default = ""
        self.recent: list[str] = []

    def set_workspaces(self, default: str, recent: list[str], current: str) -> None:
        """Rebuild the list: the default workspace, then recent ones, then the actions."""
        self.default, self.recent, self.current = default, recent, current
        self.tree.clear()
        local = QTreeWidgetItem(self.tree, ["Local workspaces"])
        local.setFlags(Qt.ItemFlag.ItemIsEnabled)
        bold = QFont()
        bold.setBold(True)
        local.setFont(0, bold)
        seen = set()
        for location in [default, *recent]:
            key = str(Path(location))
            if key in seen:
                continue
            seen.add(key)
            name = "Default" if key == str(Path(default)) else Path(key).name or key
            item = QTreeWidgetItem(local, [name])
            item.setData(0, LOCATION_ROLE, key)
            item.setToolTip(0, key)
            if key == str(Path(current)):
                font = QFont()
                font.setBold(True)
                item.setFont(0, font)
                item.setText(0, f"{name}  (open)")
        for label, action in (("New workspace…", "new"), ("Open folder…", "open")):
            item = QTreeWidgetItem(local, [label])
            item.setData(0, ACTION_ROLE, action)
            item.setForeground(0, self.palette().link())
        azure = QTreeWidgetItem(self.tree, ["Azure Machine Learning"])
        azure.setFlags(Qt.ItemFlag.ItemIsEnabled)
        azure.setFont(0, bold)
        note = QTreeWidgetItem(azure, ["Not available in this version"])
        note.setFlags(Qt.ItemFlag.NoItemFlags)
        note.setToolTip(0, "Azure ML workspaces will be listed here once you sign in (a later version).")
        self.tree.expandAll()

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.data(0, ACTION_ROLE):
            self._activated(item)

    def _activated(self, item: QTreeWidgetItem) -> None:
        action = item.data(0, ACTION_ROLE)
        if action == "new":
            self.sig_new_workspace.emit()
        elif action == "open":
            self.sig_open_folder.emit()
        elif item.data(0, LOCATION_ROLE):
            self.sig_open_workspace.emit(str(item.data(0, LOCATION_ROLE)))
