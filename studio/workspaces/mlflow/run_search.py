"""Pages, counts and keys of an experiment's runs, asked of the server as far as it can answer.

``search_plan.plan_query`` says what ``runs/search`` can be asked (a filter whose answer holds every matching
run, and the order when MLflow orders as Studio does); every run the server sends is checked again here with
the whole query, so what the server cannot answer is answered on this computer, and ``RunPage.note`` says so.

Two ways to page:
- the server orders: a page token is ``m:<skip>:<server token>``, the server page to ask and how many of its runs
  were already given. A page of 200 top-level runs in the default order is one request.
- this computer orders (status, duration or run id in ``order_by``; metrics, params and tags on Azure): the runs
  the server filter gives are read in the background (``run_scan``), kept as a copy shared by every order over the
  same filter, and sorted here with the reference ``sort_key``; tokens are ``c:<offset>:<version>`` (the copy as it
  was sorted, so the next page continues the same order). A caller that takes partial pages
  (``studio.core.partial_pages``: the runs table) gets at once the first page of what is sorted so far, marked
  ``complete=False`` with a note ("Sorted by val_loss over 3,200 runs so far…"), and asks again; every other caller
  waits for the whole read, as before.
MLflow has no count call, so ``count_runs`` pages through the answer (the number kept for ``SCAN_TTL_S``); for an
order sorted here it counts the background copy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from operator import itemgetter
from typing import Any

from studio.core.errors import NotFoundError
from studio.core.partial_pages import partial_pages_accepted
from studio.core.search.evaluate import matches, run_values, sort_key
from studio.core.search.query import compile_query, quick_matches, run_keys_of
from studio.core.types import RunInfo, RunKeys, RunPage, RunQuery
from studio.workspaces.mlflow.mapping import search_values
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.errors import MlflowRequestError
from studio.workspaces.mlflow.rest.types import PARENT_RUN_TAG, Run
from studio.workspaces.mlflow.run_scan import SCAN_PAGE, Pair, RunScans, ScanView, Submit
from studio.workspaces.mlflow.search_plan import MLFLOW, SearchDialect, ServerPlan, plan_query

SORTED_KEPT = 8
"""Sorted copies kept (per query and copy version): the next pages of a listing continue the same order."""
CHECKED_PAGE = 500
"""Server page size when this computer drops some of the runs the server sends."""
SCAN_TTL_S = 5.0
"""How long a count is kept."""
KEYS_SCAN_LIMIT = 5000
"""``list_run_keys`` reads the newest this many top-level runs."""
MAX_SCANS = 16

Decorate = Callable[[list[Run], str, bool], list[RunInfo]]
"""Makes RunInfos of an experiment's runs: (runs, experiment name, with child counts)."""
Decorating = Callable[[RunQuery], tuple[str, Callable[[], AbstractContextManager[None]]]]
"""How runs are decorated for a query: (a name for the mode, a context the background read runs in). The Azure
kind waits for exact statuses when a query uses them: its background reads must too, and keep a copy apart."""


def _plain(query: RunQuery) -> tuple[str, Callable[[], AbstractContextManager[None]]]:
    return "", nullcontext


def _thread(task: Callable[[], None]) -> object:
    thread = threading.Thread(target=task, name="mlflow-scan", daemon=True)
    thread.start()
    return thread


