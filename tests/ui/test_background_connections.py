"""Background tasks reuse their thread's SQLite connection: a long session must not run out of files.

On a real local workspace: its SQLite connections and open files are the point.
"""

from __future__ import annotations

from pathlib import Path

import psutil
from pytestqt.qtbot import QtBot

from studio.sdk import Experiment, Workspace
from studio.ui.background.tasks import TaskRunner
from studio.workspaces.local.backend import LocalBackend
from tests.waiting import wait_until


def test_many_background_tasks_keep_a_bounded_number_of_connections(qtbot: QtBot, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    Experiment(ws, "e").start_logging(display_name="only").complete()
    ws.backend.workspace.close()
    backend = LocalBackend(tmp_path / "ws")
    runner = TaskRunner(max_threads=2)
    process = psutil.Process()
    results: list[int] = []
    try:
        runner.submit(backend.list_experiments, success=lambda exps: results.append(len(exps)))
        wait_until(lambda: len(results) == 1, "the first answer", qtbot=qtbot)
        files_before = process.num_fds()
        for i in range(2, 202):  # the window polls about twice a second: this is a few minutes of it
            runner.submit(backend.list_experiments, success=lambda exps: results.append(len(exps)))
            wait_until(lambda i=i: len(results) == i, "one more answer", qtbot=qtbot)
        assert results == [1] * 201
        assert backend.workspace.open_connections <= 2 + 1  # the pool's threads and the opening one
        assert process.num_fds() - files_before <= 6  # each connection: the database, its WAL and index
    finally:
        runner.shutdown()
        backend.close()
