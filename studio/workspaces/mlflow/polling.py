"""Live refresh of an MLflow server by polling: MLflow has no change feed.

A poll is two ``runs/search`` requests over every experiment: up to ``POLL_PAGE`` runs that are Running (a
Scheduled run is caught as one of the newest: MLflow compares statuses one at a time) and the ``POLL_PAGE`` newest runs, plus one ``runs/get`` for each run (at most ``MAX_GONE``) that was
active at the last poll and no longer is. Each run is fingerprinted (status, end time, name, tags, params, last
metric values and steps); a run whose fingerprint differs from the last poll's, or that is new, is a change.
``change_token`` polls at most once per ``POLL_S`` seconds and answers from memory in between, so the window's
one-second timer costs at most two or three requests per ``POLL_S`` however many runs the server holds.

Tokens count changes from ``BASE`` on. A token below ``BASE`` (0: "everything") lists every run of the server
once, oldest first, by its index in that listing, then goes on with the changes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from studio.core.types import RunInfo
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.errors import MlflowNotFoundError
from studio.workspaces.mlflow.rest.types import Run

POLL_S = 3.0
POLL_PAGE = 200
MAX_GONE = 20
BASE = 1 << 40
KEPT_CHANGES = 10_000
LISTING_PAGE = 1000

ToInfos = Callable[[list[Run]], list[RunInfo]]
"""RunInfos of runs of any experiments (the backend names their experiments and counts children)."""
Observe = Callable[[list[Run]], dict[str, object]]
"""What else a poll sees of some runs, by run id (the Azure kind: each active job's own status)."""


def fingerprint(run: Run) -> tuple[object, ...]:
    """What a change of the run changes."""
    metrics = tuple(sorted((k, m.value, m.step, m.timestamp_ms) for k, m in run.metrics.items()))
    return (
        run.status,
        run.end_time_ms,
        run.run_name,
        tuple(sorted(run.tags.items())),
        tuple(sorted(run.params.items())),
        metrics,
    )


class ChangePoller:
    """``change_token`` and ``list_changed_runs`` for one server."""

    def __init__(
        self,
        client: MlflowRestClient,
        experiment_ids: Callable[[], list[str]],
        to_infos: ToInfos,
        interval: float = POLL_S,
        *,
        observe: Observe | None = None,
    ) -> None:
        """``observe``: what else changes a run (its value joins the run's fingerprint)."""
        self.client = client
        self.observe = observe
        self.experiment_ids = experiment_ids
        self.to_infos = to_infos
        self.interval = interval
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._seen: dict[str, tuple[object, ...]] = {}
        self._active: set[str] = set()
        self._changes: deque[tuple[int, RunInfo]] = deque(maxlen=KEPT_CHANGES)
        self._seq = BASE
        self._polled_at: float | None = None
        self.polls = 0

    def token(self) -> int:
        """The current change token, polling first when the last poll is older than the interval."""
        with self._poll_lock:
            if self._polled_at is None or time.monotonic() - self._polled_at >= self.interval:
                self._poll()
        with self._lock:
            return self._seq

    def note(self, run: Run, info: RunInfo, observed: object = None) -> None:
        """A change this backend made itself (an edit): a change at once, without waiting for a poll.

        ``observed``: what ``observe`` would now say of the run (so the next poll does not count it again)."""
        with self._lock:
            self._seen[run.run_id] = (*fingerprint(run), observed)
            self._record([info])

    def _poll(self) -> None:
        ids = self.experiment_ids()
        runs: dict[str, Run] = {}
        if ids:
            active = self.client.search_runs(ids, filter="attributes.status = 'RUNNING'", max_results=POLL_PAGE)
            newest = self.client.search_runs(ids, order_by=["attributes.start_time DESC"], max_results=POLL_PAGE)
            runs = {r.run_id: r for r in [*newest.items, *active.items]}
        now_active = {r.run_id for r in runs.values() if r.status in ("RUNNING", "SCHEDULED")}
        for run_id in sorted(self._active - set(runs))[:MAX_GONE]:
            try:
                runs[run_id] = self.client.get_run(run_id)
            except MlflowNotFoundError:
                continue  # deleted meanwhile
        seen = self.observe(list(runs.values())) if self.observe is not None and runs else {}
        first = self._polled_at is None
        self._polled_at = time.monotonic()
        self.polls += 1

        def print_of(run: Run) -> tuple[object, ...]:
            return (*fingerprint(run), seen.get(run.run_id))

        with self._lock:
            changed = [r for r in runs.values() if self._seen.get(r.run_id) != print_of(r)]
            for run in runs.values():
                self._seen[run.run_id] = print_of(run)
            self._active = now_active
        if changed and not first:
            infos = self.to_infos(sorted(changed, key=lambda r: (r.start_time_ms or 0, r.run_id)))
            with self._lock:
                self._record(infos)

    def _record(self, infos: list[RunInfo]) -> None:
        for info in infos:
            self._seq += 1
            self._changes.append((self._seq, info))

    def changed_since(self, since: int, limit: int) -> tuple[list[RunInfo], int]:
        """Runs changed after token ``since``, oldest change first, and the token to ask from next."""
        limit = max(1, limit)
        if since < BASE:
            return self._listing_from(since, limit)
        with self._lock:
            later = [(seq, info) for seq, info in self._changes if seq > since]
            if len(later) > limit:
                return [info for _, info in later[:limit]], later[limit - 1][0]
            return [info for _, info in later], max(self._seq, since)

    def _listing_from(self, index: int, limit: int) -> tuple[list[RunInfo], int]:
        ids = self.experiment_ids()
        everything: list[Run] = []
        token: str | None = None
        while ids:
            page = self.client.search_runs(
                ids, order_by=["attributes.start_time ASC"], max_results=LISTING_PAGE, page_token=token
            )
            everything += page.items
            token = page.next_page_token
            if not token or len(everything) >= index + limit + 1:
                break
        chunk = everything[index : index + limit]
        if index + limit < len(everything) or token:
            return self.to_infos(chunk), index + len(chunk)
        with self._lock:
            seq = self._seq
        return self.to_infos(chunk), seq
