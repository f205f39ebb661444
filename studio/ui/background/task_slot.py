"""One call in flight for one thing a widget shows (after Orange's single task slot).

A widget that lists something again and again (a run's files, the compute instances, the
runs changed since the last poll) wants at most one such call running, and no answer
about an older request or an older workspace. ``TaskSlot`` is that bookkeeping, once::

    self._listing = TaskSlot(runner, success=self._files_arrived, failure=self._failed, owner=self)
    self._listing.request(backend.list_files, run_id, prefix)
    self._listing.reset()  # the backend changed: whatever is in flight is stale
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, Literal

from PySide6.QtCore import QObject
from shiboken6 import isValid

from studio.core.errors import CancelledError
from studio.ui.background.owner_refs import callback_ref, owner_ref
from studio.ui.background.tasks import TaskRunner

WhenBusy = Literal["again", "latest"]


class TaskSlot:
    """Runs one call at a time through a :class:`TaskRunner` and drops stale answers.

    ``request(fn, *args)`` starts ``fn(*args)`` at once when the slot is idle. A request made
    while a call is in flight waits; only the last such request is kept, and it starts when the
    call in flight ends. What happens to the answer in flight depends on ``when_busy``:

    - ``"again"``: it is delivered (it is still worth showing), then the waiting request runs.
      For "list again": a refresh asked during a listing lists once more afterwards.
    - ``"latest"``: it is dropped (it answers a request that was superseded); only the answer
      of the latest request is delivered. For "show what was chosen last".

    ``reset()`` drops the answer in flight and the waiting request (the backend changed, the
    widget shows something else); the next request starts at once.

    Failure policy: a failure goes to ``failure`` (or, without one, to the runner's
    unhandled-failure signal, i.e. the notifier) exactly like a success goes to ``success``,
    and it does not cancel a waiting request: that request was made after the one that
    failed, so it runs. Cancelled calls (:class:`~studio.core.errors.CancelledError`) report
    nothing but still let the waiting request run.

    When an answer arrives its callback runs first (``busy`` is False then, and ``waiting``
    tells whether a request waits), then the waiting request starts: it sees what the
    callback changed. A request made inside the callback starts at once and replaces the
    waiting one. With ``owner``, nothing is called back (or started) once that widget is gone.
    """

    def __init__(
        self,
        runner: TaskRunner,
        *,
        success: Callable[[Any], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        when_busy: WhenBusy = "again",
        owner: QObject | None = None,
        label: str = "",
    ) -> None:
        if when_busy not in ("again", "latest"):
            raise ValueError(f"when_busy must be 'again' or 'latest', not {when_busy!r}")
        self._runner, self._label, self._when_busy = runner, label, when_busy
        # The owner and its methods are held weakly: the owner keeps its slot, so strong
        # references back would make a cycle that only the garbage collector frees (see owner_refs).
        self._has_owner, self._owner = owner is not None, owner_ref(owner)
        self._success, self._failure = callback_ref(success, owner), callback_ref(failure, owner)
        self._calls = 0
        self._in_flight: int | None = None  # the number of the call in flight
        self._superseded = False  # "latest": the answer in flight is not wanted any more
        self._waiting: tuple[Callable[..., Any], tuple[Any, ...]] | None = None

    @property
    def busy(self) -> bool:
        """True while a call is in flight (one started before the last ``reset()`` does not count)."""
        return self._in_flight is not None

    @property
    def waiting(self) -> bool:
        """True while a request waits for the call in flight to end."""
        return self._waiting is not None

    def request(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the background now, or once the call in flight ends."""
        if self._in_flight is None:
            self._waiting = None
            self._start(fn, args)
            return
        self._waiting = (fn, args)
        if self._when_busy == "latest":
            self._superseded = True

    def reset(self) -> None:
        """Forget the call in flight (its answer is dropped) and the waiting request."""
        self._in_flight, self._superseded, self._waiting = None, False, None

    def _start(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if self._owner_gone():
            return
        self._calls += 1
        call = self._in_flight = self._calls
        task = self._runner.submit(
            fn,
            *args,
            success=lambda result: self._ended(call, result, None),
            failure=lambda exc: self._ended(call, None, exc),
            label=self._label,
            owner=self._owner(),
        )
        # The runner reports no CancelledError: the slot still has to learn that the call is over.
        # (Not through sig_ended: the runner deletes the task then, and a later slot may miss it.)
        task.sig_failed.connect(lambda exc, _tb: self._cancelled(call, exc))

    def _cancelled(self, call: int, exc: BaseException) -> None:
        if isinstance(exc, CancelledError):
            self._ended(call, None, None, report=False)

    def _ended(self, call: int, result: Any, exc: BaseException | None, report: bool = True) -> None:
        if call != self._in_flight:
            return  # started before a reset(), or already reported
        if self._runner.closed or self._owner_gone():
            return
        wanted = report and not self._superseded
        self._in_flight, self._superseded = None, False
        try:
            if wanted:
                self._report(result, exc)
        finally:
            waiting, self._waiting = self._waiting, None
            if waiting is not None and self._in_flight is None:
                self._start(*waiting)

    def _owner_gone(self) -> bool:
        if not self._has_owner:
            return False
        owner = self._owner()
        return owner is None or not isValid(owner)

    def _report(self, result: Any, exc: BaseException | None) -> None:
        success, failure = self._success(), self._failure()
        if exc is None:
            if success is not None:
                success(result)
        elif failure is not None:
            failure(exc)
        else:
            text = "".join(traceback.format_exception(exc))
            self._runner.sig_unhandled_failure.emit(exc, text, self._label)
