"""MlflowRestClient: the calls of MLflow's tracking API 2.0 that the studio needs, over one pooled session.

Reads retry (GETs and MLflow's read-only search POSTs), writes retry only where repeating them is harmless
(see ``retry.py``). Metric histories of a run go out concurrently through a bounded thread pool
(``concurrency``, which also sizes the connection pool). The base URL and the auth hook are parameters, so
the Azure kind reuses the client with its own URL prefix and bearer tokens; ``from_environment`` reads
credentials and TLS settings as MLflow's own client does. No ``mlflow`` import: the runtime stays free of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from studio.core.tasks import CancelToken, ProgressCallback
from studio.workspaces.mlflow.rest.artifacts import Artifacts
from studio.workspaces.mlflow.rest.auth import AuthHook, TlsSettings, auth_from_environment, tls_from_environment
from studio.workspaces.mlflow.rest.errors import MlflowNotFoundError
from studio.workspaces.mlflow.rest.history import DEFAULT_PAGE_SIZE, HistoryFetcher
from studio.workspaces.mlflow.rest.parse import experiment_from_json, run_from_json
from studio.workspaces.mlflow.rest.retry import Repeat, RetryPolicy
from studio.workspaces.mlflow.rest.transport import Timeouts, Transport
from studio.workspaces.mlflow.rest.types import ArtifactListing, Experiment, MetricHistory, Page, Run

API = "/api/2.0/mlflow"
MAX_REMEMBERED_ROOTS = 10_000


class MlflowRestClient:
    """A client of one MLflow tracking server (``base_url`` like ``http://127.0.0.1:5000`` or with a path prefix)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthHook | None = None,
        tls: TlsSettings | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        history_page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.concurrency = max(1, concurrency)
        # A few connections more than the pool's threads, for calls made meanwhile from other threads.
        self.transport = Transport(
            base_url, auth=auth, tls=tls, timeouts=timeouts, retry=retry, pool_size=self.concurrency + 4
        )
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mlflow-rest")
        self._histories = HistoryFetcher(
            self.transport, self._executor, page_size=history_page_size, window=min(4, self.concurrency)
        )
        self._artifacts = Artifacts(self.transport)
        self._roots: dict[str, str] = {}
        self._roots_lock = threading.Lock()

    @classmethod
    def from_environment(cls, base_url: str, **options: Any) -> MlflowRestClient:
        """A client authenticating and checking certificates as MLflow's client would with this environment."""
        options.setdefault("auth", auth_from_environment())
        options.setdefault("tls", tls_from_environment())
        return cls(base_url, **options)

    def __repr__(self) -> str:
        return f"MlflowRestClient({self.base_url!r}, auth={self.transport.auth!r})"

    def __enter__(self) -> MlflowRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """The server's URL, without a trailing slash."""
        return self.transport.base_url

    @property
    def history_page_size(self) -> int:
        """Points asked per ``metrics/get-history`` page (1,000 once the server refused more)."""
        return self._histories.page_size

    @property
    def requests_sent(self) -> int:
        """Requests sent so far, retries included."""
        return self.transport.requests_sent

    def close(self) -> None:
        """Stop the pool's threads and close the connections."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.transport.close()

    # experiments

    def search_experiments(
        self,
        *,
        max_results: int = 1000,
        page_token: str | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        view_type: str = "ACTIVE_ONLY",
    ) -> Page[Experiment]:
        """One page of experiments (``experiments/search``)."""
        body: dict[str, Any] = {"max_results": max_results, "view_type": view_type}
        if page_token:
            body["page_token"] = page_token
        if filter:
            body["filter"] = filter
        if order_by:
            body["order_by"] = list(order_by)
        document = self.transport.post_json(f"{API}/experiments/search", body, repeat=Repeat.SAFE)
        items = [experiment_from_json(item) for item in document.get("experiments") or ()]
        return Page(items, document.get("next_page_token") or None)

    def all_experiments(self, *, page_size: int = 1000, **options: Any) -> list[Experiment]:
        """Every experiment, following page tokens."""
        found: list[Experiment] = []
        token: str | None = None
        while True:
            page = self.search_experiments(max_results=page_size, page_token=token, **options)
            found.extend(page.items)
            token = page.next_page_token
            if not token:
                return found

    def get_experiment_by_name(self, name: str) -> Experiment:
        """The experiment called ``name``; MlflowNotFoundError if there is none."""
        document = self.transport.get_json(f"{API}/experiments/get-by-name", {"experiment_name": name})
        return experiment_from_json(document.get("experiment") or {})

    # runs

    def search_runs(
        self,
        experiment_ids: Iterable[str],
        *,
        filter: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
        run_view_type: str = "ACTIVE_ONLY",
    ) -> Page[Run]:
        """One page of runs (``runs/search``): the server applies MLflow's ``filter`` and ``order_by`` syntax."""
        body: dict[str, Any] = {
            "experiment_ids": [str(i) for i in experiment_ids],
            "max_results": max_results,
            "run_view_type": run_view_type,
        }
        if filter:
            body["filter"] = filter
        if order_by:
            body["order_by"] = list(order_by)
        if page_token:
            body["page_token"] = page_token
        document = self.transport.post_json(f"{API}/runs/search", body, repeat=Repeat.SAFE)
        runs = [run_from_json(item) for item in document.get("runs") or ()]
        self._remember_roots(runs)
        return Page(runs, document.get("next_page_token") or None)

    def get_run(self, run_id: str) -> Run:
        """One run with its last metric values, params and tags; MlflowNotFoundError if there is none."""
        document = self.transport.get_json(f"{API}/runs/get", {"run_id": run_id})
        if "run" not in document:
            raise MlflowNotFoundError(f"Not found on the MLflow server at {self.base_url}: run {run_id}.")
        run = run_from_json(document["run"])
        self._remember_roots([run])
        return run

    # metrics

    def get_history(
        self, run_id: str, key: str, *, speculate: bool = True, cancel: CancelToken | None = None
    ) -> MetricHistory:
        """Every point of one metric (an empty history if the run never logged it)."""
        return self._histories.fetch(run_id, [key], speculate=speculate, cancel=cancel)[key]

    def get_history_after(self, run_id: str, key: str, offset: int) -> MetricHistory | None:
        """The points of one metric from index ``offset`` on, or None when the server cannot page from an offset."""
        return self._histories.fetch_after(run_id, key, offset)

    def get_histories(
        self, run_id: str, keys: Iterable[str], *, cancel: CancelToken | None = None
    ) -> dict[str, MetricHistory]:
        """Every point of each metric in ``keys``, fetched concurrently (at most ``concurrency`` requests at once)."""
        return self._histories.fetch(run_id, list(keys), cancel=cancel)

    # artifacts

    def list_artifacts(self, run_id: str, path: str = "") -> ArtifactListing:
        """One folder of the run's artifacts (not recursive)."""
        return self._artifacts.list(run_id, path)

    def read_artifact_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of an artifact from ``offset``; one request (two if the run is not known yet)."""
        return self._artifacts.read_range(self.artifact_root(run_id), path, offset, length)

    def download_artifact(
        self,
        run_id: str,
        path: str,
        destination: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Path:
        """Stream one artifact file to ``destination`` (complete or absent, never half-written)."""
        return self._artifacts.download(self.artifact_root(run_id), path, destination, progress=progress, cancel=cancel)

    @property
    def ranges_honoured(self) -> bool | None:
        """Whether the server answered a ``Range`` read with 206 (None before the first partial read)."""
        return self._artifacts.ranges_honoured

    def artifact_root(self, run_id: str) -> str:
        """The run's artifact URI, remembered from runs already fetched (else one ``runs/get``)."""
        with self._roots_lock:
            root = self._roots.get(run_id)
        return root if root is not None else self.get_run(run_id).artifact_uri

    # writes

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Set one tag (retried like a read: setting it twice ends the same)."""
        self.transport.post_json(
            f"{API}/runs/set-tag", {"run_id": run_id, "key": key, "value": value}, repeat=Repeat.SAFE
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete one tag (retried only when the request surely did not reach the server)."""
        self.transport.post_json(f"{API}/runs/delete-tag", {"run_id": run_id, "key": key}, repeat=Repeat.ONLY_IF_UNSENT)

    def update_run_name(self, run_id: str, name: str) -> None:
        """Rename a run (``runs/update`` with ``run_name``; retried: renaming twice ends the same)."""
        self.transport.post_json(f"{API}/runs/update", {"run_id": run_id, "run_name": name}, repeat=Repeat.SAFE)

    def _remember_roots(self, runs: Iterable[Run]) -> None:
        with self._roots_lock:
            if len(self._roots) > MAX_REMEMBERED_ROOTS:
                self._roots.clear()
            for run in runs:
                if run.artifact_uri:
                    self._roots[run.run_id] = run.artifact_uri
