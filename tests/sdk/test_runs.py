"""Run lifecycle, details, tags, children, experiments and workspaces in the SDK."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import studio
import studio.sdk
from studio.core.errors import StudioError
from studio.sdk import Experiment, Run, Workspace
from studio.sdk.offline import OfflineRun
from studio.sdk.workspace import AzureWorkspaceNotSupported


def test_version_and_names() -> None:
    assert studio.__version__ == studio.sdk.VERSION
    assert {"Workspace", "Experiment", "Run"} <= set(studio.sdk.__all__)


def test_start_logging_complete_and_status_history(exp: Any, ws: Any) -> None:
    run = exp.start_logging()
    assert run.get_status() == "Running"
    assert run.experiment == exp and run.id.startswith("exp_")
    run.complete()
    assert run.get_status() == "Completed"
    history = [c.status.value for c in ws.backend.status_history(run.id)]
    assert history == ["Running", "Completed"]
    details = run.get_details()
    assert details["runId"] == run.id and details["status"] == "Completed" and details["target"] == "local"
    assert details["startTimeUtc"].endswith("Z") and details["endTimeUtc"] >= details["startTimeUtc"]


def test_context_manager_completes_or_fails(exp: Any) -> None:
    with exp.start_logging() as run:
        run.log("x", 1)
    assert run.get_status() == "Completed"
    with pytest.raises(RuntimeError), exp.start_logging() as failing:
        raise RuntimeError("boom in training")
    assert failing.get_status() == "Failed"
    error = failing.get_details()["error"]["error"]
    assert "boom in training" in error["message"] and error["code"] == "RuntimeError"
    assert "Traceback" in error["traceback"]


def test_fail_and_cancel_are_final(exp: Any) -> None:
    run = exp.start_logging()
    run.fail(error_details="bad data")
    assert run.get_status() == "Failed"
    run.complete()  # a finished run stays as it ended
    assert run.get_status() == "Failed"
    assert run.get_details()["error"]["error"]["message"] == "bad data"
    other = exp.start_logging()
    other.cancel()
    assert other.get_status() == "Canceled"


def test_tags_properties_names(exp: Any) -> None:
    run = exp.start_logging(display_name="first try")
    assert run.display_name == "first try"
    run.tag("baseline")
    run.tag("lr", 0.01)
    run.set_tags({"model": "cnn", "epochs": 10})
    assert run.get_tags() == {"baseline": "", "lr": "0.01", "model": "cnn", "epochs": "10"}
    run.add_properties({"dataset": "v1"})
    run.add_properties({"dataset": "v1"})  # same value again is fine
    with pytest.raises(StudioError, match="cannot change"):
        run.add_properties({"dataset": "v2"})
    assert run.get_properties() == {"dataset": "v1"}
    run.display_name = "renamed"
    run.description = "a description"
    assert (run.display_name, run.description) == ("renamed", "a description")
    with pytest.raises(TypeError):
        run.set_tags({"k": [1, 2]})
    with pytest.raises(ValueError):
        run.tag("", "x")


def test_children(exp: Any) -> None:
    parent = exp.start_logging()
    a = parent.child_run(name="a")
    b = parent.child_run()
    assert [c.id for c in parent.get_children()] == [a.id, b.id]
    assert a.parent == parent and parent.parent is None
    assert a.display_name == "a"
    grand = a.child_run()
    assert [c.id for c in parent.get_children(recursive=True)] == [a.id, b.id, grand.id]
    # Children are not listed as top-level runs of the experiment.
    assert [r.id for r in exp.get_runs()] == [parent.id]
    assert {r.id for r in exp.get_runs(include_children=True)} == {parent.id, a.id, b.id, grand.id}


def test_get_runs_is_newest_first_and_pages_lazily(exp: Any) -> None:
    ids = [exp.start_logging().id for _ in range(450)]
    runs = exp.get_runs()
    assert next(runs).id == ids[-1]
    assert [r.id for r in exp.get_runs()] == ids[::-1]
    first = ids[0]
    Run(exp, first).tag("best", "yes")
    assert [r.id for r in exp.get_runs(tags={"best": "yes"})] == [first]


def test_experiments_and_portal_url(ws: Any) -> None:
    a = Experiment(workspace=ws, name="alpha")
    Experiment(workspace=ws, name="beta-2")
    assert sorted(ws.experiments) == ["alpha", "beta-2"]
    assert ws.experiments["alpha"] == a
    url = a.get_portal_url()
    assert url.startswith("studio://experiment/alpha?workspace=") and url.endswith("/ws")
    for bad in ("", "has space", "../x", "a/b", "-lead", "x" * 300):
        with pytest.raises(ValueError, match="invalid experiment name"):
            Experiment(workspace=ws, name=bad)
    assert sorted(ws.experiments) == ["alpha", "beta-2"]


def test_run_by_id_and_unknown_ids(exp: Any) -> None:
    run = exp.start_logging()
    assert Run(exp, run.id) == run
    with pytest.raises(KeyError, match="no run"):
        Run(exp, "exp_0_missing")
    with pytest.raises(ValueError):
        Run(exp, "../../etc")


def test_from_config_finds_local_workspace_in_parents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / ".azureml").mkdir(parents=True)
    (project / ".azureml" / "config.json").write_text(json.dumps({"workspace_path": "../my-ws"}))
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    ws = Workspace.from_config(path=deep)
    assert ws.path == (tmp_path / "my-ws").absolute()
    assert ws.name == "my-ws"
    monkeypatch.chdir(deep)
    assert Workspace.from_config().path == ws.path
    (project / "config.json").write_text(json.dumps({"workspace_path": str(tmp_path / "direct")}))
    assert Workspace.from_config(project).path == tmp_path / "direct"


def test_from_config_without_file_uses_env_or_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("STUDIO_WORKSPACE", str(tmp_path / "from-env"))
    assert Workspace.from_config(empty).path == tmp_path / "from-env"
    monkeypatch.delenv("STUDIO_WORKSPACE")
    assert Workspace.from_config(empty).path.parts[-2:] == ("workspaces", "default")


def test_azure_config_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": "s", "resource_group": "rg", "workspace_name": "aml-ws"})
    )
    with pytest.raises(AzureWorkspaceNotSupported, match="not supported by the logging API"):
        Workspace.from_config(tmp_path)
    with pytest.raises(AzureWorkspaceNotSupported):
        Workspace(subscription_id="s", resource_group="rg", workspace_name="w")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(StudioError, match="Cannot read"):
        Workspace.from_config(tmp_path)


def test_get_context_outside_a_job_is_offline(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Run, "_context", None)
    run = Run.get_context()
    assert isinstance(run, OfflineRun)
    run.log("accuracy", 0.9)
    assert "Attempted to log scalar metric accuracy:\n0.9" in capsys.readouterr().out
    assert run.get_metrics() == {}
    monkeypatch.setattr(Run, "_context", None)
    with pytest.raises(StudioError, match="not started as a job"):
        Run.get_context(allow_offline=False)


def test_get_context_inside_a_job_returns_that_run(exp: Any, ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    run = exp.start_logging()
    monkeypatch.setattr(Run, "_context", None)
    monkeypatch.setenv("STUDIO_RUN_ID", run.id)
    monkeypatch.setenv("STUDIO_WORKSPACE", os.fspath(ws.path))
    ctx = Run.get_context(allow_offline=False)
    assert isinstance(ctx, Run) and ctx.id == run.id and ctx.experiment.name == "exp"
    monkeypatch.setattr(Run, "_context", None)


def test_a_workspace_kind_that_cannot_log_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.sdk.workspace as sdk_workspace
    from studio.core.errors import UnsupportedOperation
    from studio.core.types import WorkspaceInfo

    closed = []

    class ReadOnlyServer:  # reads only: no TrackingBackend methods
        def info(self) -> WorkspaceInfo:
            return WorkspaceInfo(name="srv", kind="mlflow", location="mlflow+https://srv")

        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(sdk_workspace, "open_workspace", lambda location, create=False: ReadOnlyServer())
    with pytest.raises(UnsupportedOperation) as caught:
        Workspace("mlflow+https://srv")
    message = str(caught.value)
    assert "\n" not in message and "local workspaces" in message and "mlflow" in message
    assert closed == [True]


def test_workspace_opens_through_the_registry_and_exposes_the_protocols(ws: Any) -> None:
    from studio.core.backend import ComputeBackend, WorkspaceBackend
    from studio.core.tracking import TrackingBackend

    assert isinstance(ws.backend, WorkspaceBackend)
    assert isinstance(ws.tracking, TrackingBackend)
    assert isinstance(ws.compute, ComputeBackend)
    assert ws.get_details()["kind"] == "local"


def test_cancelling_a_finished_script_job_keeps_how_it_ended(cws: Any, tmp_path: Path) -> None:
    from studio.sdk import Experiment, ScriptRunConfig

    source = tmp_path / "src"
    source.mkdir()
    (source / "quick.py").write_text("print('done')\n")
    run = Experiment(workspace=cws, name="jobs").submit(
        ScriptRunConfig(source_directory=str(source), script="quick.py")
    )
    run.wait_for_completion()
    run.cancel()  # it ended a moment ago: not an error
    assert run.get_status() == "Completed"
