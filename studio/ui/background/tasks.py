"""One way to run work off the GUI thread (after Anki's QueryOp and Orange's TaskState).

``runner.submit(fn, *args, success=..., failure=..., label=...)`` runs ``fn(*args)`` on a
worker thread; its result or exception comes back on the GUI thread. A labelled task shows
in the status bar with its progress and, if cancellable, a Cancel button. ``fn`` may take a
:class:`TaskState` first (``with_state=True``: ``fn(state, *args)``) to report progress and
check for cancel. Failures without a handler go to the window's notifier.

For "one call in flight, answers of an older request dropped" see
:class:`studio.ui.background.task_slot.TaskSlot`.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid

from studio.core.errors import CancelledError
from studio.core.tasks import CancelToken


class TaskState:
    """Handed to a task's function: report progress, check whether to stop."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self.cancel = task.cancel_token

    def set_progress(self, done: int, total: int) -> None:
        """Report progress (any thread)."""
        self._task.sig_progress.emit(int(done), int(total))

    @property
    def cancelled(self) -> bool:
        """True once the user asked to cancel."""
        return self.cancel.cancelled


class Task(QObject):
    """A unit of background work; its signals arrive on the GUI thread."""

    sig_succeeded = Signal(object)
    """The function returned this value."""
    sig_failed = Signal(object, str)
    """The function raised this exception (with its formatted traceback)."""
    sig_progress = Signal(int, int)
    """Progress as (done, total)."""
    sig_ended = Signal()
    """The task is over, whatever the outcome."""

    _ids = itertools.count(1)

    def __init__(self, label: str, cancellable: bool) -> None:
        super().__init__()
        self.id = next(self._ids)
        self.label = label
        self.cancellable = cancellable
        self.cancel_token = CancelToken()
        self.progress: tuple[int, int] = (0, 0)
        self.sig_progress.connect(self._remember_progress)

    def cancel(self) -> None:
        """Ask the function to stop (it sees it through its TaskState)."""
        self.cancel_token.cancel()

    def _remember_progress(self, done: int, total: int) -> None:
        self.progress = (done, total)


class _Runnable(QRunnable):
    def __init__(self, task: Task, fn: Callable[..., Any], args: tuple[Any, ...], with_state: bool) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task, self._fn, self._args, self._with_state = task, fn, args, with_state

    def run(self) -> None:
        task = self._task
        try:
            args = (TaskState(task), *self._args) if self._with_state else self._args
            result = self._fn(*args)
        except BaseException as exc:
            outcome: tuple[Any, ...] = (task.sig_failed, exc, traceback.format_exc())
        else:
            outcome = (task.sig_succeeded, result)
        try:
            outcome[0].emit(*outcome[1:])
            task.sig_ended.emit()
        except RuntimeError:
            pass  # the task's owner (a closed window's pane or dialog) was deleted meanwhile: nobody to tell


class TaskRunner(QObject):
    """Runs tasks on its own thread pool and keeps the list of labelled ones for the status bar."""

    sig_task_started = Signal(object)
    """A labelled task started (the Task)."""
    sig_task_ended = Signal(object)
    """A labelled task ended (the Task)."""
    sig_unhandled_failure = Signal(object, str, str)
    """A task without a failure handler failed: (exception, traceback, label)."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._tasks: dict[int, Task] = {}
        self._closed = False

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        success: Callable[[Any], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        label: str = "",
        cancellable: bool = False,
        with_state: bool = False,
        owner: QObject | None = None,
    ) -> Task:
        """Run ``fn(*args)`` in the background; ``success``/``failure`` run on the GUI thread.

        Pass what ``fn`` needs as ``args`` (``submit(backend.list_files, run_id, prefix)``):
        they are read now, on the GUI thread, not when the worker gets to them. With
        ``with_state``, ``fn`` gets a :class:`TaskState` before them. With ``owner``, the
        callbacks are skipped once that widget is gone.
        """
        task = Task(label, cancellable)
        self._tasks[task.id] = task

        def alive() -> bool:
            return not self._closed and (owner is None or isValid(owner))

        def on_success(result: Any) -> None:
            if success is not None and alive():
                success(result)

        def on_failure(exc: BaseException, tb: str) -> None:
            if isinstance(exc, CancelledError) or not alive():
                return
            if failure is not None:
                failure(exc)
            else:
                self.sig_unhandled_failure.emit(exc, tb, label)

        def on_ended() -> None:
            self._tasks.pop(task.id, None)
            if label and not self._closed:
                self.sig_task_ended.emit(task)
            task.deleteLater()

        task.sig_succeeded.connect(on_success)
        task.sig_failed.connect(on_failure)
        task.sig_ended.connect(on_ended)
        if label:
            self.sig_task_started.emit(task)
        self.pool.start(_Runnable(task, fn, args, with_state))
        return task

    @property
    def closed(self) -> bool:
        """True once ``shutdown()`` was called: no callback runs any more."""
        return self._closed

    def running(self) -> list[Task]:
        """Labelled tasks still running."""
        return [t for t in self._tasks.values() if t.label]

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, drop pending callbacks and wait for the threads; True if all stopped."""
        self._closed = True
        for task in list(self._tasks.values()):
            task.cancel()
        self.pool.clear()
        return bool(self.pool.waitForDone(timeout_ms))
