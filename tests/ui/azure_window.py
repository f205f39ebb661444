"""The real window on the real Azure opener (guarded: no backend call on the GUI thread), the emulator's workspace
open; closed afterwards with its workspace, as the Azure GUI tests use it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytestqt.qtbot import QtBot
from shiboken6 import isValid

from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.workspaces import kinds
from tests.ui_helpers import GuardedOpener


@contextmanager
def azure_window(location: str, qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[MainWindow, GuardedOpener]]:
    """(the window, its guarded opener), the workspace at ``location`` open; at the end the window is closed,
    its workspace's closing thread joined, and no backend call was made on the GUI thread."""
    opener = GuardedOpener(next(o for o in kinds() if o.kind == "azure"))
    win = MainWindow([opener], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(win)
    win.resize(1280, 860)
    win.show()
    with qtbot.waitSignal(win.sig_workspace_opened, timeout=60_000):
        win.open_workspace(location)
    yield win, opener
    close_window(win)
    gc.collect()  # MLClient's reference cycles hold pooled connections (and the emulator's threads)
    assert opener.violations == []


def close_window(win: MainWindow) -> None:
    """Close the window (if pytest-qt has not) and wait for its workspace to close, on its own thread."""
    if isValid(win):  # pytest-qt closes (and deletes) the widgets it was given before fixtures tear down
        win.close()
    for thread in threading.enumerate():
        if thread.name == "studio-close-workspace":
            thread.join(timeout=10)
