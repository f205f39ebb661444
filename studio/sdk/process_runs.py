"""Ending runs the way their code ended: a with-block's exit, or the process's exit for runs left open.

A with-block sees its exception in ``__exit__``: none or ``sys.exit(0)``/``sys.exit()`` completes
the run, ``sys.exit(n)`` fails it with "exit code n", Ctrl+C or SIGTERM cancels it, any other
exception fails it with its traceback.

Runs left open at interpreter exit end in an ``atexit`` hook: Failed after an uncaught exception
(seen by ``sys.excepthook``), Canceled after SIGTERM, Failed with "exit code n" after
``sys.exit(n)``, otherwise Completed. CPython 3.11 clears a SystemExit before it runs the atexit
hooks and tells no hook its status (no excepthook, no audit event, no ``sys.last_*``), so while a
run is open ``sys.exit`` is wrapped to remember the status it was asked for. A status asked for
and then survived (the script caught the SystemExit) is forgotten when the next run starts;
``raise SystemExit(n)`` written out, which bypasses ``sys.exit``, still ends such runs Completed.
``tests/sdk/test_exit_codes.py`` pins each case.
"""

from __future__ import annotations

import atexit
import functools
import os
import signal
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from studio.sdk.run import Run

_runs: dict[str, Run] = {}
_lock = threading.Lock()
_crash: BaseException | None = None
_previous_hook = sys.excepthook
_exit_hook_installed = False
_requested_exit: SystemExit | None = None


class Terminated(SystemExit):
    """Raised by the SIGTERM handler: the process ends through normal exit, its runs Canceled."""


def track(run: Run) -> None:
    """Finish ``run`` when the process exits if the script did not."""
    global _exit_hook_installed, _requested_exit
    with _lock:
        _runs[run.id] = run
        _requested_exit = None  # a sys.exit() before this run started was survived
        if not _exit_hook_installed:
            # Registered after the workspace's own exit hooks, so it runs before them (atexit is
            # last-in first-out) and the runs' last points are still written when they end.
            _exit_hook_installed = True
            atexit.register(_finish_at_exit)
            sys.exit = _exit_remembering_status(sys.exit)


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
    raise Terminated(128 + signum)


def finish(run: Run, exc: BaseException | None) -> None:
    """End ``run`` the way a with-block around it ended (``exc``: what left the block, or None)."""
    if exc is None:
        run.complete()
    elif isinstance(exc, (KeyboardInterrupt, Terminated)):
        run.cancel()
    elif isinstance(exc, SystemExit):
        code = exit_code(exc)
        if code == 0:
            run.complete()
        else:
            reason = f": {exc.code}" if isinstance(exc.code, str) else ""
            run.fail(error_details=f"The script exited with exit code {code}{reason}.", error_code="SystemExit")
    else:
        run.fail(error_details=exc, _traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def exit_code(exc: SystemExit) -> int:
    """The process exit status ``exc`` leads to, as the interpreter computes it."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):  # bool included: sys.exit(True) exits with 1
        return int(exc.code)
    return 1  # any other object is printed and the status is 1


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    global _crash
    _crash = exc
    _previous_hook(kind, exc, tb)


def _exit_remembering_status(exit_: Callable[..., NoReturn]) -> Callable[..., NoReturn]:
    """``sys.exit`` that remembers what it was asked, for the runs still open at exit."""

    @functools.wraps(exit_)
    def remembering_exit(status: object = None, /) -> NoReturn:
        global _requested_exit
        _requested_exit = SystemExit(status)
        exit_(status)

    return remembering_exit


def _finish_at_exit() -> None:
    with _lock:
        runs = list(_runs.values())[::-1]  # children before parents
    ended_by = _crash if _crash is not None else _requested_exit
    for run in runs:
        try:
            finish(run, ended_by)
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
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
