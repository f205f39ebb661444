"""CachedBackend: a workspace that paints from its offline cache first, refreshes behind it, and stays browsable
when the network is gone.

It wraps any ``WorkspaceBackend`` (the Azure kind's ``AzureBackend``) by delegation and keeps, per workspace, in an
``OfflineStore`` (SQLite in the user cache folder, bounded, no secrets):

- the experiment list, and the first ``CACHED_PAGES`` pages of each experiment's runs in the default query;
- of finished runs (Completed, Failed, Canceled): the run, its details, status history, metric list, numeric series
  (never fetched twice), other metrics' records, file listings and (when every child finished) children;
- the count and the column names of each experiment, answered from the cache only when the network is gone.

How it answers:

- Listings (experiments, default first pages) not yet refreshed in this session are answered from the cache at
  once, marked as cached (``RunPage.note``, ``WorkspaceInfo.note``), and fetched again in the background; a run
  whose refreshed copy differs from what was painted becomes a change (``change_token`` moves,
  ``list_changed_runs`` returns it), so the window's live refresh updates the rows. A refreshed experiment list that
  differs bumps ``experiments_version``. Once refreshed, listings go to the service (F5 is fresh) and are kept.
- A finished run is answered from the cache and checked in the background at most once per ``revalidate_s``; what
  else a finished run has never changes and is never asked twice. A run that has not finished is always asked, and
  nothing of it is kept as final: a series is kept only when the run was known finished *before* it was fetched.
- With the network gone (the inner backend's errors whose class says unreachable or timeout, or it cannot even be
  opened), what is cached is answered, ``info().offline`` is True and ``info().note`` says so; what is not raises the
  inner error (a sentence). ``list_changed_runs`` raises it too while offline, so the window's live refresh says it
  once (``change_token`` never raises for it: the refresh keeps its timer and goes on when the network is back).

Without anyone to see a "Cached" mark (the command line, the SDK), ``paint_from_cache=False`` asks the service first
for everything that can change; the cache then only answers without a network and spares what never changes.

Change tokens of this wrapper count from ``BASE``; a token below (0: "everything") is the inner backend's own and is
passed to it. Opening: ``open_cached`` returns at once when the workspace was cached before (the inner backend opens
in the background), so reopening paints with no network answer; otherwise it opens the inner backend first, so an
open that fails says why as before.
"""

from __future__ import annotations

import datetime as _dt
import json
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from studio.core.backend import DEFAULT_PAGE_SIZE, WorkspaceBackend
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import (
    ExperimentInfo,
    FileInfo,
    MetricInfo,
    MetricKind,
    MetricRecord,
    MetricSeries,
    RunInfo,
    RunKeys,
    RunPage,
    RunQuery,
    StatusChange,
    WorkspaceInfo,
)
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
_DEFAULT_QUERY = RunQuery()

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


def open_cached(
    location: str,
    open_inner: Callable[[], WorkspaceBackend],
    *,
    root: Path | None = None,
    max_bytes: int = MAX_BYTES,
    paint_from_cache: bool = True,
) -> CachedBackend:
    """The workspace at ``location`` behind its offline cache (see the module docstring for when it waits).

    ``paint_from_cache`` False (the command line, the SDK, scripts: nobody sees a "Cached" mark there) asks the
    service first for everything that can change and answers from the cache only without a network; the inner
    backend is then opened here, and a workspace cached before still opens when that fails for want of a network.
    """
    store = OfflineStore(location, root, max_bytes)
    cached = store.get_meta("info") is not None
    if cached and paint_from_cache:
        return CachedBackend(open_inner, location, store=store)
    try:
        inner = open_inner()
    except BaseException as exc:
        if cached and is_network_error(exc):
            return CachedBackend(open_inner, location, store=store, paint_from_cache=False)
        store.close()
        raise
    return CachedBackend(inner, location, store=store, paint_from_cache=paint_from_cache)


