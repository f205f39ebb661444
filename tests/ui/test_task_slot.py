"""TaskSlot: one call in flight, requests made meanwhile run after it ("again") or replace it
("latest"), stale answers are dropped, and failures follow one policy. Also submit(fn, *args)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot
from shiboken6 import delete

from studio.core.errors import CancelledError
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner, TaskState
from tests.ui_helpers import collector_off
from tests.waiting import wait_until


class Gate:
    """A backend call that blocks until the test lets it return: ``call(value)`` answers ``value``."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self._release: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()

    def call(self, value: Any) -> Any:
        with self._lock:
            event = self._release.setdefault(value, threading.Event())
            self.started.append(value)
        if not event.wait(10):
            raise TimeoutError(f"{value!r} was never released")
        if isinstance(value, BaseException):
            raise value
        return value

    def release(self, value: Any) -> None:
        with self._lock:
            self._release.setdefault(value, threading.Event()).set()


class Answers:
    """What the slot called back, in order."""

    def __init__(self) -> None:
        self.got: list[Any] = []

    def success(self, value: Any) -> None:
        self.got.append(value)

    def failure(self, exc: BaseException) -> None:
        self.got.append(("failed", str(exc)))


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.shutdown()


def _settle(qtbot: QtBot, runner: TaskRunner) -> None:
    """Wait until every answer of the calls run so far has been delivered (or dropped)."""
    wait_until(lambda: runner.pool.activeThreadCount() == 0, "the pool idle", qtbot=qtbot)
    flushed: list[object] = []
    runner.submit(object, success=flushed.append)  # its answer queues behind theirs
    wait_until(lambda: flushed, "the flush", qtbot=qtbot)


def _slot(runner: TaskRunner, answers: Answers, **options: Any) -> TaskSlot:
    return TaskSlot(runner, success=answers.success, failure=answers.failure, **options)


