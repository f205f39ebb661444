"""An exception nobody caught in a slot: a sentence in the status bar, details with "Copy details", the log file.

pytest-qt replaces ``sys.excepthook`` during a test to fail it on such exceptions; these tests turn that off
(``qt_no_exception_capture``) so that the studio's own hook is the one PySide6 calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from studio import __version__
from studio.core import app_log
from studio.ui.shell import log_folder
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.ui.shell.slot_errors import SlotErrorHook
from studio.workspaces.local.opener import LocalWorkspaceOpener

SECRET = "Zx8Q~s3cr3t.v4lue"


@pytest.fixture
def window(qtbot: Any, tmp_path: Path) -> Iterator[MainWindow]:
    shown = MainWindow([LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    shown.close()


@pytest.fixture
def hook(window: MainWindow) -> Iterator[SlotErrorHook]:
    installed = SlotErrorHook()
    installed.install()
    yield installed
    installed.uninstall()


def broken_slot() -> None:
    """A slot with a bug, whose message carries a secret (as an HTTP error's text may)."""
    raise ZeroDivisionError(f"division by zero while posting client_secret={SECRET}")


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_said_logged_and_copyable(
    qtbot: Any, window: MainWindow, hook: SlotErrorHook, tmp_path: Path
) -> None:
    log = app_log.start(__version__, tmp_path / "logs")
    assert log is not None
    try:
        with qtbot.waitSignal(window.notifier.sig_notified, timeout=5000) as shown:
            QTimer.singleShot(0, broken_slot)
        assert shown.args[0].startswith("A bug in the studio (Details… to report it): ")
        assert "ZeroDivisionError" in window.statusBar().currentMessage()

        details = window.findChild(QPushButton, "errorDetailsButton")
        assert details is not None and details.isVisible()
        details.click()
        box = window.findChild(QMessageBox, "errorDetails")
        assert box is not None
        qtbot.waitUntil(box.isVisible)
        assert "Traceback (most recent call last)" in box.detailedText()
        assert "in broken_slot" in box.detailedText()
        assert SECRET not in box.detailedText()

        copy = box.findChild(QPushButton, "copyDetails")
        assert copy is not None
        copy.click()
        copied = QApplication.clipboard().text()
        assert f"Studio {__version__}, Python " in copied
        assert "in broken_slot" in copied and "ZeroDivisionError" in copied
        assert SECRET not in copied
        assert box.isVisible()  # copying leaves the details open
        box.close()

        assert log.handler is not None
        log.handler.flush()
        text = log.log_file.read_text(encoding="utf-8")
        assert "ERROR studio.ui.shell.slot_errors: Uncaught exception in the window" in text
        assert "in broken_slot" in text
        assert SECRET not in text
    finally:
        log.close()


def test_the_hook_before_comes_back() -> None:
    before = sys.excepthook
    hook = SlotErrorHook()
    hook.install()
    assert sys.excepthook is hook
    hook.uninstall()
    assert sys.excepthook is before


@pytest.mark.parametrize("opens", [True, False])
def test_help_opens_the_log_folder_or_says_where_it_is(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch, opens: bool
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(log_folder, "open_url", lambda url: asked.append(url.toLocalFile()) or opens)
    folder = Path(os.environ["XDG_STATE_HOME"]) / "studio" / "log"
    action = next(a for a in window.findChildren(type(window.act_quit)) if a.objectName() == "actionOpenLogFolder")
    action.trigger()
    assert folder.is_dir()  # made if missing: a file manager cannot open what does not exist
    if opens:
        assert [Path(p) for p in asked] == [folder]
    else:
        assert str(folder) in window.statusBar().currentMessage()


WINDOW_RUN = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from studio import cli
from studio.ui.shell import app as studio_app
from studio.ui.shell.main_window import MainWindow

studio_app.create_app()
state = {"step": "open"}

def broken_slot():
    raise KeyError("a bug in a slot")

def step():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if state["step"] == "open" and windows and windows[0].location:
        state["step"] = "raise"
        QTimer.singleShot(0, broken_slot)
    elif state["step"] == "raise" and "a bug in a slot" in windows[0].statusBar().currentMessage():
        state["step"] = "close"
        windows[0].close()
        return
    QTimer.singleShot(20, step)

QTimer.singleShot(0, step)
QTimer.singleShot(30000, lambda: QApplication.instance().quit())
code = cli.main(["--workspace", sys.argv[1]])
print(json.dumps({"code": code, "step": state["step"], "hook_restored": sys.excepthook is sys.__excepthook__}))
"""


def run_window(tmp_path: Path, state: Path) -> subprocess.CompletedProcess[str]:
    """``studio --workspace <tmp>/ws`` in its own process (the start-up sets up the log and faulthandler for the
    whole process), driven by WINDOW_RUN: open, a slot raises, its sentence is shown, close."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_STATE_HOME": str(state)}
    done = subprocess.run(
        [sys.executable, "-c", WINDOW_RUN, str(tmp_path / "ws")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"code": 0, "step": "close", "hook_restored": True}
    return done


def test_the_window_logs_its_start_a_slots_exception_and_its_close(tmp_path: Path) -> None:
    run_window(tmp_path, tmp_path / "state")
    folder = tmp_path / "state" / "studio" / "log"
    text = (folder / "studio.log").read_text(encoding="utf-8")
    assert f"Studio {__version__} started on {tmp_path / 'ws'}" in text
    assert "Uncaught exception in the window" in text and "KeyError: 'a bug in a slot'" in text
    assert "Studio window closed" in text
    assert f"Studio {__version__} started" in (folder / "crash.log").read_text(encoding="utf-8")


def test_a_log_folder_that_cannot_be_made_costs_one_warning_not_the_window(tmp_path: Path) -> None:
    blocked = tmp_path / "state"
    blocked.write_text("a file where the state folder should be")
    done = run_window(tmp_path, blocked)
    warnings = [ln for ln in done.stderr.splitlines() if ln.startswith("studio: warning: no log file")]
    assert len(warnings) == 1 and str(blocked / "studio" / "log") in warnings[0]
