"""Local run search beyond the contract: name counts kept by triggers, the migration to schema 4, and paging
a sorted listing while runs are being added."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import NotFoundError, WorkspaceError
from studio.core.search import apply_query, run_keys_of
from studio.core.types import RunInfo, RunQuery
from studio.sdk import Experiment, Workspace
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.metric_writer import writer_for
from studio.workspaces.local.schema import SCHEMA_VERSION
from studio.workspaces.local.workspace import LocalWorkspace
from tests.workspaces.local.schema_versions import downgrade


def top_level_runs(backend: LocalBackend, experiment: str) -> list[RunInfo]:
    """The experiment's top-level runs as get_run reads them, oldest first."""
    listed = backend.list_runs(experiment, RunQuery(newest_first=False), page_size=10_000).runs
    return [backend.get_run(r.id) for r in listed]


def paged(backend: LocalBackend, experiment: str, query: RunQuery, size: int) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = backend.list_runs(experiment, query, page_token=token, page_size=size)
        ids += [r.display_name for r in page.runs]
        if page.next_token is None:
            return ids
        token = page.next_token


def test_name_counts_follow_every_change(exp: Any, ws: Any) -> None:
    backend: LocalBackend = ws.backend

    def agree() -> None:
        assert backend.list_run_keys("exp") == run_keys_of(top_level_runs(backend, "exp"))

    a = exp.start_logging(display_name="a")
    a.log("loss", 1.0)
    a.set_tags({"model": "cnn", "lr": "0.1"})
    a.add_properties({"dataset": "v1"})
    a.flush()
    agree()
    b = exp.start_logging(display_name="b")
    b.log("loss", 2.0)
    b.log("acc", 0.5)
    b.tag("model", "rnn")
    b.flush()
    b.log("loss", 3.0)  # a later flush of the same metric: still one run
    b.tag("model", "mlp")  # a new value of the same tag: still one run
    b.flush()
    agree()
    assert backend.list_run_keys("exp").metrics == {"acc": 1, "loss": 2}
    child = a.child_run(name="child")  # children are not the table's runs
    child.log("child_only", 1.0)
    child.tag("model", "x")
    child.flush()
    agree()
    backend.set_run_metadata(a.id, tags={"other": "1"})  # tags replaced as a whole
    agree()
    assert backend.list_run_keys("exp").tags == {"model": 1, "other": 1}
    backend.set_run_metadata(b.id, tags={})
    agree()
    assert "model" not in backend.list_run_keys("exp").tags
    Experiment(ws, "elsewhere").start_logging().tag("model", "z")  # another experiment counts apart
    agree()
    for run in (a, b, child):
        run.complete()


def _log_old_workspace(ws_path: Path) -> None:
    experiment = Experiment(Workspace(ws_path), "old")
    for k in range(4):
        run = experiment.start_logging(display_name=f"run-{k}")
        run.log("acc", k / 4)
        if k % 2:
            run.set_tags({"model": "cnn" if k == 1 else "rnn"})
        run.add_properties({"dataset": "v1"})
        run.child_run(name=f"child-{k}").complete()
        run.complete()
    writer_for(experiment.workspace.backend.workspace).close()
    experiment.workspace.close()


@pytest.mark.parametrize("version", [3, 4])
def test_an_older_workspace_gets_the_search_indexes_and_name_counts(tmp_path: Path, version: int) -> None:
    ws_path = tmp_path / "ws"
    _log_old_workspace(ws_path)
    downgrade(ws_path / "workspace.db", version)  # before run search (3), before its indexes (4)

    backend = LocalBackend(ws_path)
    try:
        conn = backend.workspace.connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        runs = top_level_runs(backend, "old")
        assert backend.list_run_keys("old") == run_keys_of(runs)
        assert backend.list_run_keys("old").metrics == {"acc": 4}  # the children's runs are not counted
        query = RunQuery(filter="tags.model LIKE '%n%' AND metrics.acc > 0", order_by=("tags.model DESC",))
        assert paged(backend, "old", query, 1) == [r.display_name for r in apply_query(query, runs)]
        # The triggers keep counting what is logged next.
        run = Experiment(Workspace(ws_path, create=False), "old").start_logging()
        run.set_tags({"new": "1"})
        run.complete()
        assert backend.list_run_keys("old").tags == {"model": 2, "new": 1}
    finally:
        backend.close()


def test_a_newer_workspace_is_still_refused(tmp_path: Path) -> None:
    LocalWorkspace(tmp_path / "ws").close()
    conn = sqlite3.connect(tmp_path / "ws" / "workspace.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(WorkspaceError, match="newer Studio"):
        LocalWorkspace(tmp_path / "ws", create=False)


def test_runs_created_while_paging_a_sorted_listing_do_not_shift_its_pages(exp: Any, ws: Any) -> None:
    backend: LocalBackend = ws.backend
    for k in range(6):
        run = exp.start_logging(display_name=f"r{k}")
        run.log("acc", [0.5, 0.1, 0.9, 0.5, 0.3, 0.7][k])
        run.complete()
    query = RunQuery(order_by=("metrics.acc DESC",))
    first = backend.list_runs("exp", query, page_size=2)
    assert [r.display_name for r in first.runs] == ["r2", "r5"]
    newcomer = exp.start_logging(display_name="new")
    newcomer.log("acc", 0.6)  # would land on the second page
    newcomer.complete()
    rest = []
    token = first.next_token
    while token is not None:
        page = backend.list_runs("exp", query, page_token=token, page_size=2)
        rest += [r.display_name for r in page.runs]
        token = page.next_token
    assert rest == ["r3", "r0", "r4", "r1"]  # ties newest first; the newcomer waits for the next listing
    assert paged(backend, "exp", query, 3)[:3] == ["r2", "r5", "new"]


def test_tokens_belong_to_their_kind_of_listing(exp: Any, ws: Any) -> None:
    backend: LocalBackend = ws.backend
    for _ in range(3):
        exp.start_logging().complete()
    default = backend.list_runs("exp", page_size=1)
    assert default.next_token is not None and default.next_token.isdigit()  # as tokens always were
    assert len(backend.list_runs("exp", page_token=default.next_token, page_size=5).runs) == 2
    sorted_query = RunQuery(order_by=("attributes.created",))
    first = backend.list_runs("exp", sorted_query, page_size=1)
    assert first.next_token is not None
    with pytest.raises(NotFoundError, match="page token"):
        backend.list_runs("exp", page_token=first.next_token)
    with pytest.raises(NotFoundError, match="page token"):
        backend.list_runs("exp", sorted_query, page_token=default.next_token)
    with pytest.raises(NotFoundError, match="page token"):
        backend.list_runs("exp", sorted_query, page_token="s1.7.0")


def test_the_local_instance_of_an_older_workspace_gets_the_hour_long_idle_shutdown(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    LocalWorkspace(ws_path).close()
    downgrade(ws_path / "workspace.db", 5)
    backend = LocalBackend(ws_path)
    try:
        # A sample run started on `local` must not leave its process running for ever.
        assert backend.get_compute("local").idle_shutdown_minutes == 60
    finally:
        backend.close()
