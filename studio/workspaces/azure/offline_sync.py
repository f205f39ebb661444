"""The machinery under ``CachedBackend`` (``offline_cache``): the inner backend opened (in the background when the
workspace was cached before) and called, noting whether the network works; the changes tracked (the wrapper's
change tokens, from ``BASE``); listings painted from the cache and refreshed in the background; what a finished run
has kept as final; the workspace's note ("Cached …", "Offline: …")."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypeVar

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo, RunPage, WorkspaceInfo
from studio.workspaces.azure.offline_codec import _clock_text, _dumps, _info_from_json, _or_none, _run_from, _run_json
from studio.workspaces.azure.offline_store import MAX_BYTES, OfflineStore
from studio.workspaces.mlflow.single_flight import SingleFlight

BASE = 1 << 52
"""This wrapper's change tokens start here, above any inner backend's (MLflow's start at 2**40)."""
CACHED_PAGES = 3
"""Pages of an experiment's runs kept, in the default query."""
REVALIDATE_S = 60.0
"""A finished run answered from the cache is checked again in the background at most this often."""
RETRY_OPEN_S = 10.0
"""An inner backend that could not be opened is tried again after this long (at the next call or poll)."""
KEPT_CHANGES = 10_000

T = TypeVar("T")
Inner = WorkspaceBackend | Callable[[], WorkspaceBackend]


def is_network_error(exc: BaseException) -> bool:
    """Whether an error means the service could not be reached (offline), not that it answered with a refusal.

    By class, without importing the kinds' clients: the MLflow client's ``MlflowUnreachableError`` and
    ``MlflowTimeoutError``, the Azure kind's unreachable/timeout errors, azure-core's ``ServiceRequestError`` /
    ``ServiceResponseError``, and Python's ``ConnectionError`` / ``TimeoutError``.
    """
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"ServiceRequestError", "ServiceResponseError", "ServiceRequestTimeoutError"}:
        return True
    return any("Unreachable" in name or "Timeout" in name or "Offline" in name for name in names)


