"""A change that arrives while the runs table's page is on its way is not lost: the page may have been read before
the change, so its runs that changed are asked again once it is shown (the race behind Azure's refined statuses
staying unseen: the refinement's change reached the table before the page that still said Running)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunPage, RunQuery
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs_table.runs_model import STATUS_COLUMN, RunsTableModel
from tests.fake_backend import FakeBackend
from tests.waiting import wait_until


class SlowFirstPage(FakeBackend):
    """Reads the page at once, then holds it until released: what a slow listing looks like from the window."""

    def __init__(self) -> None:
        super().__init__()
        self.read = threading.Event()
        self.release = threading.Event()
        self.asked_again: list[str] = []

    def list_runs(
        self, experiment: str, query: RunQuery | None = None, page_token: str | None = None, page_size: int = 100
    ) -> RunPage:
        page = super().list_runs(experiment, query, page_token, page_size)
        self.read.set()
        self.release.wait(30)
        return page

    def get_run(self, run_id: str) -> RunInfo:
        self.asked_again.append(run_id)
        return super().get_run(run_id)


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner(max_threads=2)
    yield tasks
    tasks.shutdown()


def shown_status(model: RunsTableModel, run_id: str) -> Any:
    return model.data(model.index(model.row_of(run_id), STATUS_COLUMN))


def test_a_change_during_the_first_page_is_shown_once_the_page_arrives(qtbot: QtBot, runner: TaskRunner) -> None:
    backend = SlowFirstPage()
    job = backend.add_run("e", "job")
    other = backend.add_run("e", "other")
    model = RunsTableModel(runner, backend, "e")
    model.set_query(RunQuery())
    assert backend.read.wait(10)  # the page is read: it says Running
    backend.set_status(job, RunStatus.QUEUED)  # Azure's refined status arrives after the read...
    model.apply_changes([replace(backend.get_run(job), status=RunStatus.QUEUED)])  # ...as a change, first
    backend.asked_again.clear()
    backend.release.set()
    wait_until(lambda: model.loaded_once and shown_status(model, job) == "Queued", "the change shown", qtbot=qtbot)
    assert backend.asked_again == [job]  # only the run that changed meanwhile is asked again
    assert shown_status(model, other) == "Running"


def test_without_a_change_meanwhile_nothing_is_asked_again(qtbot: QtBot, runner: TaskRunner) -> None:
    backend = SlowFirstPage()
    backend.add_run("e", "job")
    backend.release.set()
    model = RunsTableModel(runner, backend, "e")
    model.set_query(RunQuery())
    wait_until(lambda: model.loaded_once, "the first page", qtbot=qtbot)
    model.apply_changes([replace(backend.list_runs("e").runs[0], display_name="renamed")])  # after: in place
    assert backend.asked_again == []