class CachedBackend:
    """A ``WorkspaceBackend`` answering from an offline cache first (see the module docstring)."""

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
        """Take an opened inner backend and remember its info. Its change token is first asked at the first poll
        (``_pull``), not here: a remote kind polls its service for it, which would hold up the opening."""
        info = inner.info()
        self.store.put_meta("info", json.dumps(asdict(info)))
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

    # -- workspace -----------------------------------------------------------------------------------

    def info(self) -> WorkspaceInfo:
        """The inner backend's info (the cached one while it opens), with ``note`` and ``offline`` said here."""
        with self._lock:
            info = self._info
        if info is None:
            info = self._ready().info()
        return replace(info, note=self._note(), offline=self.offline)

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

    def change_token(self) -> int:
        """This wrapper's token: the inner backend is polled (at its pace) and its changes taken in; never raises for
        want of a network (``list_changed_runs`` does), nor waits for the inner backend to open."""
        with self._lock:
            inner, opening = self._inner, self._opening
        if inner is None:
            if opening is not None and _open_error(opening) is not None and self._retry_due():
                self._start_open()
        else:
            try:
                inner.change_token()
                self._pull(inner)
            except Exception as exc:
                if not is_network_error(exc):
                    raise
                self._failed(exc)
            else:
                self._worked()
        with self._lock:
            return self._seq

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[RunInfo], int]:
        """Runs changed after ``since`` (this wrapper's token: refreshed from the cache's copy, edited here, or
        changed in the service); a token below ``BASE`` is the inner backend's and is passed on."""
        if since < BASE:
            return self._call("list_changed_runs", since, limit)  # type: ignore[no-any-return]
        inner = self._ready()
        try:
            self._pull(inner)
        except BaseException as exc:
            self._failed(exc)
            raise
        with self._lock:
            offline = self._offline
        if offline is not None:  # the window's live refresh says it (once), and goes on polling
            raise offline.with_traceback(None)
        limit = max(1, limit)
        with self._lock:
            later = [(seq, info) for seq, info in self._changes if seq > since]
            if len(later) > limit:
                return [info for _, info in later[:limit]], later[limit - 1][0]
            return [info for _, info in later], max(self._seq, since)

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

    # -- experiments and pages ----------------------------------------------------------------------------

    def list_experiments(self) -> list[ExperimentInfo]:
        """From the cache at once on the first call of the session (refreshed behind it), else from the service."""
        return self._listing(
            "experiments",
            lambda: self._call("list_experiments"),
            _experiments_json,
            _experiments_from,
            self._experiments_refreshed,
        )

    def _experiments_refreshed(self, old: list[ExperimentInfo], new: list[ExperimentInfo]) -> None:
        if old != new:
            with self._lock:
                self.experiments_version += 1

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """The default query's first pages from the cache at once on the first call of the session (marked as
        cached, refreshed behind it); anything else from the service."""
        if (query or _DEFAULT_QUERY) != _DEFAULT_QUERY:
            return self._call("list_runs", experiment, query, page_token, page_size)  # type: ignore[no-any-return]
        key = f"page\n{experiment}\n{page_token or ''}\n{page_size}"

        def fetch() -> RunPage:
            page: RunPage = self._call("list_runs", experiment, query, page_token, page_size)
            self._saw(page.runs)
            return page

        def store(page: RunPage) -> bool:
            if page_token is not None and not self._is_cached_token(experiment, page_token, page_size):
                return False  # only the chain of pages from the first one is kept
            return self.store.put_json(key, _page_json(page))

        return self._listing(key, fetch, None, _page_from, self._page_refreshed, store=store, marked=True)

    def _is_cached_token(self, experiment: str, token: str, page_size: int) -> bool:
        """Whether ``token`` is the next token of one of the first CACHED_PAGES - 1 cached pages."""
        page_token: str | None = None
        for _ in range(CACHED_PAGES - 1):
            cached = self.store.get_json(f"page\n{experiment}\n{page_token or ''}\n{page_size}")
            if cached is None or cached.get("next_token") is None:
                return False
            if cached["next_token"] == token:
                return True
            page_token = cached["next_token"]
        return False

    def _page_refreshed(self, old: RunPage, new: RunPage) -> None:
        """Runs of the refreshed page that differ from the painted ones (or are new) are changes."""
        painted = {r.id: _dumps(_run_json(r)) for r in old.runs}
        changed = [r for r in new.runs if painted.get(r.id) != _dumps(_run_json(r))]
        with self._lock:
            for run in old.runs:  # what was painted counts as seen: a change is a difference from it
                self._last_seen.setdefault(run.id, painted[run.id])
        if changed:
            self._record(list(reversed(changed)))  # oldest change first: new runs land newest on top

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

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """From the service; the default query's count is kept for when the network is gone."""
        key = f"count\n{experiment}"
        if (query or _DEFAULT_QUERY) != _DEFAULT_QUERY:
            return self._call("count_runs", experiment, query)  # type: ignore[no-any-return]
        return self._fallback(key, lambda: self._call("count_runs", experiment, query), lambda n: n, int)

    def list_run_keys(self, experiment: str) -> RunKeys:
        """From the service; kept for when the network is gone."""
        return self._fallback(
            f"keys\n{experiment}", lambda: self._call("list_run_keys", experiment), asdict, lambda d: RunKeys(**d)
        )

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

    # -- runs --------------------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        """A finished run from the cache (checked in the background at most once per ``revalidate_s``); a run that
        has not finished from the service."""
        key = f"run\n{run_id}"
        cached = self._cached(key, _run_from) if self.paint_from_cache else None
        if cached is not None:
            run = cached[0]
            with self._lock:
                checked = self._verified.get(key)
            if checked is None or time.monotonic() - checked >= self.revalidate_s:
                self._refresh_later(
                    key, lambda: self._fetch_run(run_id), lambda _r: None, lambda new: self._run_refreshed(run, new)
                )
            self._saw([run])
            return run
        try:
            return self._fetch_run(run_id)
        except BaseException as exc:
            if is_network_error(exc):
                kept = self._cached(key, _run_from)
                if kept is not None:
                    return kept[0]
            raise

    def _fetch_run(self, run_id: str) -> RunInfo:
        run: RunInfo = self._call("get_run", run_id)
        with self._lock:
            self._verified[f"run\n{run_id}"] = time.monotonic()
        self._saw([run])
        self._keep_run(run)
        return run

    def _run_refreshed(self, old: RunInfo, new: RunInfo) -> None:
        if _dumps(_run_json(old)) != _dumps(_run_json(new)):
            with self._lock:
                self._last_seen.setdefault(old.id, _dumps(_run_json(old)))
            self._record([new])

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

    def get_run_details(self, run_id: str) -> dict[str, object]:
        """A finished run's details from the cache (unless they hold something that looks like a secret)."""
        return self._final_value(
            f"details\n{run_id}", run_id, lambda: self._call("get_run_details", run_id), dict, dict, strict_keys=True
        )

    def list_children(self, run_id: str) -> list[RunInfo]:
        """Kept once the run and every child finished."""
        return self._final_value(
            f"children\n{run_id}",
            run_id,
            lambda: self._call("list_children", run_id),
            lambda runs: [_run_json(r) for r in runs],
            lambda data: [_run_from(d) for d in data],
            keep_if=lambda runs: all(r.status.is_terminal for r in runs),
        )

    def status_history(self, run_id: str) -> list[StatusChange]:
        """Kept once the run finished."""
        return self._final_value(
            f"history\n{run_id}",
            run_id,
            lambda: self._call("status_history", run_id),
            lambda changes: [[c.status.value, c.at] for c in changes],
            lambda data: [StatusChange(RunStatus(s), float(at)) for s, at in data],
        )

    def list_metrics(self, run_id: str) -> list[MetricInfo]:
        """Kept once the run finished."""
        return self._final_value(
            f"metrics\n{run_id}",
            run_id,
            lambda: self._call("list_metrics", run_id),
            lambda infos: [{**asdict(m), "kind": m.kind.value} for m in infos],
            lambda data: [MetricInfo(**{**d, "kind": MetricKind(d["kind"])}) for d in data],
        )

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        """A finished run's series is fetched once (whole), kept, and sliced from ``start`` after."""
        key = f"series\n{run_id}\n{name}"
        start = max(0, start)
        entry = self.store.get(key)
        if entry is not None:
            whole = _series_from(name, entry.value)
            if whole is not None:
                return _slice(whole, start)
            self.store.delete(key)
        if start > 0 or not self._finished(run_id):
            return self._call("get_series", run_id, name, start)  # type: ignore[no-any-return]

        def fetch_and_keep() -> MetricSeries:
            series: MetricSeries = self._call("get_series", run_id, name, 0)
            self.store.put(key, _series_bytes(series))
            return series

        def kept() -> MetricSeries | None:
            found = self.store.get(key)
            return None if found is None else _series_from(name, found.value)

        return self._flights.kept_or_fetched(key, kept, fetch_and_keep)

    def get_metric_records(self, run_id: str, name: str, start: int = 0) -> list[MetricRecord]:
        """A finished run's records are fetched once (all), kept when they are JSON, and sliced from ``start``."""
        key = f"records\n{run_id}\n{name}"
        start = max(0, start)
        cached = self._cached(key, _records_from)
        if cached is not None:
            return cached[0][start:]
        if start > 0 or not self._finished(run_id):
            return self._call("get_metric_records", run_id, name, start)  # type: ignore[no-any-return]
        records = self._final_value(
            key,
            run_id,
            lambda: self._call("get_metric_records", run_id, name, 0),
            lambda recs: [[r.value, r.step, r.time] for r in recs],
            _records_from,
        )
        return records

    def list_files(self, run_id: str, prefix: str = "") -> list[FileInfo]:
        """A finished run's listings are kept, per prefix."""
        return self._final_value(
            f"files\n{run_id}\n{prefix}",
            run_id,
            lambda: self._call("list_files", run_id, prefix),
            lambda files: [[f.path, f.size, f.modified_at] for f in files],
            lambda data: [FileInfo(str(p), int(s), float(m)) for p, s, m in data],
        )

    def read_file_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        """From the service (file contents are not cached)."""
        return self._call("read_file_range", run_id, path, offset, length)  # type: ignore[no-any-return]

    def download_files(
        self,
        run_id: str,
        paths: list[str],
        destination: Path,
        *,
        strip_prefix: str = "",
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Path]:
        """From the service."""
        return self._call(  # type: ignore[no-any-return]
            "download_files",
            run_id,
            paths,
            destination,
            strip_prefix=strip_prefix,
            overwrite=overwrite,
            progress=progress,
            cancel=cancel,
        )

    # -- edits ------------------------------------------------------------------------------------------

    def set_run_metadata(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunInfo:
        """Edited in the service; the cached copy follows and the change is reported at once."""
        run: RunInfo = self._call(
            "set_run_metadata", run_id, display_name=display_name, description=description, tags=tags
        )
        self._record([run])
        self._keep_run(run, only_if_cached=True)
        return run

    def cancel_run(self, run_id: str) -> RunStatus:
        """In the service (a run that can be cancelled has nothing kept as final)."""
        return self._call("cancel_run", run_id)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the background refreshes, close the inner backend (once it opened) and the cache file."""
        with self._lock:
            self._closed = True
            inner, opening = self._inner, self._opening
            # The errors kept go: an SDK error holds its HTTP response, and so a pooled connection, until collected.
            self.last_refresh_error = self._offline = None
            if opening is not None and opening.done():
                self._opening = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            if inner is not None:
                inner.close()
            elif opening is not None:
                opening.add_done_callback(_close_opened)
        finally:
            self.store.close()

    def __repr__(self) -> str:
        return f"CachedBackend({self.location!r})"


def _open_error(opening: Future[WorkspaceBackend]) -> BaseException | None:
    """Why an open failed (None while it runs, when it worked, or when it was cancelled at close)."""
    if not opening.done() or opening.cancelled():
        return None
    return opening.exception()


def _close_opened(opening: Future[WorkspaceBackend]) -> None:
    """An inner backend that opened after its wrapper closed is closed too."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


# -- encoding -------------------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _or_none(found: tuple[T, float] | None) -> T | None:
    return None if found is None else found[0]


def _clock_text(at: float) -> str:
    when = _dt.datetime.fromtimestamp(at)
    if when.date() == _dt.date.today():
        return when.strftime("%H:%M")
    return f"{when.strftime('%b')} {when.day} {when.strftime('%H:%M')}"


def _info_from_json(text: str | None) -> WorkspaceInfo | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
        return WorkspaceInfo(**{k: v for k, v in data.items() if k not in ("note", "offline")})
    except (TypeError, ValueError):
        return None


def _run_json(run: RunInfo) -> dict[str, Any]:
    data = asdict(run)
    data["status"] = run.status.value
    return data


def _run_from(data: dict[str, Any]) -> RunInfo:
    return RunInfo(**{**data, "status": RunStatus(data["status"])})


def _experiments_json(experiments: list[ExperimentInfo]) -> list[dict[str, Any]]:
    return [asdict(e) for e in experiments]


def _experiments_from(data: list[dict[str, Any]]) -> list[ExperimentInfo]:
    return [ExperimentInfo(**d) for d in data]


def _page_json(page: RunPage) -> dict[str, Any]:
    return {"runs": [_run_json(r) for r in page.runs], "next_token": page.next_token, "note": page.note}


def _page_from(data: dict[str, Any]) -> RunPage:
    return RunPage([_run_from(r) for r in data["runs"]], data["next_token"], data.get("note", ""))


def _records_from(data: list[list[Any]]) -> list[MetricRecord]:
    return [MetricRecord(value, int(step), float(at)) for value, step, at in data]


_SERIES_HEAD = struct.Struct("<4sQQ")  # magic, start, points


def _series_bytes(series: MetricSeries) -> bytes:
    n = len(series)
    return b"".join(
        (
            _SERIES_HEAD.pack(b"MS01", series.start, n),
            np.ascontiguousarray(series.steps, dtype="<i8").tobytes(),
            np.ascontiguousarray(series.values, dtype="<f8").tobytes(),
            np.ascontiguousarray(series.times, dtype="<f8").tobytes(),
        )
    )


def _series_from(name: str, data: bytes) -> MetricSeries | None:
    """The series kept in ``data``, or None when it is not one (damaged)."""
    if len(data) < _SERIES_HEAD.size:
        return None
    magic, start, n = _SERIES_HEAD.unpack_from(data)
    if magic != b"MS01" or len(data) != _SERIES_HEAD.size + 24 * n or start != 0:
        return None
    at = _SERIES_HEAD.size
    steps = np.frombuffer(data, dtype="<i8", count=n, offset=at).astype(np.int64)
    values = np.frombuffer(data, dtype="<f8", count=n, offset=at + 8 * n).astype(np.float64)
    times = np.frombuffer(data, dtype="<f8", count=n, offset=at + 16 * n).astype(np.float64)
    return MetricSeries(name=name, steps=steps, values=values, times=times, start=0)


def _slice(series: MetricSeries, start: int) -> MetricSeries:
    if start == 0:
        return series
    return replace(
        series, steps=series.steps[start:], values=series.values[start:], times=series.times[start:], start=start
    )
