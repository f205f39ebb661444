"""GUI-thread work done a time-boxed slice per event-loop turn, so painting and input go on between slices.

The caller writes one turn of its work as a function of a :class:`Turn`: it does what it can,
checks ``turn.over`` between units, and returns whether work is left. ``SlicedWork`` calls
it again on a later event-loop turn (a 0 ms timer by default) until it returns False::

    self._building = SlicedWork(self._build_some, budget_s=TURN_BUDGET_S, parent=self)
    self._building.start()

    def _build_some(self, turn: Turn) -> bool:
        while self._steps and not turn.over:
            self._steps.popleft()()
        return bool(self._steps)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from studio.ui.background.owner_refs import callback_ref


class Turn:
    """One event-loop turn's share of the work: ``over`` once its budget is spent."""

    def __init__(self, budget_s: float) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + budget_s

    @property
    def over(self) -> bool:
        """True once the turn's time budget is spent (the work should return and go on next turn)."""
        return time.perf_counter() >= self.deadline


class SlicedWork(QObject):
    """Calls ``work(turn)`` once per event-loop turn while it returns True (work is left).

    ``budget_s`` is how long one turn should take; ``work`` checks ``turn.over`` and always
    does at least one unit, so the work finishes however slow the machine. ``pace_ms`` is
    the wait before the next turn (0: as soon as the event loop had its turn). ``start()``
    asks for a turn (no-op while one is scheduled); ``run_now()`` runs one at once;
    ``cancel()`` drops the scheduled one. Owned by ``parent``: nothing runs after it is gone.
    """

    def __init__(self, work: Callable[[Turn], bool], budget_s: float, parent: QObject, pace_ms: int = 0) -> None:
        super().__init__(parent)
        self.budget_s = budget_s
        # Weak when ``work`` is a method of ``parent``: the parent keeps this object, so a strong
        # reference back would make a cycle that only the garbage collector frees (see owner_refs).
        self._work = callback_ref(work, parent)
        self._timer = QTimer(self, singleShot=True, interval=pace_ms)
        self._timer.timeout.connect(self.run_now)

    @property
    def scheduled(self) -> bool:
        """True while a turn is waiting to run."""
        return self._timer.isActive()

    def start(self) -> None:
        """Run a turn on a later event-loop turn (unless one is scheduled already)."""
        if not self._timer.isActive():
            self._timer.start()

    def run_now(self) -> None:
        """Run one turn now; schedule the next if work is left."""
        self._timer.stop()
        work = self._work()
        if work is not None and work(Turn(self.budget_s)):
            self._timer.start()

    def cancel(self) -> None:
        """Drop the scheduled turn (``start()`` goes on from where the work is)."""
        self._timer.stop()
