"""The offline cache of a workspace (``CachedBackend`` over ``OfflineStore``), on an in-memory backend.

A ``Recorder`` stands between the cache and a FakeBackend: it counts every call that reaches the "service",
can hold them all (a slow network), and can fail them as the MLflow client fails without a network, so each
caching rule is checked by what reached the service. The whole backend contract suite also runs on a
FakeBackend behind the cache (bottom of this file).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.backend import WorkspaceBackend
from studio.core.errors import AuthenticationError
from studio.core.status import RunStatus
from studio.core.types import RunPage
from studio.workspaces.azure.offline_cache import BASE, CachedBackend, is_network_error, open_cached
from studio.workspaces.azure.offline_store import OfflineStore, cache_root, folder_name
from studio.workspaces.mlflow.rest.errors import MlflowServerError, MlflowTimeoutError, MlflowUnreachableError
from tests.fake_backend import FakeBackend
from tests.waiting import wait_until

LOCATION = "azureml://subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/workspaces/ws"
TOKEN = "studio-test-6f1d0c2a9b8e4f7d"  # what a credential would hold; it must never reach the cache's files
DOWN = "Cannot reach Azure (eastus.api.azureml.ms): check the network or proxy."


class Recorder:
    """A FakeBackend seen through the network: every call is counted, can be held (``hold``) or fail (``down``)."""

    def __init__(self, fake: FakeBackend) -> None:
        self.fake = fake
        self.credential = TOKEN  # a backend holds its credential; the cache must not copy it anywhere
        self.calls: Counter[str] = Counter()
        self.down = False
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def hold(self) -> None:
        """Calls wait until ``release``."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.fake, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            assert self.gate.wait(30), f"{name} held too long"
            with self._lock:
                self.calls[name] += 1
            if self.down and name != "close":
                raise MlflowUnreachableError(DOWN)
            return method(*args, **kwargs)

        return call

    def count(self, *names: str) -> int:
        """Calls of these methods so far."""
        with self._lock:
            return sum(self.calls[n] for n in names)

    def reads(self) -> int:
        """Calls other than the live-refresh polls."""
        with self._lock:
            return sum(n for name, n in self.calls.items() if name not in ("change_token", "list_changed_runs", "info"))


class Content:
    """A workspace: an experiment with finished runs (one with a secret in its details), a running one."""

    def __init__(self) -> None:
        self.fake = FakeBackend(name="ws", location=LOCATION)
        fake = self.fake
        self.finished = []
        for i in range(5):
            run_id = fake.add_run("mnist", f"run {i}", tags={"i": str(i)})
            fake.log_series(run_id, "loss", np.linspace(1, 0, 1000), times=[1e9 + t for t in range(1000)])
            fake.add_file(run_id, "outputs/model.txt", b"weights")
            fake.set_params(run_id, {"lr": "0.01"})
            fake.set_status(run_id, RunStatus.COMPLETED)
            self.finished.append(run_id)
        self.secret = fake.add_run(
            "mnist",
            "with a secret",
            details={
                "outputs": {"default": f"https://acct.blob.core.windows.net/c/x?sv=2021-08-06&sig={TOKEN}"},
                "environment_variables": {"API_TOKEN": TOKEN},
            },
        )
        fake.set_status(self.secret, RunStatus.COMPLETED)
        self.running = fake.add_run("mnist", "running")
        fake.log_series(self.running, "loss", [1.0, 0.9])
        fake.add_experiment("empty")


@pytest.fixture
def content() -> Content:
    return Content()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def cached(service: Any, root: Path, **kwargs: Any) -> CachedBackend:
    return CachedBackend(service, LOCATION, root=root, **kwargs)


def browse(backend: WorkspaceBackend, content: Content) -> None:
    """What a user does in a session: the experiments, the first page, a finished run's overview and chart."""
    backend.list_experiments()
    backend.list_runs("mnist", page_size=200)
    run_id = content.finished[0]
    backend.get_run(run_id)
    backend.get_run_details(run_id)
    backend.status_history(run_id)
    backend.list_metrics(run_id)
    backend.get_series(run_id, "loss")
    backend.list_files(run_id, "outputs/")


