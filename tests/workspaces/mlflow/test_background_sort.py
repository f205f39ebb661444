"""Orders the server cannot give, sorted here over a copy of the runs read in the background (``run_scan``).

Against the shared real server (tests/mlflow_fixtures.py) through the fault proxy with latency, so that reading
the "paging" experiment's 250 runs takes a while; the backend uses Azure's dialect (no order by metrics on the
server), so ``metrics.score`` is sorted here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from studio.core.errors import StudioError
from studio.core.partial_pages import partial_pages
from studio.core.types import RunInfo, RunPage, RunQuery
from studio.workspaces.mlflow import run_scan
from studio.workspaces.mlflow.backend import MlflowBackend
from studio.workspaces.mlflow.rest import MlflowRestClient
from studio.workspaces.mlflow.search_plan import AZURE
from tests.fault_proxy import FaultProxy
from tests.workspaces.mlflow.content import PAGING_RUNS

BY_SCORE = RunQuery(order_by=("metrics.score ASC",))
EXPECTED = [f"p{i:03d}" for i in range(PAGING_RUNS)]  # score = i; the server sends newest (highest i) first


@pytest.fixture
def slow(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowBackend]:
    """A backend reading 25 runs a page at 40 ms a request: 10 pages, about half a second and more."""
    monkeypatch.setattr(run_scan, "FIRST_SCAN_PAGE", 25)
    monkeypatch.setattr(run_scan, "SCAN_PAGE", 25)
    backend = MlflowBackend(MlflowRestClient(proxy.url), "mlflow+" + proxy.url, "slow", dialect=AZURE)
    backend.list_experiments()  # the experiment list and counts, before latency
    proxy.latency_s = 0.04
    yield backend
    backend.close()


def names(runs: list[RunInfo]) -> list[str]:
    return [r.display_name for r in runs]


def partial_page(backend: MlflowBackend, query: RunQuery, size: int = 50) -> RunPage:
    with partial_pages():
        return backend.list_runs("paging", query, page_size=size)


def until_complete(ask: Callable[[], RunPage], timeout: float = 30.0) -> tuple[RunPage, list[RunPage]]:
    """Ask until a complete page comes (as the runs table does), with every partial answer seen meanwhile."""
    deadline = time.monotonic() + timeout
    seen: list[RunPage] = []
    while True:
        page = ask()
        if page.complete:
            return page, seen
        seen.append(page)
        assert time.monotonic() < deadline, f"still partial: {page.note}"
        time.sleep(0.05)


def every_run(backend: MlflowBackend, query: RunQuery, first: RunPage) -> list[RunInfo]:
    runs, token = list(first.runs), first.next_token
    while token is not None:
        page = backend.list_runs("paging", query, page_token=token, page_size=100)
        runs += page.runs
        token = page.next_token
    return runs


def test_a_sort_the_server_cannot_do_answers_at_once_marked_partial_then_exact(slow: MlflowBackend) -> None:
    started = time.monotonic()
    first = partial_page(slow, BY_SCORE)
    first_s = time.monotonic() - started
    assert not first.complete
    assert "Sorted by score over 25 runs so far…" in first.note and "order by metrics.score" in first.note
    assert names(first.runs) == sorted(names(first.runs))  # what was read so far, in the order asked
    assert names(first.runs) != EXPECTED[:25]  # …which is not yet the whole experiment's order: said so
    final, seen = until_complete(lambda: partial_page(slow, BY_SCORE))
    whole_s = time.monotonic() - started
    assert first_s < whole_s / 3, (first_s, whole_s)
    assert all(not p.complete and "so far…" in p.note for p in seen)
    counts = [int(p.note.split(" over ")[1].split(" ")[0]) for p in seen]
    assert counts == sorted(counts) and counts[-1] < PAGING_RUNS  # progress only grows
    assert final.note.endswith(f"Sorted over {PAGING_RUNS} runs.")
    assert names(final.runs) == EXPECTED[:50]
    assert names(every_run(slow, BY_SCORE, final)) == EXPECTED  # the whole order, each run once
    assert slow.count_runs("paging", BY_SCORE) == PAGING_RUNS  # counted from the same copy


def test_callers_that_take_no_partial_page_wait_for_the_exact_order(slow: MlflowBackend) -> None:
    page = slow.list_runs("paging", RunQuery(order_by=("metrics.score DESC",)), page_size=30)
    assert page.complete and page.note.endswith(f"Sorted over {PAGING_RUNS} runs.")
    assert names(every_run(slow, RunQuery(order_by=("metrics.score DESC",)), page)) == EXPECTED[::-1]


def test_a_client_filter_and_sort_together_keep_only_matching_runs(slow: MlflowBackend) -> None:
    query = RunQuery(filter="tags.parity IN ('odd')", order_by=("metrics.score DESC",))
    final, _ = until_complete(lambda: partial_page(slow, query))
    assert names(every_run(slow, query, final)) == [n for n in EXPECTED[::-1] if int(n[1:]) % 2]


def test_another_order_of_the_same_runs_is_sorted_from_the_copy(slow: MlflowBackend, proxy: FaultProxy) -> None:
    until_complete(lambda: partial_page(slow, BY_SCORE))
    before = proxy.count
    page = partial_page(slow, RunQuery(order_by=("attributes.run_id ASC",)))
    assert page.complete and proxy.count - before <= 1  # at most the child counts; no run is read again
    assert [r.id for r in page.runs] == sorted(r.id for r in every_run(slow, BY_SCORE, partial_page(slow, BY_SCORE)))[
        :50
    ]


def test_a_newer_query_cancels_the_older_read(slow: MlflowBackend, proxy: FaultProxy) -> None:
    older = partial_page(slow, BY_SCORE)
    assert not older.complete
    (scan,) = [e.running for e in slow.search.scans._entries.values() if e.running is not None]
    newer = RunQuery(filter="params.i LIKE '1%'", order_by=("metrics.score DESC",))  # another server filter
    final, _ = until_complete(lambda: partial_page(slow, newer))
    assert scan.cancelled and scan.done.wait(5)
    assert len(scan.pairs) < PAGING_RUNS  # it stopped before reading everything
    expected = [n for n in EXPECTED[::-1] if str(int(n[1:])).startswith("1")]
    assert names(every_run(slow, newer, final)) == expected
    again = partial_page(slow, BY_SCORE)  # the older query asked again reads from the start
    assert not again.complete and "so far…" in again.note


def test_an_old_copy_answers_while_it_is_read_again(slow: MlflowBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    until_complete(lambda: partial_page(slow, BY_SCORE))
    monkeypatch.setattr(run_scan, "FRESH_S", 0.0)  # the copy is now too old to answer as exact
    page = partial_page(slow, BY_SCORE)
    assert not page.complete and names(page.runs) == EXPECTED[:50]  # the whole old order, at once…
    assert f"over the {PAGING_RUNS} runs read" in page.note and "reading them again" in page.note  # …said to be old
    assert f"of {PAGING_RUNS} so far" in page.note  # the total is known from the old copy
    monkeypatch.setattr(run_scan, "FRESH_S", 60.0)
    final, _ = until_complete(lambda: partial_page(slow, BY_SCORE))
    assert names(final.runs) == EXPECTED[:50]


def test_a_failed_read_is_said_once_then_read_again(slow: MlflowBackend, proxy: FaultProxy) -> None:
    from tests.fault_proxy import Status

    proxy.fail_all(Status(500), "runs/search")  # after the client's retries
    with pytest.raises(StudioError):
        until_complete(lambda: partial_page(slow, BY_SCORE))
    proxy.fail_all(None)
    final, _ = until_complete(lambda: partial_page(slow, BY_SCORE))
    assert names(final.runs) == EXPECTED[:50]
