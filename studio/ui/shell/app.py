"""Starting the desktop studio: the QApplication, the theme, one window per workspace."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio import __version__
from studio.core.errors import StudioError
from studio.core.opener import WorkspaceOpener
from studio.ui.shell.first_paint import FirstPaintLog
from studio.ui.shell.link_events import LinkEvents
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.open_request import HandOverFollower, hand_over_message, show_experiment_when_opened
from studio.ui.shell.quit_signals import QuitOnSignals
from studio.ui.shell.resources import app_icon
from studio.ui.shell.settings import WindowSettings
from studio.ui.shell.single_instance import InstanceServer, send_to_running_instance
from studio.ui.shell.slot_errors import SlotErrorHook
from studio.ui.shell.theme import apply_theme

log = logging.getLogger(__name__)


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists), named and themed."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Studio")
    app.setApplicationDisplayName("Studio")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("studio")
    app.setDesktopFileName("studio")
    app.setWindowIcon(app_icon())
    apply_theme(app)
    return app


def run_gui(
    kinds: Sequence[WorkspaceOpener],
    location: str,
    open_run: str | None = None,
    create: bool = True,
    open_experiment: str | None = None,
) -> int:
    """Show the window on ``location`` (a second studio on it hands over and exits); returns the exit code.

    ``kinds`` are the workspace kinds' openers (``studio.workspaces.kinds()``), handed in so that
    the GUI imports no kind. ``create`` False (a link, a run to open) shows a missing workspace as missing
    instead of making an empty one there. ``open_experiment`` (a link to an experiment) shows its runs table.
    """
    app = create_app()
    server: InstanceServer | None = None
    try:
        server = InstanceServer(location)
    except StudioError as exc:  # a socket folder others can read: run without the hand-over
        print(f"studio: warning: {exc}", file=sys.stderr)
    if server is not None and not server.listen():
        message = hand_over_message(open_run, open_experiment)
        if send_to_running_instance(location, message):
            return 0
        server = None  # it did not answer in time: open a window of our own
    window = MainWindow(kinds, WindowSettings())
    hand_overs = HandOverFollower(window, server, location)
    hook = SlotErrorHook(app)  # an exception in a slot: logged, and said by the window's notifier
    hook.install()
    quitting = QuitOnSignals(window.close, app)  # SIGTERM / SIGINT / SIGHUP close the window as its button does
    quitting.install()
    window.sig_workspace_opened.connect(lambda opened: log.info("Opened the workspace %s", opened))
    FirstPaintLog(window)
    links = LinkEvents(window)  # macOS hands a clicked studio:// link to the running app as an event
    app.installEventFilter(links)
    log.info("Studio %s started on %s", __version__, location)
    if open_experiment:
        show_experiment_when_opened(window, location, open_experiment)
    window.show()
    QTimer.singleShot(0, lambda: window.open_workspace(location, create=create, open_run=open_run))
    try:
        code = app.exec()
    finally:
        app.removeEventFilter(links)
        quitting.uninstall()
        hook.uninstall()
    log.info("Studio window closed (exit code %s)", code)
    hand_overs.close()
    return int(code)
