"""What every tab of a run page is: built cheaply, loaded when first shown, told when the run changes."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo
from studio.ui.background.tasks import TaskRunner


class RunTab(QWidget):
    """Base class of a run page's tabs.

    Subclasses set ``title``, build their widgets in ``__init__`` without calling the
    backend, load their data in ``load()`` (called the first time the tab is shown, on
    the GUI thread: it must only start background work through ``self.runner``), and
    update in ``run_changed`` (live refresh; only called once loaded).
    """

    title = "Tab"
    sig_open_run = Signal(str)
    """Ask the window to open this run id (e.g. a child run)."""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self.runner = runner
        self.run_id = run_id
        self.loaded = False

    def ensure_loaded(self) -> None:
        """Load once, when first shown."""
        if not self.loaded:
            self.loaded = True
            self.load()

    def load(self) -> None:
        """Start fetching what the tab shows (background tasks only)."""

    def run_known(self, run: RunInfo) -> None:
        """The run as the Overview loaded it, told to every tab (loaded or not) before ``run_changed``."""

    def run_changed(self, run: RunInfo) -> None:
        """The run changed (status, new metric points, new files): refresh what is shown."""
