"""Runs this process started: completed at a normal exit, failed by an uncaught exception."""

from __future__ import annotations

import atexit
import sys
import threading
import traceback
from types import TracebackType
from typing import TYPE_CHECKING

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


sys.excepthook = _excepthook
atexit.register(_finish_at_exit)
