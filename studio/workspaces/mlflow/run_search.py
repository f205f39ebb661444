"""Pages, counts and keys of an experiment's runs, asked of the server as far as it can answer.

``search_plan.plan_query`` says what ``runs/search`` can be asked (a filter whose answer holds every matching
run, and the order when MLflow orders as Studio does); every run the server sends is checked again here with
the whole query, so what the server cannot answer is answered on this computer, and ``RunPage.note`` says so.

Two ways to page:
- the server orders: a page token is ``m:<skip>:<server token>``, the server page to ask and how many of its runs
  were already given. A page of 200 top-level runs in the default order is one request.
- this computer orders (status, duration or run id in ``order_by``): every matching run is fetched, sorted with the
  reference ``sort_key`` and kept for ``SCAN_TTL_S``; tokens are ``c:<offset>``.
MLflow has no count call, so ``count_runs`` pages through the answer (the number kept for ``SCAN_TTL_S``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

from studio.core.errors import NotFoundError
from studio.core.search.evaluate import matches, run_values, sort_key
from studio.core.search.query import compile_query, quick_matches, run_keys_of
from studio.core.types import RunInfo, RunKeys, RunPage, RunQuery
from studio.workspaces.mlflow.mapping import search_values
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.errors import MlflowRequestError
from studio.workspaces.mlflow.rest.types import PARENT_RUN_TAG, Run
from studio.workspaces.mlflow.search_plan import MLFLOW, SearchDialect, ServerPlan, plan_query

SCAN_PAGE = 500
"""Runs a page when reading a whole answer: a page's JSON is decoded in one call holding Python's lock, so pages
of 1,000 runs (1.85 MB) stalled the window for up to 63 ms; 500 keep it near 15."""
CHECKED_PAGE = 500
"""Server page size when this computer drops some of the runs the server sends."""
SCAN_TTL_S = 5.0
KEYS_SCAN_LIMIT = 5000
"""``list_run_keys`` reads the newest this many top-level runs."""
MAX_SCANS = 16

Decorate = Callable[[list[Run], str, bool], list[RunInfo]]
"""Makes RunInfos of an experiment's runs: (runs, experiment name, with child counts)."""


