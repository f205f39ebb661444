"""Runs this process started: completed at a normal exit, failed by an uncaught exception."""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import traceback
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

from studio.workspaces.local import metric_writer

if TYPE_CHECKING:
    from studio.sdk.run import Run

_runs: dict[str, Run] = {}
_lock = threading.Lock()
_crash: BaseException | None = None
_previous_hook = sys.excepthook


def track(run: Run) -> None:
    """Finish ``run`` when the process exits if the script did not."""
    with _lock:
        _runs[run.id] = run


def untrack(run: Run) -> None:
    """The run ended; nothing to do at exit."""
    with _lock:
        _runs.pop(run.id, None)


def install_sigterm_handler() -> None:
    """Make SIGTERM end the process through normal exit, so buffered points are written.

    Only from the main thread and only when nobody else handles SIGTERM. Runs this
    process started end Canceled.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - embedded interpreters without signals
        pass


def _on_sigterm(signum: int, frame: object) -> None:
    global _crash
    _crash = KeyboardInterrupt("terminated by SIGTERM")
    raise SystemExit(128 + signum)


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    global _crash
    _crash = exc
    _previous_hook(kind, exc, tb)


def _finish_at_exit() -> None:
    with _lock:
        runs = list(_runs.values())[::-1]  # children before parents
    for run in runs:
        try:
            if _crash is None:
                run.complete()
            elif isinstance(_crash, KeyboardInterrupt):
                run.cancel()
            else:
                details = "".join(traceback.format_exception(type(_crash), _crash, _crash.__traceback__))
                run.fail(error_details=_crash, _traceback=details)
        except Exception as exc:
            print(f"studio: could not finish run {run.id} at exit: {exc}", file=sys.stderr)


def _forget_in_child() -> None:
    # A forked worker must not complete (or fail) the runs of its parent when it exits.
    global _lock
    _runs.clear()
    _lock = threading.Lock()
    for run in list(live_runs):
        run._series.clear()


#: Every Run object of this process; their metric-buffer caches are dropped in a forked child.
live_runs: weakref.WeakSet[Run] = weakref.WeakSet()

sys.excepthook = _excepthook
atexit.register(_finish_at_exit)
metric_writer._fork_hooks.append(_forget_in_child)
