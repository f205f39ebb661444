"""A studio:// link delivered as a file-open event (how macOS hands a clicked link to a running .app) opens like
`studio <link>`: in the workspace shown, or by opening its workspace; a malformed one is said; other files pass."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from studio.core.studio_links import experiment_link, run_link
from studio.ui.shell.link_events import LinkEvents
from studio.ui.shell.single_instance import open_run_message, raise_message


class Notes:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, exc: BaseException, tb: str = "", context: str = "") -> None:
        self.errors.append(f"{context}: {exc}")


class FakeWindow(QWidget):
    """What LinkEvents uses of the main window."""

    sig_workspace_opened = Signal(str)

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location
        self.notifier = Notes()
        self.messages: list[dict[str, Any]] = []
        self.opened: list[tuple[str, bool, str | None]] = []
        self.tables: list[str] = []

    def handle_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def open_workspace(self, location: str, create: bool = False, open_run: str | None = None) -> None:
        self.opened.append((location, create, open_run))

    def open_runs_table(self, experiment: str) -> None:
        self.tables.append(experiment)


def deliver(window: FakeWindow, url: str) -> bool:
    """Send a file-open event through the application, as Qt does for the system's; whether it was taken."""
    app = QApplication.instance()
    events = LinkEvents(window)  # type: ignore[arg-type]
    app.installEventFilter(events)
    try:
        event = QFileOpenEvent(QUrl(url))
        QApplication.sendEvent(app, event)
        return events.eventFilter(app, QFileOpenEvent(QUrl("file:///tmp/notes.txt")))
    finally:
        app.removeEventFilter(events)


def test_a_run_of_the_workspace_shown_opens_in_the_window(qtbot: QtBot) -> None:
    window = FakeWindow("/home/me/ws")
    qtbot.addWidget(window)
    assert deliver(window, run_link("/home/me/ws", "e_1700000000_abc123")) is False  # the plain file passed on
    assert window.messages == [open_run_message("e_1700000000_abc123")] and window.opened == []


def test_a_link_to_another_workspace_opens_it_and_never_creates_it(qtbot: QtBot) -> None:
    window = FakeWindow("/home/me/ws")
    qtbot.addWidget(window)
    deliver(window, run_link("/home/me/other ws", "e_1700000000_abc123"))
    assert window.opened == [("/home/me/other ws", False, "e_1700000000_abc123")]
    deliver(window, experiment_link("/home/me/third", "mnist"))
    assert window.opened[-1] == ("/home/me/third", False, None)
    window.sig_workspace_opened.emit("/home/me/third")
    assert window.tables == ["mnist"]  # its runs table, once the workspace is open
    assert window.messages == [raise_message(), raise_message()]


def test_a_malformed_link_is_said_in_the_status_bar(qtbot: QtBot) -> None:
    window = FakeWindow("/home/me/ws")
    qtbot.addWidget(window)
    deliver(window, "studio://run/?workspace=/home/me/ws")
    assert window.notifier.errors and window.notifier.errors[0].startswith("Opening a studio:// link: The link")
    assert window.opened == [] and window.messages == []