class CacheSync:
    """The state of a ``CachedBackend`` and what its answers are built on: the inner backend, change tracking,
    background refreshes and the values kept as final (see ``offline_cache``'s module docstring)."""

    def __init__(
        self,
        inner: Inner,
        location: str,
        *,
        store: OfflineStore | None = None,
        root: Path | None = None,
        max_bytes: int = MAX_BYTES,
        revalidate_s: float = REVALIDATE_S,
        retry_open_s: float = RETRY_OPEN_S,
        paint_from_cache: bool = True,
    ) -> None:
        self.location = location
        self.store = store if store is not None else OfflineStore(location, root, max_bytes)
        self.revalidate_s = revalidate_s
        self.paint_from_cache = paint_from_cache
        """False: what can change is asked of the service first, the cache answers only without a network."""
        self.retry_open_s = retry_open_s
        self.experiments_version = 0
        """Bumped when a background refresh found the experiment list differs from what was painted."""
        self.listings_version = 0
        """Bumped when a background refresh of a listing painted from the cache (marked "Cached …") worked: the window
        lists again what still shows the mark (its poll may never see the short "refreshing" note)."""
        self.last_refresh_error: BaseException | None = None
        """The last background refresh's error (None once one works): the window may offer Sign in… for it."""
        self._lock = threading.RLock()
        self._pull_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="offline-cache")
        self._flights = SingleFlight()
        self._closed = False
        self._inner: WorkspaceBackend | None = None
        self._factory: Callable[[], WorkspaceBackend] | None = None
        self._opening: Future[WorkspaceBackend] | None = None
        self._open_failed_at = 0.0
        self._info: WorkspaceInfo | None = _info_from_json(self.store.get_meta("info"))
        self._inner_since: int | None = None
        self._seq = BASE
        self._changes: deque[tuple[int, RunInfo]] = deque(maxlen=KEPT_CHANGES)
        self._last_seen: dict[str, str] = {}  # run id -> JSON of its last recorded change
        self._verified: dict[str, float] = {}  # key -> when it was last fetched from the service (monotonic)
        self._refreshing: set[str] = set()
        # Refreshes of painted listings that failed for want of a network: tried again when it is back.
        self._unrefreshed: dict[str, tuple[Callable[[], Any], Callable[[Any], None], Callable[[Any], None], float]] = {}
        self._stale_at: float | None = None  # when what was painted from the cache was stored (epoch)
        self._offline: BaseException | None = None
        self._final: set[str] = set()  # run ids seen finished
        if callable(inner) and not isinstance(inner, WorkspaceBackend):
            self._factory = inner
            self._start_open()
        else:
            self._adopt(inner)

    # -- the inner backend ----------------------------------------------------------------------------

    def _adopt(self, inner: WorkspaceBackend) -> None:
        """Take an opened inner backend and remember its info. Its changes are taken in from its first one on when
        it says where that is without I/O (``changes_start``: the MLflow and Azure kinds); else from its token at
        the first poll (``_pull``), not asked here: a remote kind polls its service for it, which would hold up the
        opening. (From the first poll on, a change the inner backend recorded between its opening and that poll,
        such as Azure's refined status of a job just listed, would never be reported.)"""
        info = inner.info()
        self.store.put_meta("info", json.dumps(asdict(info)))
        start = getattr(inner, "changes_start", None)
        with self._pull_lock:
            self._inner_since = start if isinstance(start, int) else None
        with self._lock:
            self._inner, self._info = inner, info
            closed = self._closed
        if closed:
            inner.close()

    def _start_open(self) -> Future[WorkspaceBackend]:
        with self._lock:
            self._opening = self._pool.submit(self._open_inner)
            return self._opening

    def _open_inner(self) -> WorkspaceBackend:
        assert self._factory is not None
        try:
            inner = self._factory()
        except BaseException as exc:
            with self._lock:
                self._open_failed_at = time.monotonic()
            self._failed(exc)
            raise
        self._adopt(inner)
        self._worked()
        return inner

    def _ready(self) -> WorkspaceBackend:
        """The inner backend, waiting for it to open (or opening it again after a failure); raises why it cannot."""
        with self._lock:
            if self._inner is not None:
                return self._inner
            opening = self._opening
            if opening is None or (_open_error(opening) is not None and self._retry_due()):
                opening = self._start_open()
        try:
            return opening.result()
        except BaseException as exc:
            # The same failure is raised at every call until the next try: without its old traceback, or each
            # raise would lengthen it (a poll a second, for as long as the network is gone).
            raise exc.with_traceback(None) from None

    def _retry_due(self) -> bool:
        """Whether to try opening again: after ``retry_open_s`` without a network, six times that after a refusal
        (signing in again is the user's move; the poll need not ask the account every few seconds)."""
        with self._lock:
            opening, failed_at = self._opening, self._open_failed_at
        error = None if opening is None else _open_error(opening)
        wait = self.retry_open_s if error is None or is_network_error(error) else 6 * self.retry_open_s
        return time.monotonic() - failed_at >= wait

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The inner backend's answer, noting whether the network worked."""
        inner = self._ready()
        try:
            answer = getattr(inner, name)(*args, **kwargs)
        except BaseException as exc:
            self._failed(exc)
            raise
        self._worked()
        return answer

    def _failed(self, exc: BaseException) -> None:
        if is_network_error(exc):
            with self._lock:
                self._offline = exc

    def _worked(self) -> None:
        with self._lock:
            self._offline = None
            again, self._unrefreshed = self._unrefreshed, {}
        for key, (fetch, keep, refreshed, painted_at) in again.items():  # the network is back
            self._refresh_later(key, fetch, keep, refreshed, painted_at)

    # -- the workspace's state ---------------------------------------------------------------------------------

    @property
    def offline(self) -> bool:
        """Whether the last call to the service failed for want of a network."""
        with self._lock:
            return self._offline is not None

    def _note(self) -> str:
        with self._lock:
            offline, stale_at, refreshing = self._offline, self._stale_at, bool(self._refreshing)
            error = self.last_refresh_error
        if stale_at is None and self._inner is None and offline is None:
            stale_at = self.store.stored_at("experiments")  # still signing in: whatever shows comes from the cache
            refreshing = stale_at is not None
        if offline is not None:
            cached = f" of {_clock_text(stale_at)}" if stale_at else ""
            return f"Offline: showing the cache{cached}. {offline}".strip()
        if stale_at is not None and refreshing:
            return f"Cached {_clock_text(stale_at)} — refreshing…"
        if stale_at is not None and error is not None:
            return f"Cached {_clock_text(stale_at)} — could not refresh: {error}"
        return ""

    # -- change tracking ---------------------------------------------------------------------------------------

    def _pull(self, inner: WorkspaceBackend) -> None:
        """Take in the inner backend's changes since the last pull."""
        with self._pull_lock:
            if self._inner_since is None:
                self._inner_since = inner.change_token()
                return
            runs, self._inner_since = inner.list_changed_runs(self._inner_since)
        self._record(runs)

    def _record(self, runs: list[RunInfo]) -> None:
        """Changes to report (each once: a change reported by two sources is one, and a batch lands at once), and
        the cache made to agree."""
        texts = [_dumps(_run_json(run)) for run in runs]
        with self._lock:
            for run, text in zip(runs, texts, strict=True):
                if self._last_seen.get(run.id) == text:
                    continue
                self._last_seen[run.id] = text
                self._seq += 1
                self._changes.append((self._seq, run))
        for run in runs:
            self._keep_run(run, only_if_cached=True)

    # -- listings painted from the cache, refreshed in the background ------------------------------------------

    def _listing(
        self,
        key: str,
        fetch: Callable[[], T],
        to_json: Callable[[T], Any] | None,
        from_json: Callable[[Any], T],
        refreshed: Callable[[T, T], None],
        *,
        store: Callable[[T], bool] | None = None,
        marked: bool = False,
    ) -> T:
        """Stale-while-revalidate once per session; from the service afterwards; the cache when offline."""

        def keep(value: T) -> None:
            if store is not None:
                store(value)
            elif to_json is not None:
                self.store.put_json(key, to_json(value))

        with self._lock:
            verified = key in self._verified
        if not verified and self.paint_from_cache:
            cached = self._cached(key, from_json)
            if cached is not None:
                value, stored_at = cached
                self._refresh_later(key, fetch, keep, lambda new: refreshed(value, new), stored_at)
                return self._marked(value, stored_at, refreshing=True) if marked else value
        try:
            value = fetch()
        except BaseException as exc:
            if not is_network_error(exc):
                raise
            cached = self._cached(key, from_json)
            if cached is None:
                raise
            return self._marked(cached[0], cached[1], refreshing=False) if marked else cached[0]
        with self._lock:
            self._verified[key] = time.monotonic()
        keep(value)
        return value

    def _cached(self, key: str, from_json: Callable[[Any], T]) -> tuple[T, float] | None:
        found = self.store.get_json_stored(key)
        if found is None:
            return None
        try:
            return from_json(found[0]), found[1]
        except (KeyError, TypeError, ValueError):
            self.store.delete(key)  # written by another version: a miss
            return None

    def _marked(self, value: T, stored_at: float, *, refreshing: bool) -> T:
        if isinstance(value, RunPage):
            when = _clock_text(stored_at)
            note = f"Cached {when} — refreshing…" if refreshing else f"Offline: cached {when}."
            return replace(value, note=f"{note} {value.note}".strip())  # type: ignore[return-value]
        return value

    def _refresh_later(
        self,
        key: str,
        fetch: Callable[[], T],
        keep: Callable[[T], None],
        refreshed: Callable[[T], None],
        painted_at: float | None = None,
    ) -> None:
        """Fetch ``key`` again in the background (once at a time), keep it, and report what changed.

        ``painted_at``: the listing shown meanwhile was stored then (the workspace's note says "Cached …").
        """
        with self._lock:
            if key in self._refreshing or self._closed:
                return
            self._refreshing.add(key)
            if painted_at is not None:
                self._stale_at = painted_at if self._stale_at is None else min(self._stale_at, painted_at)

        def work() -> None:
            try:
                value = fetch()
            except BaseException as exc:  # said through info() and the next poll
                with self._lock:
                    self.last_refresh_error = exc
                    if painted_at is not None and is_network_error(exc):
                        self._unrefreshed[key] = (fetch, keep, refreshed, painted_at)
                return
            finally:
                with self._lock:
                    self._refreshing.discard(key)
            with self._lock:
                self._verified[key] = time.monotonic()
                self.last_refresh_error = None
                if not self._refreshing:
                    self._stale_at = None  # every painted listing is fresh now
            keep(value)
            refreshed(value)
            if painted_at is not None:
                with self._lock:
                    self.listings_version += 1

        try:
            self._pool.submit(work)
        except RuntimeError:  # closed meanwhile
            with self._lock:
                self._refreshing.discard(key)

    def _fallback(
        self, key: str, fetch: Callable[[], T], to_json: Callable[[T], Any], from_json: Callable[[Any], T]
    ) -> T:
        try:
            value = fetch()
        except BaseException as exc:
            cached = self._cached(key, from_json) if is_network_error(exc) else None
            if cached is None:
                raise
            return cached[0]
        self.store.put_json(key, to_json(value))
        return value

    # -- what a finished run keeps -----------------------------------------------------------------------------

    def _keep_run(self, run: RunInfo, *, only_if_cached: bool = False) -> None:
        """Keep a finished run (replacing its copy); forget the copy of one that is not finished."""
        key = f"run\n{run.id}"
        if not run.status.is_terminal:
            self.store.delete(key)
            return
        if only_if_cached and self.store.stored_at(key) is None:
            return
        self.store.put_json(key, _run_json(run))

    def _saw(self, runs: list[RunInfo]) -> None:
        with self._lock:
            for run in runs:
                if run.status.is_terminal:
                    self._final.add(run.id)
                else:
                    self._final.discard(run.id)

    def _finished(self, run_id: str) -> bool:
        """Whether the run is known finished (seen so in this session, or kept so in the cache)."""
        with self._lock:
            if run_id in self._final:
                return True
        cached = self._cached(f"run\n{run_id}", _run_from)
        return cached is not None and cached[0].status.is_terminal

    def _final_value(
        self,
        key: str,
        run_id: str,
        fetch: Callable[[], T],
        to_json: Callable[[T], Any] | None,
        from_json: Callable[[Any], T] | None,
        *,
        strict_keys: bool = False,
        keep_if: Callable[[T], bool] = lambda _v: True,
    ) -> T:
        """Something of a run that cannot change once it finished: from the cache, or fetched once (kept only when
        the run was known finished before the fetch); a run that has not finished is always asked."""
        if from_json is not None:
            cached = self._cached(key, from_json)
            if cached is not None:
                return cached[0]
        finished = self._finished(run_id)
        if not finished:
            return fetch()

        def fetch_and_keep() -> T:
            value = fetch()
            if to_json is not None and keep_if(value):
                self.store.put_json(key, to_json(value), strict_keys=strict_keys)
            return value

        kept = (lambda: None) if from_json is None else (lambda: _or_none(self._cached(key, from_json)))
        return self._flights.kept_or_fetched(key, kept, fetch_and_keep)


def _open_error(opening: Future[WorkspaceBackend]) -> BaseException | None:
    """Why an open failed (None while it runs, when it worked, or when it was cancelled at close)."""
    if not opening.done() or opening.cancelled():
        return None
    return opening.exception()


def _close_opened(opening: Future[WorkspaceBackend]) -> None:
    """An inner backend that opened after its wrapper closed is closed too."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