def test_the_cache_lives_in_the_user_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    store = OfflineStore(LOCATION)
    try:
        assert cache_root() == tmp_path / "xdg" / "studio" / "azure"
        assert store.path == cache_root() / folder_name(LOCATION) / "cache.db" and store.path.exists()
        assert folder_name(LOCATION.upper() + "/") == folder_name(LOCATION)  # one cache however the location is typed
    finally:
        store.close()


def test_reopening_paints_from_the_cache_before_any_network_answer(content: Content, root: Path) -> None:
    first = cached(Recorder(content.fake), root)
    browse(first, content)
    painted = first.list_runs("mnist", page_size=200).runs
    first.close()

    service = Recorder(content.fake)
    service.hold()  # nothing answers: not the sign-in, not the first request
    opened = threading.Event()

    def open_inner() -> WorkspaceBackend:
        opened.set()
        assert service.gate.wait(30)
        return service  # type: ignore[return-value]

    backend = open_cached(LOCATION, open_inner, root=root)
    try:
        assert backend.info().name == "ws" and backend.info().note.startswith("Cached")
        experiments = backend.list_experiments()
        page = backend.list_runs("mnist", page_size=200)
        run = backend.get_run(content.finished[0])
        series = backend.get_series(content.finished[0], "loss")
        assert [e.name for e in experiments] == ["empty", "mnist"]
        assert page.runs == painted and page.note.startswith("Cached ") and page.note.endswith("refreshing…")
        assert run.status == RunStatus.COMPLETED and len(series) == 1000
        assert backend.get_run_details(content.finished[0])["runType"] == "fake"
        assert [f.path for f in backend.list_files(content.finished[0], "outputs/")] == ["outputs/model.txt"]
        assert backend.change_token() >= BASE  # the window's live refresh starts without waiting for the service
        assert service.reads() == 0 and sum(service.calls.values()) == 0
        service.release()
        wait_until(lambda: backend.info().note == "", "the refresh behind the cached paint")
        assert service.count("list_experiments") == 1 and service.count("list_runs") == 1
        assert service.count("get_series", "list_metrics", "get_run_details", "list_files") == 0
        # Refreshed: the next listing (F5) asks the service.
        assert backend.list_runs("mnist", page_size=200).note == ""
        assert service.count("list_runs") == 2
    finally:
        service.release()
        backend.close()


def test_a_refresh_that_differs_moves_the_change_token(content: Content, root: Path) -> None:
    first = cached(Recorder(content.fake), root)
    browse(first, content)
    first.close()
    content.fake.set_status(content.running, RunStatus.COMPLETED)  # changed while Studio was closed
    newcomer = content.fake.add_run("mnist", "new since")
    content.fake.add_experiment("another")

    service = Recorder(content.fake)
    backend = cached(service, root)
    try:
        token = backend.change_token()
        page = backend.list_runs("mnist", page_size=200)
        assert next(r for r in page.runs if r.id == content.running).status == RunStatus.RUNNING  # as painted
        experiments = backend.list_experiments()
        assert "another" not in [e.name for e in experiments]
        wait_until(lambda: backend.change_token() != token, "a change from the refresh")
        changed, next_token = backend.list_changed_runs(token)
        by_id = {r.id: r for r in changed}
        assert by_id[content.running].status == RunStatus.COMPLETED
        assert newcomer in by_id and len(changed) == 2  # unchanged runs are not reported
        assert backend.list_changed_runs(next_token) == ([], next_token)
        wait_until(lambda: backend.experiments_version == 1, "the experiment list's refresh")
        assert "another" in [e.name for e in backend.list_experiments()]
    finally:
        backend.close()


