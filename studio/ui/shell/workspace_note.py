"""The window's marks of a workspace answered from an offline cache (the Azure kind's), and what follows them.

A permanent label in the status bar says where what shows comes from: "Cached 12:03 — refreshing…" while a listing
painted from the cache is fetched again, "Offline: showing the cache of 12:03. <why>" in the warning colour while the
service cannot be reached; it hides when the workspace says nothing (every other kind, or once refreshed). When a
cached listing was refreshed (or the network came back), the Experiments pane lists again if its experiment list
changed, and the runs tables that still show a cached page ask again. Nothing here knows a kind: it reads
``LiveRefresh``'s ``WorkspaceState``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from studio.core.errors import AuthenticationError
from studio.ui.background.live_refresh import WorkspaceState
from studio.ui.experiments.experiment_tree import ExperimentTreePane
from studio.ui.runs.run_detail import RunDetailArea

WARNING_COLOURS = ("#a65e00", "#e0b040")
"""The warning colour on a light and on a dark window (the log highlighter's)."""
MAX_WIDTH = 460
"""The label is elided to this width; the whole note is its tooltip."""
CACHED_PAGE_MARKS = ("Cached ", "Offline: cached ")
"""How a cached kind starts the note of a page it answered from its cache (``RunPage.note``)."""


def is_cached_page_note(note: str) -> bool:
    """Whether a runs table's page note says the page came from an offline cache."""
    return note.startswith(CACHED_PAGE_MARKS)


class WorkspaceNote(QLabel):
    """The status bar's note on the open workspace (objectName ``workspaceNote``), hidden when it has none."""

    sig_refresh_refused = Signal(object)
    """Refreshing what was painted from the cache was refused for the sign-in (the AuthenticationError): the window
    offers "Sign in…"."""

    def __init__(self, experiments: ExperimentTreePane, run_detail: RunDetailArea, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("workspaceNote")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a service's sentence is not markup
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self._experiments, self._run_detail = experiments, run_detail
        self._full = ""
        self._refused: BaseException | None = None  # said once the experiment list shows (a list clears failures)
        experiments.model.sig_loaded.connect(self._experiments_listed)
        self.hide()

    def full_text(self) -> str:
        """The note as the workspace said it (the label may be elided)."""
        return self._full

    def state_changed(self, old: WorkspaceState, new: WorkspaceState) -> None:
        """Show the new note, and list again what was painted from the cache once it was refreshed."""
        self._show(new)
        back_online = old.offline and not new.offline
        if new.experiments_version != old.experiments_version or back_online:
            self._experiments.model.reload()
        if new.listings_version != old.listings_version or back_online:
            for table in self._run_detail.runs_tables():
                if is_cached_page_note(table.model.note):
                    table.refresh()
        error = new.refresh_error
        if new == old:  # another workspace: nothing of the old one is said any more
            self._refused = None
        elif isinstance(error, AuthenticationError) and error is not old.refresh_error:
            if self._experiments.model.rowCount() > 0:
                self.sig_refresh_refused.emit(error)
            else:  # the experiments painted from the cache are on their way: listing them would clear the banner
                self._refused = error

    def _experiments_listed(self) -> None:
        refused, self._refused = self._refused, None
        if refused is not None:
            self.sig_refresh_refused.emit(refused)

    def _show(self, state: WorkspaceState) -> None:
        self._full = state.note
        self.setToolTip(state.note)
        self.setText(self.fontMetrics().elidedText(state.note, Qt.TextElideMode.ElideRight, MAX_WIDTH))
        if state.offline or state.refresh_error is not None:  # "Offline: …", "Cached … — could not refresh: …"
            dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
            self.setStyleSheet(f"color: {WARNING_COLOURS[dark]}")
        else:
            self.setStyleSheet("")
            self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.setVisible(bool(state.note))