def test_requests_made_meanwhile_run_once_more_after_the_call_in_flight(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot = _slot(runner, answers, when_busy="again")
    slot.request(gate.call, "first")
    wait_until(lambda: gate.started == ["first"], "the first call started", qtbot=qtbot)
    slot.request(gate.call, "second")
    slot.request(gate.call, "third")
    assert slot.busy and slot.waiting and gate.started == ["first"]  # one call in flight
    gate.release("first")
    wait_until(
        lambda: gate.started == ["first", "third"], "one more call, with the last arguments", qtbot=qtbot
    )  # once more, with the last arguments
    assert answers.got == ["first"]  # the answer in flight was still shown
    gate.release("third")
    wait_until(lambda: not slot.busy, "the slot idle", qtbot=qtbot)
    assert answers.got == ["first", "third"]
    assert gate.started == ["first", "third"]


def test_latest_drops_the_answer_of_a_superseded_request(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot = _slot(runner, answers, when_busy="latest")
    slot.request(gate.call, "a.txt")
    wait_until(lambda: gate.started == ["a.txt"], "a.txt's read started", qtbot=qtbot)
    slot.request(gate.call, "b.txt")
    slot.request(gate.call, "c.txt")
    gate.release("a.txt")
    wait_until(lambda: gate.started == ["a.txt", "c.txt"], "c.txt's read started after a.txt's", qtbot=qtbot)
    gate.release("c.txt")
    wait_until(lambda: not slot.busy, "the slot idle", qtbot=qtbot)
    assert answers.got == ["c.txt"]  # only what was chosen last is shown


def test_an_idle_slot_starts_at_once_and_delivers_every_answer(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot = _slot(runner, answers, when_busy="latest")
    for value in ("one", "two"):
        gate.release(value)
        slot.request(gate.call, value)
        wait_until(lambda value=value: answers.got[-1:] == [value], "the answer for the latest value", qtbot=qtbot)
    assert answers.got == ["one", "two"]


def test_reset_drops_stale_answers_and_the_next_request_starts_at_once(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot = _slot(runner, answers)
    slot.request(gate.call, "old workspace")
    wait_until(lambda: gate.started == ["old workspace"], "the old workspace's call started", qtbot=qtbot)
    slot.request(gate.call, "old workspace, again")
    slot.reset()  # the backend changed
    assert not slot.busy and not slot.waiting
    slot.request(gate.call, "new workspace")
    wait_until(
        lambda: gate.started == ["old workspace", "new workspace"], "the new workspace's call started", qtbot=qtbot
    )  # not behind the stale call
    gate.release("new workspace")
    wait_until(lambda: answers.got == ["new workspace"], "only the new workspace's answer", qtbot=qtbot)
    gate.release("old workspace")
    gate.release("old workspace, again")
    _settle(qtbot, runner)
    assert not slot.busy
    assert answers.got == ["new workspace"]
    assert "old workspace, again" not in gate.started


def test_a_failure_is_reported_and_the_request_made_after_it_still_runs(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot = _slot(runner, answers)
    broken = OSError("disk busy")
    slot.request(gate.call, broken)
    wait_until(lambda: len(gate.started) == 1, "one call started", qtbot=qtbot)
    slot.request(gate.call, "retry")
    gate.release(broken)
    gate.release("retry")
    wait_until(lambda: len(answers.got) == 2, "two answers", qtbot=qtbot)
    assert answers.got == [("failed", "disk busy"), "retry"]


def test_a_failure_without_handler_goes_to_the_notifier(qtbot: QtBot, runner: TaskRunner) -> None:
    gate = Gate()
    slot = TaskSlot(runner, label="Listing things")
    broken = ValueError("no such run")
    gate.release(broken)
    with qtbot.waitSignal(runner.sig_unhandled_failure) as blocker:
        slot.request(gate.call, broken)
    exc, text, label = blocker.args
    assert exc is broken and "no such run" in text and label == "Listing things"


def test_a_cancelled_call_reports_nothing_and_the_waiting_request_runs(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot = _slot(runner, answers)
    cancelled = CancelledError("stopped")
    slot.request(gate.call, cancelled)
    wait_until(lambda: len(gate.started) == 1, "one call started", qtbot=qtbot)
    slot.request(gate.call, "next")
    gate.release(cancelled)
    gate.release("next")
    wait_until(lambda: answers.got == ["next"], "the next call's answer", qtbot=qtbot)


def test_the_callback_runs_before_the_waiting_request_starts(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, seen = Gate(), []
    slot: TaskSlot

    def arrived(value: str) -> None:
        seen.append((value, slot.busy, slot.waiting, list(gate.started)))

    slot = TaskSlot(runner, success=arrived)
    slot.request(gate.call, "first")
    wait_until(lambda: gate.started == ["first"], "the first call started", qtbot=qtbot)
    slot.request(gate.call, "second")
    gate.release("first")
    gate.release("second")
    wait_until(lambda: len(seen) == 2, "two results seen", qtbot=qtbot)
    assert seen[0] == ("first", False, True, ["first"])  # the waiting one sees what the callback changed
    assert seen[1] == ("second", False, False, ["first", "second"])


def test_a_request_made_in_the_callback_replaces_the_waiting_one(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    slot: TaskSlot

    def arrived(value: str) -> None:
        answers.success(value)
        if value == "first":
            slot.request(gate.call, "from the callback")

    slot = TaskSlot(runner, success=arrived)
    slot.request(gate.call, "first")
    wait_until(lambda: gate.started == ["first"], "the first call started", qtbot=qtbot)
    slot.request(gate.call, "waiting")
    for value in ("first", "waiting", "from the callback"):
        gate.release(value)
    wait_until(
        lambda: answers.got == ["first", "from the callback"], "the call asked from the callback answered", qtbot=qtbot
    )
    assert gate.started == ["first", "from the callback"]


def test_nothing_is_called_back_or_started_once_the_owner_is_gone(qtbot: QtBot, runner: TaskRunner) -> None:
    gate, answers = Gate(), Answers()
    owner = QObject()
    slot = _slot(runner, answers, owner=owner)
    slot.request(gate.call, "first")
    wait_until(lambda: gate.started == ["first"], "the first call started", qtbot=qtbot)
    slot.request(gate.call, "second")
    delete(owner)
    gate.release("first")
    _settle(qtbot, runner)
    assert answers.got == [] and gate.started == ["first"]


class _Owner(QObject):
    """A widget-like owner that keeps its slot, with its own methods as the callbacks."""

    def __init__(self, runner: TaskRunner, answers: Answers) -> None:
        super().__init__()
        self.answers = answers
        self.slot = TaskSlot(runner, success=self.arrived, failure=self.arrived, owner=self)

    def arrived(self, value: Any) -> None:
        self.answers.got.append(value)


def test_a_slot_does_not_keep_its_owner_alive(qtbot: QtBot, runner: TaskRunner) -> None:
    # Its owner keeps the slot: a slot holding the owner back would make a cycle, and a widget in
    # one is freed by the garbage collector whenever it runs, even while Qt paints that widget.
    answers = Answers()
    owner = _Owner(runner, answers)
    owner.slot.request(lambda: "answer")
    wait_until(lambda: answers.got == ["answer"], "the owner's callback called", qtbot=qtbot)
    gone = weakref.ref(owner)
    with collector_off():
        del owner
        # (At once, or once the runner let go of the finished task.)
        wait_until(lambda: gone() is None, "the owner freed without the garbage collector", qtbot=qtbot)


def test_when_busy_must_be_again_or_latest(runner: TaskRunner) -> None:
    with pytest.raises(ValueError, match="when_busy"):
        TaskSlot(runner, when_busy="never")  # type: ignore[arg-type]


def test_submit_passes_arguments_and_the_task_state_first(qtbot: QtBot, runner: TaskRunner) -> None:
    got: list[Any] = []

    def listing(run_id: str, prefix: str) -> str:
        return f"{run_id}:{prefix}"

    def with_progress(state: TaskState, total: int) -> int:
        state.set_progress(total, total)
        return total

    runner.submit(listing, "run-1", "logs/", success=got.append)
    runner.submit(with_progress, 7, with_state=True, success=got.append)
    runner.submit(lambda: "no arguments", success=got.append)
    wait_until(lambda: len(got) == 3, "three answers", qtbot=qtbot)
    assert sorted(map(str, got)) == ["7", "no arguments", "run-1:logs/"]
