"""Azure's own statuses of runs: MLflow says Scheduled/Running for an active job whatever Azure's status is.

``JobStatuses`` asks the jobs' statuses concurrently (``STATUS_WORKERS`` at a time) and keeps them
``STATUS_TTL_S``; ``StatusRefiner`` asks stale ones in the background and reports each that differs from the
status shown; ``refined`` puts Azure's status on a RunInfo; ``uses_status`` says whether a query needs exact
statuses. Used by ``backend.AzureBackend``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from studio.core.errors import StudioError
from studio.core.types import RunInfo, RunQuery
from studio.workspaces.azure.status_map import BEFORE_START, run_status
from studio.workspaces.mlflow.rest.types import Run

log = logging.getLogger(__name__)

STATUS_TTL_S = 3.0
STATUS_WORKERS = 8
MAX_REFINED = 500
"""At most this many active runs get their Azure status per call; more keep MLflow's coarse status."""

Shown = tuple[Run, RunInfo, str]
"""A run, its RunInfo as shown and the status value shown with it."""


class JobStatuses:
    """Azure's status of jobs, fetched concurrently on a pool of its own and kept ``ttl`` seconds."""

    def __init__(self, fetch: Callable[[str], str | None], *, ttl: float = STATUS_TTL_S) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self._pool = ThreadPoolExecutor(max_workers=STATUS_WORKERS, thread_name_prefix="azure-status")
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, str]] = {}
        self.fetched = 0

    def get_many(self, names: list[str], *, fresh: bool = False, max_age: float | None = None) -> dict[str, str]:
        """The Azure status of each job that has one (a job whose status cannot be read is left out); kept ones
        younger than ``max_age`` (default ``ttl``) are not asked again."""
        now = time.monotonic()
        ttl = self.ttl if max_age is None else max_age
        found: dict[str, str] = {}
        missing: list[str] = []
        with self._lock:
            for name in dict.fromkeys(names):
                kept = self._kept.get(name)
                if kept is not None and not fresh and now - kept[0] < ttl:
                    found[name] = kept[1]
                else:
                    missing.append(name)
        futures = {name: self._pool.submit(self._fetch, name) for name in missing[:MAX_REFINED]}
        for name, future in futures.items():
            try:
                status = future.result()
            except StudioError as exc:  # MLflow's coarse status stays: the listing itself did not fail
                log.debug("status of job %s not read: %s", name, exc)
                continue
            if status:
                found[name] = status
                self.note(name, status)
        self.fetched += len(futures)
        return found

    def known(self, names: list[str]) -> tuple[dict[str, str], list[str]]:
        """(the last status known of each job, however old; the jobs to ask again: unknown or older than ``ttl``)."""
        now = time.monotonic()
        found: dict[str, str] = {}
        stale: list[str] = []
        with self._lock:
            for name in dict.fromkeys(names):
                kept = self._kept.get(name)
                if kept is not None:
                    found[name] = kept[1]
                if kept is None or now - kept[0] >= self.ttl:
                    stale.append(name)
        return found, stale

    def note(self, name: str, status: str) -> None:
        """Keep a status this backend learned elsewhere (run history's children, a cancel)."""
        with self._lock:
            if len(self._kept) > 20_000:
                self._kept.clear()
            self._kept[name] = (time.monotonic(), status)

    def close(self) -> None:
        """Stop the pool."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class StatusRefiner:
    """Asks stale statuses in the background (one thread; the asking itself on ``JobStatuses``' pool) and reports
    each one that differs from the status shown through ``report(run, info, status)``."""

    def __init__(self, statuses: JobStatuses, report: Callable[[Run, RunInfo, str], None]) -> None:
        self.statuses = statuses
        self._report = report
        self._refiner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="azure-refine")
        self._refining: set[str] = set()
        self._refining_lock = threading.Lock()

    def later(self, shown: list[Shown]) -> None:
        """Ask the statuses of ``shown`` in the background (a run already being asked is not asked twice)."""
        with self._refining_lock:
            shown = [item for item in shown if item[0].run_id not in self._refining]
            self._refining.update(item[0].run_id for item in shown)
        if not shown:
            return
        try:
            self._refiner.submit(self._refine_now, shown)
        except RuntimeError:  # closing
            with self._refining_lock:
                self._refining.difference_update(item[0].run_id for item in shown)

    def _refine_now(self, shown: list[Shown]) -> None:
        """Ask the statuses (on the status pool) and report each one that differs from the status shown."""
        try:
            found = self.statuses.get_many([run.run_id for run, _, _ in shown], fresh=True)
            for run, info, shown_status in shown:
                status = found.get(run.run_id)
                if status and refined(info, status).status.value != shown_status:
                    self._report(run, refined(info, status), status)
        except Exception as exc:  # a background refinement never fails a listing; the coarse status stays
            log.debug("statuses not refined: %s", exc)
        finally:
            with self._refining_lock:
                self._refining.difference_update(run.run_id for run, _, _ in shown)

    def close(self) -> None:
        """Stop the background thread (what it has not started is dropped)."""
        self._refiner.shutdown(wait=True, cancel_futures=True)


def uses_status(query: RunQuery | None) -> bool:
    """Whether the query filters or orders by status (then exact statuses matter to which runs it gives)."""
    if query is None:
        return False
    text = " ".join((query.filter, *query.order_by)).lower()
    return query.status is not None or "status" in text


def refined(info: RunInfo, azure_status: str | None) -> RunInfo:
    """``info`` with Azure's own status of the job (MLflow's coarse one kept when Azure said none)."""
    if not azure_status:
        return info
    status, reason = run_status(azure_status)
    if status is info.status and not reason:
        return info
    started = None if status in BEFORE_START else (info.started_at if info.started_at is not None else info.created_at)
    ended = info.ended_at if status.is_terminal else None
    return replace(info, status=status, started_at=started, ended_at=ended, status_reason=reason)
