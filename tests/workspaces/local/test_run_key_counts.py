"""The run counts behind list_run_keys: kept by triggers as runs are logged, and built by the migration."""

from __future__ import annotations

from pathlib import Path

from studio.core.search import run_keys_of
from studio.sdk import Experiment, Workspace
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.schema import SCHEMA_VERSION
from tests.workspaces.local.schema_versions import downgrade


def _log(ws_path: Path) -> None:
    ws = Workspace(ws_path)
    for name in ("a", "b"):
        experiment = Experiment(ws, name)
        for k in range(3):
            run = experiment.start_logging()
            run.log("loss", 1.0 / (k + 1))
            run.flush()
            run.log("loss", 0.5 / (k + 1))  # a second flush updates the summary: the run still counts once
            run.log("note", "text is no numeric metric")
            if k:
                run.log("acc", 0.5)
            run.set_tags({"lr": str(k), **({"best": ""} if k == 2 else {})})
            run.tag("lr", "again")  # an upsert of an existing tag counts nothing
            run.add_properties({"dataset": name})
            child = run.child_run()
            child.log("child only", 1.0)
            child.tag("child tag", "x")
            child.complete()
            run.complete()
    ws.close()


def _expected(backend: LocalBackend, experiment: str) -> object:
    runs = []
    token = None
    while True:
        page = backend.list_runs(experiment, page_token=token, page_size=100)
        runs += [backend.get_run(r.id) for r in page.runs]
        token = page.next_token
        if token is None:
            return run_keys_of(runs)


def test_counts_follow_logging_tag_changes_and_children(tmp_path: Path) -> None:
    _log(tmp_path / "ws")
    backend = LocalBackend(tmp_path / "ws")
    try:
        for experiment in ("a", "b"):
            keys = backend.list_run_keys(experiment)
            assert keys == _expected(backend, experiment)
            assert keys.metrics == {"acc": 2, "loss": 3} and keys.tags == {"best": 1, "lr": 3}
        # Replacing a run's tags removes the old ones from the counts.
        run_id = backend.list_runs("a", page_size=1).runs[0].id
        backend.set_run_metadata(run_id, tags={"other": "1"})
        assert backend.list_run_keys("a").tags == {"lr": 2, "other": 1}
        assert backend.list_run_keys("a") == _expected(backend, "a")
    finally:
        backend.close()


def test_a_version_3_workspace_gets_its_counts(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    _log(ws_path)
    downgrade(ws_path / "workspace.db", 3)  # checks the schema is what the migrations up to 3 build

    backend = LocalBackend(ws_path)
    try:
        assert backend.workspace.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        for experiment in ("a", "b"):
            assert backend.list_run_keys(experiment) == _expected(backend, experiment)
        assert backend.list_run_keys("a").properties == {"dataset": 3}
    finally:
        backend.close()
