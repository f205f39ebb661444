"""Closing the window with billed instances that the user started from the studio still running.

"ci1 is still running and costs money. Stop it before closing?" — Stop / Leave running / Cancel, with
"Don't ask again" (which remembers the answer). Stop sends the stop requests on worker threads and waits
for the service to accept them, at most :data:`STOP_WAIT_S`, with the window still responsive.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from studio.core.backend import ComputeBackend
from studio.ui.background.tasks import TaskRunner
from studio.ui.shell.settings import WindowSettings

ASK_KEY = "compute/askStopOnClose"
"""False once the user ticked "Don't ask again"."""
ANSWER_KEY = "compute/stopOnCloseAnswer"
"""The answer given then ("stop" or "leave"), applied without asking."""
STOP_WAIT_S = 10.0
"""How long closing waits for the stop requests to be accepted."""


class CloseAnswer(StrEnum):
    """What to do with the running instances on closing."""

    STOP = "stop"
    LEAVE = "leave"
    CANCEL = "cancel"


def question_text(names: list[str]) -> str:
    """ "ci1 is still running and costs money. Stop it before closing?" (or them, for several)."""
    if len(names) == 1:
        return f"{names[0]} is still running and costs money. Stop it before closing?"
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{listed} are still running and cost money. Stop them before closing?"


def ask(parent: QWidget | None, names: list[str]) -> tuple[CloseAnswer, bool]:
    """The question as a message box: (the answer, "Don't ask again" ticked)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Compute still running", question_text(names), parent=parent)
    box.setObjectName("computeClosePrompt")
    stop = box.addButton("Stop", QMessageBox.ButtonRole.AcceptRole)
    leave = box.addButton("Leave running", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(stop)
    check = QCheckBox("Don't ask again")
    box.setCheckBox(check)
    box.exec()
    clicked = box.clickedButton()
    answer = CloseAnswer.STOP if clicked is stop else CloseAnswer.LEAVE if clicked is leave else CloseAnswer.CANCEL
    return answer, check.isChecked() and answer != CloseAnswer.CANCEL


def remembered_answer(settings: WindowSettings) -> CloseAnswer | None:
    """The answer to apply without asking, or None to ask."""
    if str(settings.q.value(ASK_KEY, "true")).lower() != "false":
        return None
    answer = str(settings.q.value(ANSWER_KEY, ""))
    return CloseAnswer(answer) if answer in (CloseAnswer.STOP, CloseAnswer.LEAVE) else None


def remember(settings: WindowSettings, answer: CloseAnswer) -> None:
    """Don't ask again: apply ``answer`` next time."""
    settings.q.setValue(ASK_KEY, False)
    settings.q.setValue(ANSWER_KEY, answer.value)
    settings.q.sync()


def wait_for(requests: list[Callable[[Callable[[], None]], None]], timeout_s: float = STOP_WAIT_S) -> bool:
    """Start each request (given a "done" callback) and run the event loop until all are done or the time is up.

    True if every request reported done in time.
    """
    if not requests:
        return True
    loop = QEventLoop()
    left = [len(requests)]

    def one_done() -> None:
        left[0] -= 1
        if left[0] <= 0:
            loop.quit()

    timer = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    timer.timeout.connect(loop.quit)
    timer.start()
    for request in requests:
        request(one_done)
    if left[0] > 0:
        loop.exec()
    timer.stop()
    return left[0] <= 0


def stop_all(runner: TaskRunner, backend: ComputeBackend, names: list[str]) -> dict[str, BaseException]:
    """Send ``stop_compute`` for each name on ``runner``'s workers and wait (bounded) for the answers.

    Returns the refusals by name; requests still unanswered at the time limit count as sent.
    """
    failures: dict[str, BaseException] = {}

    def request(name: str) -> Callable[[Callable[[], None]], None]:
        def send(done: Callable[[], None]) -> None:
            def failed(exc: BaseException) -> None:
                failures[name] = exc
                done()

            runner.submit(
                backend.stop_compute, name, success=lambda _info: done(), failure=failed, label=f"Stopping {name}"
            )

        return send

    wait_for([request(name) for name in names])
    return failures
