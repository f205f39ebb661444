"""The studio's log file and crash file, set up once per process (no Qt: the window, the CLI or a daemon may use it).

``start(version)`` adds a rotating ``studio.log`` (1 MB, 5 backups) to the ``studio`` logger at INFO, through a
formatter that redacts secrets after formatting (so ``%``-arguments, exception text and tracebacks are covered,
not only the message), and points ``faulthandler`` at ``crash.log``: a native crash (a segmentation fault in Qt or a
driver) writes "Fatal Python error" and every thread's Python traceback there, after a header line naming the
start it belongs to. Both live in ``studio.core.user_paths.log_dir()``. A folder that cannot be created or written
(a read-only home) costs the log, never the start: one warning on stderr.

Only the ``studio`` loggers go to the file: the Azure SDK's INFO logs are HTTP dumps, and its warnings are already
said once by the studio in its own words.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import platform
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from studio.core.redaction import redact
from studio.core.user_paths import CRASH_FILE, LOG_FILE, log_dir

MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOGGER = "studio"


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message with its arguments, exception, stack) goes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as the base class formats it, secrets hidden."""
        return redact(super().format(record))


@dataclass
class AppLog:
    """What ``start`` set up: the log file's handler and the open crash file (kept open: faulthandler writes to
    its file descriptor when the process dies, so the file object must outlive everything else)."""

    folder: Path
    handler: logging.Handler | None = None
    crash_file: TextIO | None = None
    _faulthandler_before: bool = field(default=False, repr=False)
    _level_before: int = field(default=logging.NOTSET, repr=False)
    _thread_hook_before: Any = field(default=None, repr=False)

    @property
    def log_file(self) -> Path:
        """The current log file."""
        return self.folder / LOG_FILE

    def close(self) -> None:
        """Undo ``start`` (tests; the studio itself keeps both until the process ends, to catch crashes at exit)."""
        global _active
        if self.handler is not None:
            logging.getLogger(LOGGER).removeHandler(self.handler)
            logging.getLogger(LOGGER).setLevel(self._level_before)
            self.handler.close()
            self.handler = None
        if self.crash_file is not None:
            faulthandler.disable()
            if self._faulthandler_before and sys.__stderr__ is not None:
                faulthandler.enable(sys.__stderr__)
            self.crash_file.close()
            self.crash_file = None
        if self._thread_hook_before is not None:
            threading.excepthook = self._thread_hook_before
            self._thread_hook_before = None
        if _active is self:
            _active = None


_active: AppLog | None = None
_warned = False


def active() -> AppLog | None:
    """The log set up in this process, if any."""
    return _active


def start(version: str, folder: Path | None = None, stderr: TextIO | None = None) -> AppLog | None:
    """Set up the log file and the crash file in ``folder`` (the user log folder unless given), once per process.

    Returns None, after one warning on ``stderr``, when the folder cannot be created or the files opened.
    """
    global _active
    if _active is not None:
        return _active
    where = folder if folder is not None else log_dir()
    try:
        where.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            where / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        _warn(f"studio: warning: no log file, {where} cannot be written ({exc.strerror or exc}).", stderr)
        return None
    handler.setFormatter(RedactingFormatter(FORMAT))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger(LOGGER)
    log = AppLog(where, handler, _level_before=logger.level)
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        log.crash_file = _open_crash_file(where / CRASH_FILE, version)
    except OSError as exc:
        _warn(
            f"studio: warning: no crash file, {where / CRASH_FILE} cannot be written ({exc.strerror or exc}).", stderr
        )
    else:
        log._faulthandler_before = faulthandler.is_enabled()
        faulthandler.enable(file=log.crash_file, all_threads=True)
    # A plain thread's exception (the task runner catches its own) would otherwise reach stderr only, which a
    # desktop studio started from its menu does not show: logged with its traceback, then said as before.
    log._thread_hook_before = threading.excepthook
    threading.excepthook = _log_thread_exception
    _active = log
    return log


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook`` while the log is set up: the traceback to the log, then Python's own handling."""
    if args.exc_type is not SystemExit and args.exc_value is not None:
        name = args.thread.name if args.thread is not None else "?"
        logging.getLogger(f"{LOGGER}.threads").error(
            "Uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
        )
    before = _active._thread_hook_before if _active is not None else None
    (before or threading.__excepthook__)(args)


def _open_crash_file(path: Path, version: str) -> TextIO:
    """``crash.log`` opened to append, after a header line; one that grew past MAX_BYTES moves to ``crash.log.1``
    first (every start adds a header, so it would grow for ever)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    crash = path.open("a", encoding="utf-8")
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    crash.write(
        f"--- {stamp} Studio {version} started (pid {os.getpid()}, Python {platform.python_version()}, "
        f"{platform.platform()}) ---\n"
    )
    crash.flush()
    return crash


def _warn(message: str, stderr: TextIO | None) -> None:
    """Say a problem with the log once per process (a read-only home would say it at every attempt)."""
    global _warned
    if _warned:
        return
    _warned = True
    print(message, file=stderr if stderr is not None else sys.stderr)
