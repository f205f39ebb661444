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

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

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
from studio.workspaces.azure.offline_codec import (
    _dumps,
    _experiments_from,
    _experiments_json,
    _page_from,
    _page_json,
    _records_from,
    _run_from,
    _run_json,
    _series_bytes,
    _series_from,
    _slice,
)
from studio.workspaces.azure.offline_store import MAX_BYTES, OfflineStore
from studio.workspaces.azure.offline_sync import (
    BASE,
    CACHED_PAGES,
    KEPT_CHANGES,
    RETRY_OPEN_S,
    REVALIDATE_S,
    CacheSync,
    Inner,
    _close_opened,
    _open_error,
    is_network_error,
)

__all__ = [
    "BASE",
    "CACHED_PAGES",
    "KEPT_CHANGES",
    "RETRY_OPEN_S",
    "REVALIDATE_S",
    "CachedBackend",
    "Inner",
    "is_network_error",
    "open_cached",
]

_DEFAULT_QUERY = RunQuery()


def open_cached(
    location: str,
    open_inner: Callable[[], WorkspaceBackend],
    *,
    root: Path | None = None,
    max_bytes: int = MAX_BYTES,
    paint_from_cache: bool = True,
    compute: bool = True,
) -> CachedBackend:
    """The workspace at ``location`` behind its offline cache (see the module docstring for when it waits).

    ``paint_from_cache`` False (the command line, the SDK, scripts: nobody sees a "Cached" mark there) asks the
    service first for everything that can change and answers from the cache only without a network; the inner
    backend is then opened here, and a workspace cached before still opens when that fails for want of a network.
    ``compute`` (the Azure kind's backend has compute): a ``CachedComputeBackend``, whose compute and submit calls
    go to the inner backend (``offline_compute``).
    """
    if compute:
        from studio.workspaces.azure.offline_compute import CachedComputeBackend

        cls: type[CachedBackend] = CachedComputeBackend
    else:
        cls = CachedBackend
    store = OfflineStore(location, root, max_bytes)
    cached = store.get_meta("info") is not None
    if cached and paint_from_cache:
        return cls(open_inner, location, store=store)
    try:
        inner = open_inner()
    except BaseException as exc:
        if cached and is_network_error(exc):
            return cls(open_inner, location, store=store, paint_from_cache=False)
        store.close()
        raise
    return cls(inner, location, store=store, paint_from_cache=paint_from_cache)


class CachedBackend(CacheSync):
    """A ``WorkspaceBackend`` answering from an offline cache first (see the module docstring)."""

    # -- workspace -----------------------------------------------------------------------------------

    def info(self) -> WorkspaceInfo:
        """The inner backend's info (the cached one while it opens), with ``note`` and ``offline`` said here."""
        with self._lock:
            info = self._info
        if info is None:
            info = self._ready().info()
        return replace(info, note=self._note(), offline=self.offline)

    def change_token(self) -> int:
        """This wrapper's token: the inner backend is polled (at its pace) and its changes taken in; never raises for
        want of a network (``list_changed_runs`` does), nor waits for the inner backend to open.

        The token is the one from before the changes this call takes in: a window starting from it (live refresh's
        first token, asked while its first listings are read) is told of them. Else a change made while that first
        poll ran, such as Azure's refined status of a job the first page showed as Running, would be behind the
        token and never reported."""
        with self._lock:
            inner, opening, before = self._inner, self._opening, self._seq
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
        return before

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
