"""MlflowBackend: an MLflow tracking server as a workspace, over its REST API (no ``mlflow`` import).

What it costs (round trips; each may take the network's latency):
- ``list_experiments``: one ``experiments/search`` page per 1,000 experiments, then one ``runs/search`` of 100
  top-level runs per experiment (concurrent, 8 at a time) for the counts ("100+" beyond).
- ``list_runs``: a page in an order MLflow shares is one ``runs/search`` (and beside it one for the experiment's
  child counts, kept 5 s; a first page holds at most 50 runs); a part of the query the server cannot answer is checked here on larger server pages, and an
  order it cannot give makes the backend read every matching run in the background, the runs table getting the
  first page of what is sorted so far at once (see ``run_search`` and ``run_scan``).
- ``count_runs``: every page of the answer (MLflow has no count), kept 5 s.
- opening a run: ``runs/get`` (kept 1 s), then one concurrent round of ``metrics/get-history`` beside two rounds of
  ``artifacts/list`` (``run_metrics``): three round trips to the first chart. The same request asked from two
  places at once (the Overview and the Metrics tab) goes out once (``SingleFlight``).
- live refresh: ``polling.ChangePoller``, two or three requests per 3 s whatever the server's size.
MLflow cannot stop a run (it only records what scripts send): ``cancel_run`` raises UnsupportedOperation and
``info().can_cancel`` is False, so the window offers no Cancel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from studio.core.backend import DEFAULT_PAGE_SIZE
from studio.core.errors import NotFoundError, UnsupportedOperation
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import (
    ExperimentInfo,
    FileInfo,
    MetricInfo,
    MetricRecord,
    MetricSeries,
    RunInfo,
    RunKeys,
    RunPage,
    RunQuery,
    StatusChange,
    WorkspaceInfo,
)
from studio.core.validation import check_run_id
from studio.workspaces.mlflow.mapping import (
    HIDDEN_TAGS,
    experiment_info,
    run_info,
    run_status,
    seconds,
    status_history,
)
from studio.workspaces.mlflow.polling import BASE as POLL_BASE
from studio.workspaces.mlflow.polling import ChangePoller
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.types import NOTE_TAG, PARENT_RUN_TAG, Experiment, Run
from studio.workspaces.mlflow.run_files import ArtifactFiles, RunFiles
from studio.workspaces.mlflow.run_metrics import RunMetrics
from studio.workspaces.mlflow.run_search import RunSearch
from studio.workspaces.mlflow.search_plan import MLFLOW, SearchDialect
from studio.workspaces.mlflow.single_flight import SingleFlight

COUNT_PAGE = 100
FIRST_PAGE = 50
RUN_TTL_S = 1.0
CHILDREN_TTL_S = 5.0
CHILDREN_SCAN_LIMIT = 10_000
MAX_TAG_KEY = 250
MAX_TAG_VALUE = 8000

FilesFactory = Callable[[ThreadPoolExecutor, SingleFlight], ArtifactFiles]
"""Makes a backend's run files from its listing pool and its single-flight table (another kind's storage)."""


class MlflowBackend:
    """One MLflow tracking server as a workspace (see the module docstring for what each call costs)."""

    def __init__(
        self,
        client: MlflowRestClient,
        location: str,
        name: str,
        *,
        files: FilesFactory | None = None,
        dialect: SearchDialect = MLFLOW,
    ) -> None:
        """``files`` replaces the server's artifacts with another store (the Azure kind's blob storage);
        ``dialect`` says what the server's ``runs/search`` answers."""
        self.client = client
        self.location = location
        self.name = name
        # Two pools, so that no task waits on a task of its own pool (8 list_metrics at once deadlocked on one):
        # the general one runs tasks that may wait; the listing one only sends single artifacts/list requests.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mlflow-backend")
        self._listing_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mlflow-listing")
        self._flights = SingleFlight()
        self.files: ArtifactFiles = (
            files(self._listing_pool, self._flights)
            if files is not None
            else RunFiles(client, self._listing_pool, self._flights)
        )
        self.metrics = RunMetrics(client, self.files, self._pool, self._flights)
        self.search = RunSearch(
            client, self._infos, dialect=dialect, submit=self._pool.submit, decorating=self._decorating
        )
        self.poller = ChangePoller(client, self._experiment_ids, self._infos_any, observe=self._observe)
        self._lock = threading.Lock()
        self._experiments: dict[str, Experiment] = {}
        self._names: dict[str, str] = {}
        self._runs: dict[str, tuple[float, Run]] = {}
        self._children: dict[str, tuple[float, dict[str, int]]] = {}

    def _decorating(self, query: RunQuery) -> tuple[str, Callable[[], AbstractContextManager[None]]]:
        """How a background read of runs for ``query`` decorates them (as any listing here; the Azure kind waits
        for exact statuses when a query uses them)."""
        return "", nullcontext

    def _observe(self, runs: list[Run]) -> dict[str, object]:
        """What a poll sees of runs beyond MLflow's record (nothing here; the Azure kind adds job statuses)."""
        return {}

    # -- workspace and experiments ----------------------------------------------------------------

    def info(self) -> WorkspaceInfo:
        """The server's name (host:port/prefix) and location; runs cannot be cancelled here."""
        return WorkspaceInfo(name=self.name, kind="mlflow", location=self.location, can_cancel=False)

    def change_token(self) -> int:
        """See ``polling``: at most one poll per few seconds."""
        return self.poller.token()

    @property
    def changes_start(self) -> int:
        """The token before this backend's first change, known without I/O (``list_changed_runs`` from it gives every
        change since the backend was made): what a wrapper follows it from (the Azure kind's offline cache)."""
        return POLL_BASE

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[RunInfo], int]:
        """Runs the polls (or this backend's own edits) saw change after ``since``."""
        return self.poller.changed_since(since, limit)

    def list_experiments(self) -> list[ExperimentInfo]:
        """Active experiments by name, each with its top-level runs counted up to 100."""
        experiments = self._refresh_experiments()

        def summary(experiment: Experiment) -> ExperimentInfo:
            page = self.search.page(
                experiment.experiment_id, experiment.name, RunQuery(), None, COUNT_PAGE, with_children=False
            )
            newest = max((r.created_at for r in page.runs), default=None)
            return experiment_info(experiment, len(page.runs), page.next_token is None, newest)

        return list(self._pool.map(summary, sorted(experiments, key=lambda e: e.name)))

    def _refresh_experiments(self) -> list[Experiment]:
        experiments = self.client.all_experiments()
        with self._lock:
            self._experiments = {e.name: e for e in experiments}
            self._names = {e.experiment_id: e.name for e in experiments}
        return experiments

    def _experiment(self, name: str) -> Experiment:
        with self._lock:
            found = self._experiments.get(name)
        if found is None:
            self._refresh_experiments()
            with self._lock:
                found = self._experiments.get(name)
        if found is None:
            raise NotFoundError(f"The MLflow server has no experiment {name!r}.")
        return found

    def _experiment_name(self, experiment_id: str) -> str:
        with self._lock:
            name = self._names.get(experiment_id)
        if name is None:
            self._refresh_experiments()
            with self._lock:
                name = self._names.get(experiment_id, experiment_id)
        return name

    def _experiment_ids(self) -> list[str]:
        with self._lock:
            known = list(self._names)
        return known or [e.experiment_id for e in self._refresh_experiments()]

    # -- runs -------------------------------------------------------------------------------------

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """A page of runs; the server answers what it can (see ``run_search``)."""
        query = query or RunQuery()
        found = self._experiment(experiment)
        if page_token is None:
            # The child counts are asked beside the page, not after it; a first page is kept small because the
            # server spends about a millisecond a run on it, and the table asks for more as it scrolls.
            self._pool.submit(self._child_counts, found.experiment_id)
            page_size = min(page_size, FIRST_PAGE)
        if query.parent_id is not None:
            self._run(query.parent_id)
        return self.search.page(found.experiment_id, found.name, query, page_token, page_size)

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """How many runs match (reads every page of the answer: MLflow has no count)."""
        query = query or RunQuery()
        found = self._experiment(experiment)
        if query.parent_id is not None:
            self._run(query.parent_id)
        return self.search.count(found.experiment_id, found.name, query)

    def list_run_keys(self, experiment: str) -> RunKeys:
        """Metric, param and tag names of the newest 5,000 top-level runs, with counts."""
        found = self._experiment(experiment)
        return self.search.keys(found.experiment_id, found.name)

    def get_run(self, run_id: str) -> RunInfo:
        """One run with its child count."""
        run = self._run(run_id)
        return self._infos([run], self._experiment_name(run.experiment_id))[0]

    def get_run_details(self, run_id: str) -> dict[str, object]:
        """What MLflow records of how the run was made: its source, user and artifact location."""
        run = self._run(run_id)
        details: dict[str, object] = {"runType": "mlflow", "target": "", "user": run.user_id}
        details["artifactUri"] = run.artifact_uri
        for key, field in (("mlflow.source.name", "script"), ("mlflow.source.type", "sourceType")):
            if key in run.tags:
                details[field] = run.tags[key]
        if "mlflow.source.git.commit" in run.tags:
            details["gitCommit"] = run.tags["mlflow.source.git.commit"]
        return details

    def list_children(self, run_id: str) -> list[RunInfo]:
        """Direct children, oldest first."""
        run = self._run(run_id)
        name = self._experiment_name(run.experiment_id)
        query = RunQuery(parent_id=run_id, newest_first=False)
        runs: list[RunInfo] = []
        token: str | None = None
        while True:
            page = self.search.page(run.experiment_id, name, query, token, 1000)
            runs += page.runs
            token = page.next_token
            if token is None:
                return runs

    def status_history(self, run_id: str) -> list[StatusChange]:
        """The statuses the run's times imply (MLflow keeps no history)."""
        return status_history(self.get_run(run_id))

    def _run(self, run_id: str, fresh: bool = False) -> Run:
        check_run_id(run_id)
        kept = (lambda: None) if fresh else (lambda: self._kept_run(run_id))
        return self._flights.kept_or_fetched(("run", run_id, fresh), kept, lambda: self._fetch_run(run_id))

    def _kept_run(self, run_id: str) -> Run | None:
        with self._lock:
            kept = self._runs.get(run_id)
        return kept[1] if kept is not None and time.monotonic() - kept[0] < RUN_TTL_S else None

    def _fetch_run(self, run_id: str) -> Run:
        run = self.client.get_run(run_id)
        with self._lock:
            if len(self._runs) > 10_000:
                self._runs.clear()
            self._runs[run_id] = (time.monotonic(), run)
        return run

    def _infos(self, runs: list[Run], experiment: str, with_children: bool = True) -> list[RunInfo]:
        counts = self._child_counts(runs[0].experiment_id) if runs and with_children else {}
        return [run_info(r, experiment, counts.get(r.run_id, 0)) for r in runs]

    def _infos_any(self, runs: list[Run]) -> list[RunInfo]:
        return [self._infos([r], self._experiment_name(r.experiment_id))[0] for r in runs]

    def _child_counts(self, experiment_id: str) -> dict[str, int]:
        """Children per parent in one experiment, from one search of the runs that have a parent (kept 5 s)."""
        return self._flights.kept_or_fetched(
            ("children", experiment_id),
            lambda: self._kept_children(experiment_id),
            lambda: self._count_children(experiment_id),
        )

    def _kept_children(self, experiment_id: str) -> dict[str, int] | None:
        with self._lock:
            kept = self._children.get(experiment_id)
        return kept[1] if kept is not None and time.monotonic() - kept[0] < CHILDREN_TTL_S else None

    def _count_children(self, experiment_id: str) -> dict[str, int]:
        now = time.monotonic()
        counts: dict[str, int] = {}
        token: str | None = None
        seen = 0
        while seen < CHILDREN_SCAN_LIMIT:
            page = self.client.search_runs(
                [experiment_id], filter=f"tags.`{PARENT_RUN_TAG}` LIKE '%'", max_results=1000, page_token=token
            )
            for child in page.items:
                parent = child.parent_run_id
                if parent:
                    counts[parent] = counts.get(parent, 0) + 1
            seen += len(page.items)
            token = page.next_page_token
            if not token:
                break
        with self._lock:
            self._children[experiment_id] = (now, counts)
        return counts

    # -- metrics ----------------------------------------------------------------------------------

    def list_metrics(self, run_id: str) -> list[MetricInfo]:
        """Numeric metrics (counted when a run has at most 50), then logged tables and images."""
        run = self._run(run_id)
        return self.metrics.infos(run, self._final(run))

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        """A numeric metric from point ``start`` on (the whole history is fetched: MLflow has no offset)."""
        run = self._run(run_id)
        return self.metrics.series(run, name, start, self._final(run))

    def get_metric_records(self, run_id: str, name: str, start: int = 0) -> list[MetricRecord]:
        """A logged table's columns, or an image metric's files."""
        run = self._run(run_id)
        return self.metrics.records(run, name, start, self._final(run))

    @staticmethod
    def _final(run: Run) -> bool:
        return run_status(run).is_terminal

    # -- files ------------------------------------------------------------------------------------

    def list_files(self, run_id: str, prefix: str = "") -> list[FileInfo]:
        """The run's artifacts under ``prefix``."""
        run = self._run(run_id)
        when = seconds(run.end_time_ms) or seconds(run.start_time_ms) or 0.0
        return self.files.listing(run_id, prefix, self._final(run), when)

    def read_file_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        """Bytes of an artifact, through the block cache."""
        run = self._run(run_id)
        return self.files.read(run_id, path, offset, length, self._final(run))

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
        """Stream artifacts into ``destination`` (each complete or absent)."""
        run = self._run(run_id)
        return self.files.download(
            run_id,
            paths,
            destination,
            final=self._final(run),
            strip_prefix=strip_prefix,
            overwrite=overwrite,
            progress=progress,
            cancel=cancel,
        )

    # -- edits ------------------------------------------------------------------------------------

    def set_run_metadata(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunInfo:
        """Rename (``runs/update``), set the note tag, replace the visible tags; everything checked first."""
        _check_edit(display_name, description, tags)
        run = self._run(run_id, fresh=True)
        if display_name is not None and display_name != run.run_name:
            self.client.update_run_name(run_id, display_name)
        if description is not None and description != run.description:
            self.client.set_tag(run_id, NOTE_TAG, description)
        if tags is not None:
            for key in sorted(k for k in run.tags if k not in HIDDEN_TAGS and k not in tags):
                self.client.delete_tag(run_id, key)
            for key, value in tags.items():
                if run.tags.get(key) != value:
                    self.client.set_tag(run_id, key, value)
        self.search.forget()
        now = self._run(run_id, fresh=True)
        info = self._infos([now], self._experiment_name(now.experiment_id))[0]
        self.poller.note(now, info)
        return info

    def cancel_run(self, run_id: str) -> RunStatus:
        """MLflow cannot stop a run: UnsupportedOperation (NotFoundError for an unknown run)."""
        run = self._run(run_id)
        raise UnsupportedOperation(
            f"An MLflow server only records runs and cannot stop {run.run_name or run_id}: "
            "stop the script or job that logs it."
        )

    def close(self) -> None:
        """Stop the worker threads and close the connections."""
        self.search.close()  # a background read stops at its next page
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._listing_pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def __repr__(self) -> str:
        return f"MlflowBackend({self.location!r})"


def _check_edit(display_name: str | None, description: str | None, tags: dict[str, str] | None) -> None:
    """Refuse what MLflow would refuse, before any request, so a bad edit changes nothing."""
    if display_name is not None and not isinstance(display_name, str):
        raise TypeError(f"display name must be a string, not {type(display_name).__name__}")
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be a string, not {type(description).__name__}")
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_TAG_KEY or "\x00" in key:
            raise ValueError(f"invalid tag name {key!r}: use 1 to {MAX_TAG_KEY} characters")
        if key in HIDDEN_TAGS:
            raise ValueError(f"{key!r} is kept by MLflow itself: set the name or description instead")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise ValueError(f"the value of tag {key!r} must be text of at most {MAX_TAG_VALUE} characters")