def test_a_finished_runs_series_is_fetched_once(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    run_id = content.finished[1]
    backend.get_run(run_id)  # the window opens a run with its overview first
    with ThreadPoolExecutor(4) as pool:  # the Overview and the Metrics tab ask at once
        whole = list(pool.map(lambda _i: backend.get_series(run_id, "loss"), range(4)))
    tail = backend.get_series(run_id, "loss", start=990)
    assert all(len(s) == 1000 for s in whole) and service.count("get_series") == 1
    assert (tail.start, len(tail), tail.next_start) == (990, 10, 1000)
    np.testing.assert_array_equal(tail.values, content.fake.get_series(run_id, "loss", 990).values)
    np.testing.assert_array_equal(tail.times, content.fake.get_series(run_id, "loss", 990).times)
    backend.close()

    again = cached(service, root)
    series = again.get_series(run_id, "loss")
    np.testing.assert_array_equal(series.steps, content.fake.get_series(run_id, "loss").steps)
    assert series.steps.dtype == np.int64 and series.values.dtype == np.float64
    assert service.count("get_series") == 1  # not even after reopening
    again.close()


def test_a_running_run_is_never_served_stale_as_final(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    run_id = content.running
    assert backend.get_run(run_id).status == RunStatus.RUNNING
    assert len(backend.get_series(run_id, "loss")) == 2
    content.fake.log_series(run_id, "loss", [0.8, 0.7])
    assert len(backend.get_series(run_id, "loss")) == 4  # asked again: it grows
    assert backend.get_run(run_id).status == RunStatus.RUNNING
    assert service.count("get_series") == 2 and service.count("get_run") == 2
    content.fake.log_series(run_id, "loss", [0.6])
    content.fake.set_status(run_id, RunStatus.COMPLETED)
    assert backend.get_run(run_id).status == RunStatus.COMPLETED  # not a cached Running
    assert len(backend.get_series(run_id, "loss")) == 5  # the whole series, kept from now on
    assert len(backend.get_series(run_id, "loss")) == 5
    assert service.count("get_series") == 3
    backend.close()


def test_a_running_run_in_a_cached_page_is_not_shown_finished(content: Content, root: Path) -> None:
    first = cached(Recorder(content.fake), root)
    first.list_runs("mnist")
    first.close()
    service = Recorder(content.fake)
    service.down = True
    backend = open_cached(LOCATION, lambda: service, root=root)  # type: ignore[arg-type,return-value]
    try:
        page = backend.list_runs("mnist")
        assert next(r for r in page.runs if r.id == content.running).status == RunStatus.RUNNING
        with pytest.raises(MlflowUnreachableError):
            backend.get_series(content.running, "loss")  # never kept
        with pytest.raises(MlflowUnreachableError):
            backend.get_run(content.running)
    finally:
        backend.close()


def test_offline_the_cache_stays_browsable_and_says_so(content: Content, root: Path) -> None:
    first = cached(Recorder(content.fake), root)
    browse(first, content)
    first.close()

    def cannot_open() -> WorkspaceBackend:
        raise MlflowUnreachableError(DOWN)  # the backend cannot even be opened (sign-in and discovery need a network)

    backend = CachedBackend(cannot_open, LOCATION, root=root, retry_open_s=3600)
    try:
        run_id = content.finished[0]
        assert [e.name for e in backend.list_experiments()] == ["empty", "mnist"]
        assert len(backend.list_runs("mnist", page_size=200).runs) == 7
        assert backend.get_run(run_id).display_name == "run 0"
        assert len(backend.get_series(run_id, "loss")) == 1000
        assert backend.list_metrics(run_id)[0].name == "loss"
        wait_until(lambda: backend.info().offline, "the offline state")
        info = backend.info()
        assert info.note.startswith("Offline: showing the cache of ") and DOWN in info.note
        # What was never cached says why, in the inner error's sentence.
        for uncached in (
            lambda: backend.get_series(content.finished[2], "loss"),
            lambda: backend.read_file_range(run_id, "outputs/model.txt", 0, 10),
            lambda: backend.list_runs("empty"),
            lambda: backend.set_run_metadata(run_id, description="x"),
        ):
            with pytest.raises(MlflowUnreachableError, match="Cannot reach Azure"):
                uncached()
        token = backend.change_token()  # never raises: the live refresh keeps its timer
        with pytest.raises(MlflowUnreachableError):
            backend.list_changed_runs(token)  # the live refresh says it once
    finally:
        backend.close()


def test_the_network_going_and_coming_back(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    try:
        browse(backend, content)
        service.down = True
        # Refreshed this session, so asked again; without an answer the cache's copy is shown, marked offline.
        assert [e.name for e in backend.list_experiments()] == ["empty", "mnist"]
        page = backend.list_runs("mnist", page_size=200)
        assert len(page.runs) == 7 and page.note.startswith("Offline: cached ")
        assert backend.info().offline and backend.info().note.startswith("Offline")
        token = backend.change_token()
        with pytest.raises(MlflowUnreachableError):
            backend.list_changed_runs(token)  # the window's live refresh says it once
        with pytest.raises(MlflowUnreachableError):
            backend.list_run_keys("mnist")  # never asked while online: nothing kept
        service.down = False
        backend.change_token()  # the next poll reaches the service
        assert backend.list_changed_runs(token)[1] >= token
        assert backend.list_runs("mnist", page_size=200).note == ""
        assert not backend.info().offline and backend.info().note == ""
        keys = backend.list_run_keys("mnist")
        assert backend.count_runs("mnist") == 7
        service.down = True
        assert backend.list_run_keys("mnist") == keys and backend.count_runs("mnist") == 7  # kept for offline
    finally:
        backend.close()


def test_an_inner_backend_that_could_not_open_is_tried_again(content: Content, root: Path) -> None:
    cached(Recorder(content.fake), root).close()  # the workspace was opened before
    attempts: list[int] = []

    def flaky() -> WorkspaceBackend:
        attempts.append(1)
        if len(attempts) == 1:
            raise MlflowTimeoutError("Azure did not answer within 30 s.")
        return Recorder(content.fake)  # type: ignore[return-value]

    backend = open_cached(LOCATION, flaky, root=root)
    try:
        backend.retry_open_s = 0.0
        wait_until(lambda: backend.info().offline, "the failed open")
        wait_until(lambda: backend.change_token() and len(attempts) == 2, "a second open")
        assert backend.list_runs("mnist").runs and not backend.info().offline
    finally:
        backend.close()


def test_without_a_window_what_can_change_is_asked_first(content: Content, root: Path) -> None:
    first = cached(Recorder(content.fake), root)
    browse(first, content)
    first.close()
    content.fake.set_run_metadata(content.finished[0], display_name="renamed")
    service = Recorder(content.fake)
    backend = open_cached(LOCATION, lambda: service, root=root, paint_from_cache=False)  # type: ignore[arg-type,return-value]
    try:
        assert service.count("info") >= 1  # opened at once, as before the cache
        assert backend.list_runs("mnist", page_size=200).note == ""  # fresh, not "Cached"
        assert backend.get_run(content.finished[0]).display_name == "renamed"
        assert service.count("list_runs", "get_run") == 2
        assert len(backend.get_series(content.finished[0], "loss")) == 1000
        assert service.count("get_series") == 0  # what never changes still comes from the cache
        service.down = True
        assert backend.get_run(content.finished[0]).display_name == "renamed"  # offline: the cache's copy
        assert backend.list_runs("mnist", page_size=200).note.startswith("Offline: cached ")
    finally:
        backend.close()


def test_without_a_window_a_cached_workspace_opens_offline(content: Content, root: Path) -> None:
    cached(Recorder(content.fake), root).list_experiments()

    def cannot_open() -> WorkspaceBackend:
        raise MlflowUnreachableError(DOWN)

    backend = open_cached(LOCATION, cannot_open, root=root, paint_from_cache=False)
    try:
        assert [e.name for e in backend.list_experiments()] == ["empty", "mnist"]
        assert backend.info().offline
    finally:
        backend.close()
    with pytest.raises(MlflowUnreachableError):
        open_cached(LOCATION, cannot_open, root=root / "elsewhere", paint_from_cache=False)  # nothing cached


def test_a_workspace_never_cached_opens_as_before(content: Content, root: Path) -> None:
    def refused() -> WorkspaceBackend:
        raise AuthenticationError("Azure refused the sign-in of alice@example.com: sign in again.")

    with pytest.raises(AuthenticationError, match="sign in again"):
        open_cached(LOCATION, refused, root=root)  # nothing to paint: the open's failure says why, as before
    service = Recorder(content.fake)
    backend = open_cached(LOCATION, lambda: service, root=root)  # type: ignore[arg-type,return-value]
    assert backend.list_experiments() and service.count("list_experiments") == 1
    backend.close()


def test_a_refused_refresh_is_kept_for_the_window(content: Content, root: Path) -> None:
    cached(Recorder(content.fake), root).list_experiments()

    def refused() -> WorkspaceBackend:
        raise AuthenticationError("Azure refused the sign-in: sign in again.")

    backend = open_cached(LOCATION, refused, root=root)
    try:
        assert backend.list_experiments()  # painted from the cache
        wait_until(lambda: isinstance(backend.last_refresh_error, AuthenticationError), "the refused refresh")
        assert not backend.info().offline  # refused is not offline
        assert "could not refresh: Azure refused the sign-in" in backend.info().note
        with pytest.raises(AuthenticationError):
            backend.list_runs("mnist")  # not cached: the refusal, for Sign in…
    finally:
        backend.close()


def test_edits_update_the_cached_run_and_are_changes(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    run_id = content.finished[0]
    backend.get_run(run_id)
    token = backend.change_token()
    edited = backend.set_run_metadata(run_id, description="edited here")
    assert backend.get_run(run_id) == edited and service.count("get_run") == 1  # the cached copy follows
    changed, token2 = backend.list_changed_runs(token)
    assert {r.id for r in changed} == {run_id} and changed[-1].description == "edited here"
    content.fake.set_run_metadata(run_id, tags={"by": "someone else"})  # an edit elsewhere, seen by the poll
    backend.change_token()
    assert [r.tags for r in backend.list_changed_runs(token2)[0]] == [{"by": "someone else"}]
    assert backend.get_run(run_id).tags == {"by": "someone else"}  # an open Overview reloads from the cache: fresh
    backend.close()


def test_a_finished_run_is_checked_again_in_the_background(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    first = cached(service, root)
    first.get_run(content.finished[0])
    first.close()
    content.fake.set_run_metadata(content.finished[0], display_name="renamed")  # while Studio was closed
    backend = cached(service, root, revalidate_s=0.0)
    try:
        token = backend.change_token()
        assert backend.get_run(content.finished[0]).display_name == "run 0"  # painted at once
        wait_until(lambda: backend.list_changed_runs(token)[0], "the change from the check")
        assert backend.list_changed_runs(token)[0][0].display_name == "renamed"
        assert backend.get_run(content.finished[0]).display_name == "renamed"
    finally:
        backend.close()


def test_the_cache_is_bounded_and_evicts_what_was_used_longest_ago(content: Content, root: Path) -> None:
    ticks = iter(range(1, 10_000))
    store = OfflineStore(LOCATION, root, max_bytes=100_000, clock=lambda: float(next(ticks)))
    service = Recorder(content.fake)
    backend = CachedBackend(service, LOCATION, store=store)
    runs = [content.fake.add_run("big", f"big {i}") for i in range(5)]
    for run_id in runs:
        content.fake.log_series(run_id, "loss", np.arange(1000.0))  # 24 kB each: four fit in 100 kB, not five
        content.fake.set_status(run_id, RunStatus.COMPLETED)
        backend.get_run(run_id)
    for run_id in runs[:4]:
        backend.get_series(run_id, "loss")
    backend.get_series(runs[0], "loss")  # used again: now the most recent of the four
    backend.get_series(runs[4], "loss")  # over the budget: down to 80 kB, the least recently used first
    assert store.size <= 80_000
    fetched = service.count("get_series")
    backend.get_series(runs[0], "loss")
    backend.get_series(runs[4], "loss")
    assert service.count("get_series") == fetched  # recently used: still there
    backend.get_series(runs[1], "loss")
    assert service.count("get_series") == fetched + 1  # used longest ago: evicted, fetched again
    backend.close()


def test_other_workspaces_used_longest_ago_go_first(root: Path) -> None:
    old = OfflineStore("azureml://old", root, max_bytes=220_000)
    old.put("blob", bytes(70_000))
    old.close()
    recent = OfflineStore("azureml://recent", root, max_bytes=220_000)
    recent.put("blob", bytes(70_000))
    recent.close()
    store = OfflineStore(LOCATION, root, max_bytes=220_000)
    assert store.put("blob", bytes(70_000))
    folders = {f.name for f in root.iterdir()}
    assert folder_name("azureml://old") not in folders
    assert {folder_name("azureml://recent"), folder_name(LOCATION)} <= folders
    assert store.get("blob") is not None
    store.close()


def test_a_damaged_cache_file_is_discarded_with_one_warning(
    content: Content, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = cached(Recorder(content.fake), root)
    browse(first, content)
    path = first.store.path
    first.close()
    path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    service = Recorder(content.fake)
    with caplog.at_level(logging.WARNING):
        backend = open_cached(LOCATION, lambda: service, root=root)  # type: ignore[arg-type,return-value]
        browse(backend, content)
        browse(backend, content)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "discarded" in warnings[0].getMessage()
    assert service.count("get_series") == 1  # an empty cache, filled again
    backend.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_damaged_entry_is_a_miss(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    run_id = content.finished[0]
    backend.get_run(run_id)
    backend.get_series(run_id, "loss")
    backend.list_metrics(run_id)
    backend.store.put(f"series\n{run_id}\nloss", b"garbage")
    backend.store.put(f"metrics\n{run_id}", b"not zlib")
    assert len(backend.get_series(run_id, "loss")) == 1000
    assert backend.list_metrics(run_id)[0].name == "loss"
    assert service.count("get_series") == 2 and service.count("list_metrics") == 2
    backend.close()


def test_no_secret_reaches_the_cache(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    for run_id in [*content.finished, content.secret]:
        backend.get_run(run_id)
        backend.get_run_details(run_id)
        backend.list_files(run_id)
    browse(backend, content)
    assert TOKEN in str(backend.get_run_details(content.secret))  # shown as the service says it...
    assert service.count("get_run_details") == 7  # ...but asked each time: never kept
    backend.close()
    written = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert written  # the cache holds the rest
    assert TOKEN.encode() not in written and b"sig=" not in written


def test_network_errors_are_told_from_refusals() -> None:
    assert is_network_error(MlflowUnreachableError("x")) and is_network_error(MlflowTimeoutError("x"))
    assert is_network_error(ConnectionResetError()) and is_network_error(TimeoutError())
    service_request_error = type("ServiceRequestError", (Exception,), {})  # azure-core's, by name
    assert is_network_error(service_request_error("dns"))
    assert not is_network_error(AuthenticationError("401")) and not is_network_error(MlflowServerError("500"))
    assert not is_network_error(FileExistsError())


def test_a_page_note_of_the_kind_is_kept_beside_the_cache_note(root: Path) -> None:
    class Noting(FakeBackend):
        def list_runs(self, *args: Any, **kwargs: Any) -> RunPage:
            page = super().list_runs(*args, **kwargs)
            return RunPage(page.runs, page.next_token, note="The service cannot sort by metrics.")

    fake = Noting(name="ws", location=LOCATION)
    fake.add_run("mnist", "one")
    cached(fake, root).list_runs("mnist")
    backend = cached(fake, root)
    note = backend.list_runs("mnist").note
    assert note.startswith("Cached ") and note.endswith("The service cannot sort by metrics.")
    backend.close()


def test_the_first_pages_are_kept_and_no_more(content: Content, root: Path) -> None:
    service = Recorder(content.fake)
    backend = cached(service, root)
    pages, token = [], None
    while True:
        page = backend.list_runs("mnist", page_token=token, page_size=2)
        pages.append(page)
        token = page.next_token
        if token is None:
            break
    backend.close()
    keys = _keys(backend.store.path)
    assert sum(k.startswith("page\nmnist\n") for k in keys) == 3  # CACHED_PAGES of the 4


def _keys(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [k for (k,) in db.execute("SELECT key FROM entries")]


# -- the backend contract, through the cache -----------------------------------------------------------------


from tests.workspace_content import TRAITS, build_fake  # noqa: E402
from tests.workspaces.conftest import Populated  # noqa: E402
from tests.workspaces.test_backend_contract import *  # noqa: E402,F403  (the suite's tests, run on this module's fixture)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """CONTENT in a FakeBackend behind a CachedBackend (overrides the suite's per-kind fixture in this module)."""
    fake, ids = build_fake()
    backend = CachedBackend(fake, LOCATION, root=tmp_path_factory.mktemp("contract-cache"))
    yield Populated("fake", backend, ids, TRAITS["fake"])
    backend.close()


def test_a_change_the_inner_backend_made_before_the_first_poll_is_reported(content: Content, root: Path) -> None:
    """What the window does: its live refresh asks for its first token while the first page is read. A change the
    inner backend recorded after it opened (Azure's refined status of a job that page showed as Running) and before
    that first poll is after the token the window starts from, so it is reported."""
    content.fake.changes_start = content.fake.change_token()  # type: ignore[attr-defined]  # the Azure kind says it
    backend = cached(Recorder(content.fake), root)
    try:
        content.fake.set_status(content.running, RunStatus.QUEUED)  # while the window's first token is on its way
        token = backend.change_token()
        changed, _ = backend.list_changed_runs(token)
        assert [(r.id, r.status) for r in changed] == [(content.running, RunStatus.QUEUED)]
    finally:
        backend.close()