class RunSearch:
    """Answers RunQuery pages and counts for one server."""

    def __init__(
        self,
        client: MlflowRestClient,
        decorate: Decorate,
        *,
        dialect: SearchDialect = MLFLOW,
        submit: Submit | None = None,
        decorating: Decorating = _plain,
    ) -> None:
        """``submit`` runs the background reads (the backend's pool; a thread each without it)."""
        self.client = client
        self.decorate = decorate
        self.dialect = dialect
        self.decorating = decorating
        self.is_null_supported = True
        self.scans = RunScans(submit or _thread)
        self._lock = threading.Lock()
        self._sorted: OrderedDict[tuple[str, RunQuery], tuple[list[RunInfo], ScanView]] = OrderedDict()
        self._keyed: OrderedDict[tuple[str, RunQuery], tuple[int, list[tuple[Any, RunInfo]]]] = OrderedDict()
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
            return self._sorted_page(experiment_id, name, query, plan, token, size)
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

    def _sorted_page(
        self, experiment_id: str, name: str, query: RunQuery, plan: ServerPlan, token: str | None, size: int
    ) -> RunPage:
        """A page of what is sorted here: of the background copy as far as it is read (see the module docstring)."""
        offset, version = _sorted_position(token) if token is not None else (0, None)
        with self._lock:
            found = self._sorted.get((version, query)) if version is not None else None
        if found is not None:
            ordered, view = found  # the copy the listing's first page was sorted from
        else:
            view = self._view(experiment_id, name, query, plan, wait_all=not partial_pages_accepted())
            ordered = self._ordered(view, query)
        chunk = ordered[offset : offset + size]
        more = offset + size < len(ordered)
        if view.complete:
            note = f"{plan.note} Sorted over {len(ordered):,} run{'' if len(ordered) == 1 else 's'}."
        else:
            note = f"{plan.note} {_progress(view, query)}"
        return RunPage(chunk, f"c:{offset + size}:{view.version}" if more else None, note, view.complete)

    def _view(self, experiment_id: str, name: str, query: RunQuery, plan: ServerPlan, *, wait_all: bool) -> ScanView:
        mode, context = self.decorating(query)

        def read(token: str | None, size: int) -> tuple[list[Pair], str | None]:
            with context():
                _, runs, next_token = self._search(experiment_id, query, size, token)
                return list(zip(runs, self.decorate(runs, name, True), strict=True)), next_token

        return self.scans.view((experiment_id, plan.filter, mode), read, wait_all=wait_all)

    def _ordered(self, view: ScanView, query: RunQuery) -> list[RunInfo]:
        """The view's runs that match the query, in its order (kept per version for the next pages).

        A copy only grows while it is read: the runs checked and keyed for an earlier version of it are kept, and
        only the ones read since are checked and keyed (for 10,000 runs all of it takes about 0.2 s, a stable
        sort of the keys a few ms), so asking again as the read goes on costs little.
        """
        key = (view.version, query)
        with self._lock:
            kept = self._sorted.get(key)
            scan_id = view.version.split(".", 1)[0]
            earlier = self._keyed.get((scan_id, query))
        if kept is not None:
            return kept[0]
        done, keyed = earlier if earlier is not None and earlier[0] <= len(view.pairs) else (0, [])
        keep = self._keeper(query)
        compiled = compile_query(query)
        by = sort_key(compiled.order) if compiled.order else (lambda _values: ())
        # Orders see the RunInfo, as the plan does; ties keep the server's order (the sort is stable).
        keyed = keyed + [(by(run_values(info)), info) for run, info in view.pairs[done:] if keep(run, info)]
        keyed.sort(key=itemgetter(0))
        ordered = [info for _, info in keyed]
        with self._lock:
            self._sorted[key] = (ordered, view)
            self._keyed[(scan_id, query)] = (len(view.pairs), keyed)
            self._keyed.move_to_end((scan_id, query))
            while len(self._sorted) > SORTED_KEPT:
                self._sorted.popitem(last=False)
            while len(self._keyed) > SORTED_KEPT:
                self._keyed.popitem(last=False)
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
        if plan.client_order:  # the background copy the pages are sorted from, read to its end
            view = self._view(experiment_id, name, query, plan, wait_all=True)
            count = len(self._ordered(view, query))
        else:
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
        """A run changed: counts are asked again, copies read again."""
        with self._lock:
            self._sorted.clear()
            self._keyed.clear()
            self._counts.clear()
        self.scans.forget()

    def close(self) -> None:
        """Stop the background reads."""
        self.scans.close()


def _refuse(token: str) -> None:
    raise NotFoundError(f"Unknown page token {token!r}: start the listing again.")


def _sorted_position(token: str) -> tuple[int, str | None]:
    """(offset, version of the sorted copy) of a ``c:`` token (no version: the current copy)."""
    parts = token.split(":")
    if parts[0] != "c" or len(parts) not in (2, 3) or not parts[1].isdigit():
        _refuse(token)
    return int(parts[1]), (parts[2] if len(parts) == 3 else None)


def _progress(view: ScanView, query: RunQuery) -> str:
    """How far the background read is, for the note of a partial page."""
    by = _order_names(query)
    so_far = f"{view.read:,}" + (f" of {view.total:,}" if view.total is not None and view.total >= view.read else "")
    if view.refreshing:
        age = f"{view.age_s:.0f} s" if view.age_s < 120 else f"{view.age_s / 60:.0f} min"
        return f"Sorted by {by} over the {len(view.pairs):,} runs read {age} ago; reading them again ({so_far} so far)…"
    return f"Sorted by {by} over {so_far} runs so far…"


def _order_names(query: RunQuery) -> str:
    """The order's keys as a person names them ("val_loss", "status")."""
    compiled = compile_query(query)
    return ", ".join(item.key.name for item in compiled.order) or "start time"


def _server_position(token: str) -> tuple[int, str | None]:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != "m" or not parts[1].isdigit():
        _refuse(token)
    return int(parts[1]), parts[2] or None
