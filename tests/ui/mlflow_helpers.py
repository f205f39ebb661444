"""Helpers of the window tests against the shared MLflow server: a guarded window, quick retries, screenshots."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.workspaces import kinds
from studio.workspaces.mlflow.rest import transport
from studio.workspaces.mlflow.rest.retry import RetryPolicy
from studio.workspaces.mlflow.rest.transport import Timeouts
from tests.ui_helpers import GuardedOpener

SHOTS_ENV = "STUDIO_SHOTS"
"""A folder to save the failure states' screenshots in (unset: none are taken)."""


def quick_client(monkeypatch: pytest.MonkeyPatch, read_s: float | None = None) -> None:
    """Clients the opener makes from now on retry once, 20 ms later (a failure is said in a moment, not after
    the default backoff); with ``read_s`` they also give up on an answer after that long (a hang)."""
    monkeypatch.setattr(
        transport, "RetryPolicy", lambda: RetryPolicy(attempts=2, backoff_s=0.02, backoff_max_s=0.05, deadline_s=30)
    )
    if read_s is not None:
        monkeypatch.setattr(transport, "Timeouts", lambda: Timeouts(connect_s=5.0, read_s=read_s))


def mlflow_window(qtbot: QtBot, tmp_path: Path) -> tuple[MainWindow, GuardedOpener]:
    """The real window with the real MLflow opener, guarded (no backend call on the GUI thread), shown."""
    opener = GuardedOpener(next(o for o in kinds() if o.kind == "mlflow"))
    window = MainWindow([opener], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window, opener


def open_server(qtbot: QtBot, window: MainWindow, location: str) -> None:
    """Open a server and wait until it is the window's workspace."""
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=30_000):
        window.open_workspace(location)


def closed_port() -> int:
    """A loopback port nothing listens on (a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shot(widget: QWidget, name: str) -> None:
    """Save a screenshot of ``widget`` as ``$STUDIO_SHOTS/<name>.png`` when that variable is set."""
    folder = os.environ.get(SHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(folder) / f"{name}.png"))
