"""SIGTERM / SIGINT / SIGHUP close the window as its close button does (log-out, `kill`, Ctrl+C), and the
handlers before it come back afterwards."""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.ui.shell.quit_signals import QuitOnSignals
from tests.waiting import wait_until


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_closes_the_window_and_the_old_handler_returns(qtbot: QtBot, number: int) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    before = signal.getsignal(number)
    quitting = QuitOnSignals(window.close)
    quitting.install()
    try:
        os.kill(os.getpid(), number)
        wait_until(lambda: not window.isVisible(), "the window closed", qtbot=qtbot, timeout=10)
        assert quitting.received == [number]
    finally:
        quitting.uninstall()
    assert signal.getsignal(number) == before


def test_a_window_that_refuses_to_close_stays_and_the_process_goes_on(qtbot: QtBot) -> None:
    asked: list[bool] = []
    quitting = QuitOnSignals(lambda: asked.append(True))  # e.g. the compute prompt answered Cancel
    quitting.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: asked, "the close asked", qtbot=qtbot, timeout=10)
    finally:
        quitting.uninstall()
