"""Background reads of an experiment's runs, for the orders a server cannot give (``RunSearch`` sorts them here).

A ``Scan`` reads every run the server sends for one (experiment, server filter, decoration mode), page after page,
on the backend's pool, and keeps them as a copy that grows as it reads. ``RunScans`` holds them:

- one scan reads per experiment for callers that take partial pages: a newer query on the same experiment cancels
  the older one's scan (unless a caller waits for that one to end); at most ``MAX_RUNNING`` read at once;
- a scan nobody asked about for ``IDLE_S`` stops; a complete copy answers as exact for ``FRESH_S``, after which the
  next question reads the runs again in the background while the old copy answers, marked as being read again
  (new runs come in and a live run's metrics change); copies unused for ``KEEP_S`` are dropped, at most ``MAX_KEPT``;
- a scan's failure is raised to the next caller, once; the one after starts again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from studio.core.types import RunInfo
from studio.workspaces.mlflow.rest.types import Run

SCAN_PAGE = 500
"""Runs a page when reading a whole answer: a page's JSON is decoded in one call holding Python's lock, so pages
of 1,000 runs (1.85 MB) stalled the window for up to 63 ms; 500 keep it near 15."""
FIRST_SCAN_PAGE = 100
"""The first page is smaller: a first partial answer waits for it."""
FRESH_S = 30.0
IDLE_S = 30.0
KEEP_S = 600.0
MAX_KEPT = 4
MAX_RUNNING = 2

ScanKey = tuple[str, str, str]
"""(experiment id, server filter, decoration mode)."""
Pair = tuple[Run, RunInfo]
ReadPage = Callable[[str | None, int], tuple[list[Pair], str | None]]
"""Reads one server page: (token, size) -> (runs with their RunInfos, next token)."""
Submit = Callable[[Callable[[], None]], object]

_ids = itertools.count(1)


class Scan:
    """One read of every run a server filter gives; ``pairs`` only grows, ``done`` is set at the end."""

    def __init__(self, key: ScanKey, read: ReadPage) -> None:
        self.key, self.read = key, read
        self.id = next(_ids)
        self.pairs: list[Pair] = []
        self.first = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.cancelled = False
        self.outdated = False  # a run changed while it read: its copy is stale once complete
        self.waiters = 0
        self.finished_at = 0.0

    @property
    def complete(self) -> bool:
        """Whether every page was read."""
        return self.done.is_set() and self.error is None and not self.cancelled


@dataclass(frozen=True)
class ScanView:
    """What a caller sorts: a prefix of a scan's runs, and how far the reading is.

    ``version`` names the prefix (a page token names it, so the next page continues the same order).
    ``complete``: every run is in and the copy is fresh. ``refreshing``: the runs are an older complete copy
    (``age_s`` old) while they are read again (``read`` so far). ``total``: how many runs the server gave the last
    complete time (None when not known).
    """

    pairs: list[Pair]
    version: str
    complete: bool
    read: int
    total: int | None
    refreshing: bool = False
    age_s: float = 0.0


@dataclass
class _Entry:
    copy: Scan | None = None  # the newest complete read
    running: Scan | None = None
    used: float = 0.0
    stale: bool = False  # forget() was called: the copy is read again at the next question
    failed: BaseException | None = None


class RunScans:
    """The scans of one backend (thread-safe)."""

    def __init__(self, submit: Submit) -> None:
        self._submit = submit
        self._lock = threading.Lock()
        self._entries: OrderedDict[ScanKey, _Entry] = OrderedDict()
        self._closed = False

    def view(self, key: ScanKey, read: ReadPage, *, wait_all: bool) -> ScanView:
        """The runs read so far for ``key`` (a scan is started if none reads them).

        Without ``wait_all`` this waits only for the first page (or for an older complete copy); a newer query
        cancels this experiment's other running scans. With ``wait_all`` it waits for the whole read and cancels
        nothing. Raises the scan's error (once).
        """
        with self._lock:
            entry, scan = self._entry(key, read, wait_all=wait_all)
            scan.waiters += 1 if wait_all and scan is not entry.copy else 0
        waited = scan if scan is not entry.copy else None
        try:
            if waited is not None:
                (waited.done if wait_all else waited.first).wait()
        finally:
            if waited is not None and wait_all:
                with self._lock:
                    waited.waiters -= 1
        if waited is not None and waited.done.is_set() and waited.cancelled and wait_all:
            return self.view(key, read, wait_all=True)  # cancelled meanwhile by forget(): read again
        with self._lock:
            if waited is not None and waited.error is not None:
                if entry.failed is waited.error:
                    entry.failed = None
                    if self._entries.get(key) is entry:
                        del self._entries[key]
                raise waited.error
            if entry.copy is None and entry.running is not waited and waited is not None:
                return _partial(waited)  # cancelled by a newer query meanwhile: this answer is not wanted any more
            view = self._view(entry)
        if wait_all and not view.complete:
            return self.view(key, read, wait_all=True)  # read again meanwhile (forget()): wait for that read
        return view

    def _entry(self, key: ScanKey, read: ReadPage, *, wait_all: bool) -> tuple[_Entry, Scan]:
        """(Under the lock) the entry for ``key`` and the scan to wait for (its copy when that answers)."""
        now = time.monotonic()
        self._evict(now)
        entry = self._entries.get(key)
        if entry is not None and entry.failed is not None:
            failed = entry.running if entry.running is not None else entry.copy
            assert failed is not None
            return entry, failed  # the failure is raised to this caller
        if entry is None:
            entry = self._entries[key] = _Entry()
        self._entries.move_to_end(key)
        entry.used = now
        if not wait_all:
            for other_key, other in list(self._entries.items()):
                if other_key[0] == key[0] and other_key != key and other.running is not None:
                    self._cancel(other_key, other)
        copy_fresh = entry.copy is not None and not entry.stale and now - entry.copy.finished_at < FRESH_S
        if entry.running is None and not copy_fresh:
            entry.running = self._start(key, read)
        if entry.copy is not None and (entry.running is None or not wait_all):
            return entry, entry.copy  # fresh, or answering while it is read again
        assert entry.running is not None
        return entry, entry.running

    def _start(self, key: ScanKey, read: ReadPage) -> Scan:
        running = [(k, e) for k, e in self._entries.items() if e.running is not None and not e.running.done.is_set()]
        for other_key, other in running[: max(0, len(running) - MAX_RUNNING + 1)]:
            if other.running is not None and not other.running.waiters:
                self._cancel(other_key, other)  # the least recently asked
        scan = Scan(key, read)
        if self._closed:
            scan.error = RuntimeError("The workspace is closed.")
            scan.done.set()
            scan.first.set()
            return scan
        self._submit(lambda: self._read(scan))
        return scan

    def _cancel(self, key: ScanKey, entry: _Entry) -> None:
        scan = entry.running
        if scan is None or scan.waiters:
            return
        scan.cancelled = True
        entry.running = None
        if entry.copy is None:
            self._entries.pop(key, None)

    def _read(self, scan: Scan) -> None:
        """On a worker: every page, until the end, a cancel, or IDLE_S with no one asking."""
        try:
            token: str | None = None
            size = FIRST_SCAN_PAGE
            while not scan.cancelled:
                pairs, token = scan.read(token, size)
                scan.pairs.extend(pairs)
                scan.first.set()
                if not token:
                    break
                size = SCAN_PAGE
                with self._lock:
                    entry = self._entries.get(scan.key)
                    idle = entry is None or time.monotonic() - entry.used > IDLE_S
                    if idle and not scan.waiters:
                        self._cancel_scan(scan)
        except BaseException as exc:
            scan.error = exc
        finally:
            self._finish(scan)

    def _cancel_scan(self, scan: Scan) -> None:
        entry = self._entries.get(scan.key)
        if entry is not None and entry.running is scan:
            self._cancel(scan.key, entry)
        scan.cancelled = True

    def _finish(self, scan: Scan) -> None:
        with self._lock:
            scan.finished_at = time.monotonic()
            entry = self._entries.get(scan.key)
            if entry is not None and entry.running is scan:
                entry.running = None
                if scan.error is not None:
                    entry.failed = scan.error
                    entry.running = scan  # kept to say the failure once
                elif not scan.cancelled:
                    entry.copy, entry.stale = scan, scan.outdated
        scan.first.set()
        scan.done.set()

    def _view(self, entry: _Entry) -> ScanView:
        now = time.monotonic()
        total = len(entry.copy.pairs) if entry.copy is not None else None
        running = entry.running
        if entry.copy is not None and (running is None or not running.complete):
            copy = entry.copy
            refreshing = running is not None
            pairs = copy.pairs
            return ScanView(
                pairs,
                f"{copy.id}.{len(pairs)}",
                complete=not refreshing,
                read=len(running.pairs) if running is not None else len(pairs),
                total=total,
                refreshing=refreshing,
                age_s=now - copy.finished_at,
            )
        assert running is not None
        return _partial(running)

    def _evict(self, now: float) -> None:
        for key, entry in list(self._entries.items()):
            if entry.running is None and (now - entry.used > KEEP_S or len(self._entries) > MAX_KEPT):
                del self._entries[key]

    def forget(self) -> None:
        """A run changed: complete copies are read again at the next question, running scans start again."""
        with self._lock:
            for key, entry in list(self._entries.items()):
                entry.stale = True
                if entry.running is not None:
                    entry.running.outdated = True
                    self._cancel(key, entry)

    def close(self) -> None:
        """Stop every scan at its next page."""
        with self._lock:
            self._closed = True
            for entry in self._entries.values():
                if entry.running is not None:
                    entry.running.cancelled = True


def _partial(scan: Scan) -> ScanView:
    pairs = scan.pairs[: len(scan.pairs)]  # the scan appends meanwhile: this prefix is the version
    return ScanView(pairs, f"{scan.id}.{len(pairs)}", complete=scan.complete, read=len(pairs), total=None)
