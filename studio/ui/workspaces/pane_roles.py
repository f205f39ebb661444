"""The item data roles of the Workspaces pane's rows, shared by the pane and the accounts rows it hosts."""

from __future__ import annotations

from PySide6.QtCore import Qt

LOCATION_ROLE = Qt.ItemDataRole.UserRole + 1
"""A recent, default or pinned workspace's location."""
ACTION_ROLE = Qt.ItemDataRole.UserRole + 2
"""An action row's action id (kind_actions.py)."""
KIND_ROLE = Qt.ItemDataRole.UserRole + 3
"""The kind of the section a row is in."""
MISSING_ROLE = Qt.ItemDataRole.UserRole + 4
"""True on a recent workspace known to be gone."""
PINNED_ROLE = Qt.ItemDataRole.UserRole + 5
"""True on a pinned workspace's row (it offers Unpin, not Remove from list)."""
