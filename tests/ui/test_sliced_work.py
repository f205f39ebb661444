"""SlicedWork keeps each event-loop turn within its budget and finishes the work; qdebounced
calls once the input rests."""

from __future__ import annotations

import time
import weakref

from PySide6.QtCore import QObject, QTimer
from pytestqt.qtbot import QtBot
from shiboken6 import delete

from studio.ui.background.debounce import qdebounced
from studio.ui.background.sliced_work import SlicedWork, Turn
from tests.ui_helpers import collector_off
from tests.waiting import wait_until

UNIT_S = 0.001


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class Units:
    """``count`` units of work of about a millisecond each, done a turn at a time."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.turns: list[tuple[int, float]] = []  # (units done, seconds) per turn

    def work(self, turn: Turn) -> bool:
        done = 0
        while self.left:
            _busy(UNIT_S)
            self.left -= 1
            done += 1
            if turn.over:
                break
        self.turns.append((done, time.perf_counter() - turn.started))
        return self.left > 0


def _after_pending_events(qtbot: QtBot) -> None:
    """Let every timer already due fire (a 0 ms timer queued now fires after them)."""
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    wait_until(lambda: fired, "the timer fired", qtbot=qtbot)


def test_each_turn_keeps_to_its_budget_and_all_the_work_gets_done(qtbot: QtBot) -> None:
    owner, units = QObject(), Units(100)
    work = SlicedWork(units.work, budget_s=0.01, parent=owner)
    work.start()
    assert units.turns == []  # nothing runs inside start(): the caller's turn stays short
    wait_until(lambda: not units.left and not work.scheduled, "every unit done, nothing scheduled", qtbot=qtbot)
    assert sum(done for done, _ in units.turns) == 100
    assert len(units.turns) >= 5  # 100 ms of work in 10 ms turns
    # A turn stops once its budget is spent: at most one unit (plus scheduling noise) over it.
    assert max(seconds for _, seconds in units.turns) < 0.01 + UNIT_S + 0.01


def test_other_events_run_between_turns(qtbot: QtBot) -> None:
    owner, units, seen = QObject(), Units(50), []
    work = SlicedWork(units.work, budget_s=0.005, parent=owner)
    work.start()
    QTimer.singleShot(0, lambda: seen.append(len(units.turns)))
    wait_until(lambda: not units.left, "every unit done", qtbot=qtbot)
    assert seen and seen[0] < len(units.turns)  # the timer fired while work was left


def test_a_zero_budget_still_does_one_unit_per_turn(qtbot: QtBot) -> None:
    owner, units = QObject(), Units(3)
    work = SlicedWork(units.work, budget_s=0.0, parent=owner)
    work.start()
    wait_until(lambda: not units.left, "every unit done", qtbot=qtbot)
    assert [done for done, _ in units.turns] == [1, 1, 1]


def test_run_now_runs_a_turn_at_once_and_schedules_the_rest(qtbot: QtBot) -> None:
    owner, units = QObject(), Units(3)
    work = SlicedWork(units.work, budget_s=0.0, parent=owner)
    work.run_now()
    assert [done for done, _ in units.turns] == [1] and work.scheduled
    wait_until(lambda: not units.left, "every unit done", qtbot=qtbot)


def test_cancel_stops_the_work_and_start_goes_on_from_where_it_was(qtbot: QtBot) -> None:
    owner, units = QObject(), Units(300)
    work = SlicedWork(units.work, budget_s=0.0, parent=owner)
    work.start()
    wait_until(lambda: len(units.turns) >= 2, "two turns", qtbot=qtbot)
    work.cancel()
    stopped_at = units.left
    _after_pending_events(qtbot)
    _after_pending_events(qtbot)
    assert units.left == stopped_at > 0 and not work.scheduled
    work.start()
    wait_until(lambda: not units.left, "every unit done", qtbot=qtbot)


def test_nothing_runs_once_the_parent_is_gone(qtbot: QtBot) -> None:
    owner, units = QObject(), Units(1000)
    work = SlicedWork(units.work, budget_s=0.0, parent=owner)
    work.start()
    wait_until(lambda: len(units.turns) >= 1, "a first turn", qtbot=qtbot)
    delete(owner)
    stopped_at = units.left
    _after_pending_events(qtbot)
    _after_pending_events(qtbot)
    assert units.left == stopped_at > 0


class _Builder(QObject):
    """A widget-like parent whose own method is the work."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.work = SlicedWork(self.build_some, budget_s=0.0, parent=self)

    def build_some(self, _turn: Turn) -> bool:
        self.turns += 1
        return False


def test_the_work_does_not_keep_its_parent_alive(qtbot: QtBot) -> None:
    # The parent keeps its SlicedWork: one holding the parent's method back would make a cycle,
    # and a widget in one is freed by the garbage collector whenever it runs, even mid-paint.
    builder = _Builder()
    builder.work.run_now()
    assert builder.turns == 1
    gone = weakref.ref(builder)
    with collector_off():
        del builder
        assert gone() is None, "the parent outlived its last reference (only the garbage collector frees it)"


def test_debounced_calls_once_the_input_rests(qtbot: QtBot) -> None:
    owner, calls = QObject(), []
    typed = qdebounced(lambda: calls.append(len(calls)), 30, owner)
    for _ in range(5):
        typed("a keystroke")  # signal arguments are ignored
    assert typed.pending and calls == []
    wait_until(lambda: calls, "a call", qtbot=qtbot)
    rested: list[bool] = []
    QTimer.singleShot(90, lambda: rested.append(True))  # three times the timeout
    wait_until(lambda: rested, "the rest callback", qtbot=qtbot)
    assert calls == [0] and not typed.pending


def test_debounced_flush_runs_now_and_cancel_drops_the_call(qtbot: QtBot) -> None:
    owner, calls = QObject(), []
    typed = qdebounced(lambda: calls.append("ran"), 10_000, owner)
    typed.flush()
    assert calls == []  # nothing waited
    typed()
    typed.flush()
    assert calls == ["ran"] and not typed.pending
    typed()
    typed.cancel()
    assert not typed.pending and calls == ["ran"]