class RunSearch:
    """Answers RunQuery pages and counts for one server."""

    def __init__(self, client: MlflowRestClient, decorate: Decorate, *, dialect: SearchDialect = MLFLOW) -> None:
        self.client = client
        self.decorate = decorate
        self.dialect = dialect
        self.is_null_supported = True
        self._lock = threading.Lock()
        self._scans: OrderedDict[tuple[object, ...], tuple[float, list[RunInfo]]] = OrderedDict()
        self._counts: OrderedDict[tuple[object, ...], tuple[float, int]] = OrderedDict()

    # -- planning -----------------------------------------------------------------------------

    def plan(self, query: RunQuery) -> ServerPlan:
        """The server request for the query (raises QueryError for a malformed one)."""
        return plan_query(query, top_level_is_null=self.is_null_supported, dialect=self.dialect)

    def _search(
        self, experiment_id: str, query: RunQuery, size: int, token: str | None
    ) -> tuple[ServerPlan, list[Run], str | None]:
        plan = self.plan(query)
        try:
            page = self.client.search_runs(
                [experiment_id], filter=plan.filter, order_by=plan.order_by, max_results=size, page_token=token
            )
        except MlflowRequestError:
            if not ("IS NULL" in plan.filter and self._is_null_refused(experiment_id)):
                raise
            self.is_null_supported = False  # a server before MLflow 3: top-level runs are picked here instead
            plan = self.plan(query)
            page = self.client.search_runs(
                [experiment_id], filter=plan.filter, order_by=plan.order_by, max_results=size, page_token=token
            )
        return plan, page.items, page.next_page_token

    def _is_null_refused(self, experiment_id: str) -> bool:
        """Whether the server refuses ``IS NULL`` (asked once, with nothing else in the request)."""
        try:
            self.client.search_runs([experiment_id], filter=f"tags.`{PARENT_RUN_TAG}` IS NULL", max_results=1)
        except MlflowRequestError:
            return True
        return False

    def _keeper(self, query: RunQuery) -> Callable[[Run, RunInfo], bool]:
        compiled = compile_query(query)

        def keep(run: Run, info: RunInfo) -> bool:
            if info.parent_id != query.parent_id:
                return False
            return quick_matches(query, info) and matches(compiled.filter, search_values(run, info))

        return keep

    # -- pages --------------------------------------------------------------------------------

    def page(
        self, experiment_id: str, name: str, query: RunQuery, token: str | None, size: int, with_children: bool = True
    ) -> RunPage:
        """One page of the experiment's runs matching the query, in its order (child counts filled when asked)."""
        size = max(1, size)
        plan = self.plan(query)
        if plan.nothing:
            if token is not None:
                _refuse(token)
            return RunPage([], None)
        if plan.client_order:
            offset = _offset(token) if token is not None else 0
            ordered = self._scan(experiment_id, name, query)
            chunk = ordered[offset : offset + size]
            more = offset + size < len(ordered)
            note = f"{plan.note} Sorted over {len(ordered):,} run{'' if len(ordered) == 1 else 's'}."
            return RunPage(chunk, f"c:{offset + size}" if more else None, note)
        skip, server_token = _server_position(token) if token is not None else (0, None)
        keep = self._keeper(query)
        server_size = size if not plan.client_parts else max(size, CHECKED_PAGE)
        kept: list[RunInfo] = []
        while True:
            plan, runs, next_server = self._search(experiment_id, query, server_size, server_token)
            infos = self.decorate(runs, name, with_children)
            for index in range(skip, len(runs)):
                if keep(runs[index], infos[index]):
                    kept.append(infos[index])
                    if len(kept) == size:
                        if index + 1 < len(runs):
                            return RunPage(kept, f"m:{index + 1}:{server_token or ''}", plan.note)
                        return RunPage(kept, f"m:0:{next_server}" if next_server else None, plan.note)
            if not next_server:
                return RunPage(kept, None, plan.note)
            server_token, skip = next_server, 0

    def _scan(self, experiment_id: str, name: str, query: RunQuery) -> list[RunInfo]:
        """Every matching run in the query's order, sorted here (kept for SCAN_TTL_S)."""
        key = ("scan", experiment_id, query)
        cached = self._cached(key)
        if cached is not None:
            return cached
        pairs = list(self._matching(experiment_id, name, query))
        compiled = compile_query(query)
        if compiled.order:
            by = sort_key(compiled.order)
            pairs.sort(key=lambda pair: by(run_values(pair[1])))  # orders see the RunInfo, as the plan does
        ordered = [info for _, info in pairs]
        self._keep(key, ordered)
        return ordered

    def _matching(self, experiment_id: str, name: str, query: RunQuery) -> Iterator[tuple[Run, RunInfo]]:
        keep = self._keeper(query)
        token: str | None = None
        while True:
            _, runs, token = self._search(experiment_id, query, SCAN_PAGE, token)
            for run, info in zip(runs, self.decorate(runs, name, True), strict=True):
                if keep(run, info):
                    yield run, info
            if not token:
                return

    # -- counts and keys ----------------------------------------------------------------------

    def count(self, experiment_id: str, name: str, query: RunQuery) -> int:
        """How many runs match (every page of the answer read; cached for SCAN_TTL_S)."""
        plan = self.plan(query)
        if plan.nothing:
            return 0
        key = ("count", experiment_id, query)
        with self._lock:
            hit = self._counts.get(key)
        if hit is not None and time.monotonic() - hit[0] < SCAN_TTL_S:
            return hit[1]
        count = sum(1 for _ in self._matching(experiment_id, name, query))  # only the number is kept
        with self._lock:
            self._counts[key] = (time.monotonic(), count)
            while len(self._counts) > MAX_SCANS:
                self._counts.popitem(last=False)
        return count

    def keys(self, experiment_id: str, name: str) -> RunKeys:
        """Names used by the newest KEYS_SCAN_LIMIT top-level runs, with counts."""
        runs: list[RunInfo] = []
        token: str | None = None
        query = RunQuery()
        keep = self._keeper(query)
        while len(runs) < KEYS_SCAN_LIMIT:
            _, page, token = self._search(experiment_id, query, SCAN_PAGE, token)
            runs += [info for run, info in zip(page, self.decorate(page, name, False), strict=True) if keep(run, info)]
            if not token:
                break
        return run_keys_of(runs[:KEYS_SCAN_LIMIT])

    def forget(self) -> None:
        """Drop every kept scan (a run changed)."""
        with self._lock:
            self._scans.clear()
            self._counts.clear()

    def _cached(self, key: tuple[object, ...]) -> list[RunInfo] | None:
        with self._lock:
            hit = self._scans.get(key)
            if hit is not None and time.monotonic() - hit[0] < SCAN_TTL_S:
                return hit[1]
        return None

    def _keep(self, key: tuple[object, ...], runs: list[RunInfo]) -> None:
        with self._lock:
            self._scans[key] = (time.monotonic(), runs)
            while len(self._scans) > MAX_SCANS:
                self._scans.popitem(last=False)


def _refuse(token: str) -> None:
    raise NotFoundError(f"Unknown page token {token!r}: start the listing again.")


def _offset(token: str) -> int:
    kind, _, number = token.partition(":")
    if kind != "c" or not number.isdigit():
        _refuse(token)
    return int(number)


def _server_position(token: str) -> tuple[int, str | None]:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != "m" or not parts[1].isdigit():
        _refuse(token)
    return int(parts[1]), parts[2] or None
