"""Closing a backend while background work still runs on it (the window does this on close and
on switching workspaces) must neither crash nor cut that work short."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from studio.sdk import Experiment, Workspace
from studio.workspaces.local import runs_store
from studio.workspaces.local.backend import LocalBackend


def test_a_call_running_on_another_thread_finishes_and_then_its_connection_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(tmp_path / "ws")
    for i in range(3):
        Experiment(ws, "e").start_logging(display_name=f"r{i}").complete()
    ws.backend.workspace.close()
    backend = LocalBackend(tmp_path / "ws")
    backend.list_experiments()  # this thread has a connection too
    in_query, release = threading.Event(), threading.Event()
    real_page_runs = runs_store.page_runs

    def slow_page_runs(conn: Any, *args: Any, **kwargs: Any) -> Any:
        in_query.set()
        assert release.wait(10)
        return real_page_runs(conn, *args, **kwargs)  # the connection it got before close()

    monkeypatch.setattr(runs_store, "page_runs", slow_page_runs)
    result: dict[str, Any] = {}

    def worker() -> None:
        try:
            result["page"] = backend.list_runs("e")
        except Exception as exc:  # reported below
            result["error"] = exc

    thread = threading.Thread(target=worker)
    thread.start()
    assert in_query.wait(10)
    backend.close()  # from the GUI's side, while the worker is inside its call
    assert backend.workspace.open_connections == 1  # the worker's stays open until its call ends
    release.set()
    thread.join(10)
    assert "error" not in result, result.get("error")
    assert [r.display_name for r in result["page"].runs] == ["r2", "r1", "r0"]
    assert backend.workspace.open_connections == 0  # and then it is closed
