"""What the window remembers between starts (QSettings): geometry, docks, recent workspaces, selection."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 12
"""How many recent workspaces are remembered; the oldest is dropped first."""


class WindowSettings:
    """A thin, typed layer over QSettings (an INI file of the user's, or ``path`` in tests)."""

    def __init__(self, path: str | None = None) -> None:
        if path:
            self.q = QSettings(path, QSettings.Format.IniFormat)
        else:
            self.q = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "studio", "Studio")

    def geometry(self) -> QByteArray | None:
        """The saved window geometry."""
        value = self.q.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def state(self) -> QByteArray | None:
        """The saved dock and toolbar layout."""
        value = self.q.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        """Remember the window's geometry and layout."""
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    def recent_workspaces(self) -> list[str]:
        """Workspaces opened lately, newest first."""
        value = self.q.value("workspaces/recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_recent(self, location: str) -> list[str]:
        """Put a workspace at the head of the recent list (capped at MAX_RECENT); returns the list.

        ``location`` is any kind's location string, kept as given: a URI such as
        ``mlflow+http://host`` must not go through ``Path``, which would fold its "//".
        """
        location = location.strip()
        recent = [location, *(r for r in self.recent_workspaces() if r != location)][:MAX_RECENT]
        self.q.setValue("workspaces/recent", recent)
        return recent

    def remove_recent(self, location: str) -> list[str]:
        """Drop a workspace from the recent list ("Remove from list"); returns the list."""
        recent = [r for r in self.recent_workspaces() if r != location]
        self.q.setValue("workspaces/recent", recent)
        return recent

    def pinned_workspaces(self) -> list[str]:
        """Workspaces pinned in the Workspaces pane (kinds that sign in), in the order pinned."""
        value = self.q.value("workspaces/pinned", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def set_pinned(self, location: str, pinned: bool) -> list[str]:
        """Pin or unpin a workspace; returns the pinned list."""
        location = location.strip()
        kept = [p for p in self.pinned_workspaces() if p != location]
        self.q.setValue("workspaces/pinned", [*kept, location] if pinned else kept)
        return self.pinned_workspaces()

    def last_selection(self, location: str) -> tuple[str, str] | None:
        """(experiment, run id) selected last in a workspace."""
        value = self.q.value(f"selection/{_key(location)}")
        if isinstance(value, list) and len(value) == 2:
            return str(value[0]), str(value[1])
        return None

    def save_selection(self, location: str, experiment: str, run_id: str) -> None:
        """Remember the selected run of a workspace."""
        self.q.setValue(f"selection/{_key(location)}", [experiment, run_id])

    def runs_table_state(self, location: str, experiment: str) -> str:
        """The runs table's saved state of one experiment of a workspace ("" if none; see runs_table.table_state)."""
        value = self.q.value(f"runsTable/{_key(location)}-{_key(experiment)}", "")
        return value if isinstance(value, str) else ""

    def save_runs_table_state(self, location: str, experiment: str, state: str) -> None:
        """Remember the runs table's state (a JSON text) of one experiment of a workspace."""
        self.q.setValue(f"runsTable/{_key(location)}-{_key(experiment)}", state)

    def sync(self) -> None:
        """Write to disk now."""
        self.q.sync()


def _key(location: str) -> str:
    import hashlib

    return hashlib.sha1(location.encode()).hexdigest()[:16]
