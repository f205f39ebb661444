"""``studio://`` links the system hands to a running studio as an event rather than a command line: macOS sends a
clicked link to the ``.app`` as an Apple event, which Qt delivers to the application as a ``QFileOpenEvent``.

The link opens as ``studio 'studio://…'`` would: a run or an experiment of the workspace the window shows is shown
there; a link to another workspace opens that workspace in the window (never creating it), then its run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent

from studio.core.studio_links import is_studio_link, parse_link
from studio.ui.shell.open_request import hand_over_message, show_experiment, show_experiment_when_opened
from studio.ui.shell.single_instance import raise_message

if TYPE_CHECKING:
    from studio.ui.shell.main_window import MainWindow

log = logging.getLogger(__name__)


class LinkEvents(QObject):
    """An application event filter: ``QFileOpenEvent`` carrying a studio link opens it in ``window``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Takes the studio links of file-open events; lets every other event through."""
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return False
        text = event.url().toString() or event.file()
        if not is_studio_link(text):
            return False
        self.open(text)
        return True

    def open(self, text: str) -> None:
        """Show what the link names; a malformed link is said in the status bar."""
        window = self._window
        try:
            link = parse_link(text)
        except ValueError as exc:
            window.notifier.error(exc, context="Opening a studio:// link")
            return
        log.info("Opening the link %s", text)
        if link.workspace != window.location:
            if link.experiment:
                show_experiment_when_opened(window, link.workspace, link.experiment)
            window.open_workspace(link.workspace, create=False, open_run=link.run_id)
            window.handle_message(raise_message())
            return
        message = hand_over_message(link.run_id, link.experiment)  # as a second `studio <link>` would send it
        window.handle_message(message)
        show_experiment(window, message)
