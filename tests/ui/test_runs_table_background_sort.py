"""The runs table sorted by a metric the server cannot order by, on a slow server: it shows at once what is sorted
so far with a note saying how far the reading is, asks again, and ends with the exact order, keeping the selection.

A real MLflow server (tests/mlflow_fixtures.py) behind the fault proxy with latency; the backend speaks Azure's
dialect (no order by metrics on the server), so ``metrics.score`` is sorted over a copy read in the background.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel
from pytestqt.qtbot import QtBot

from studio.ui.background.tasks import TaskRunner
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.runs_table.table_state import TableMemory, TableState
from studio.ui.shell.settings import WindowSettings
from studio.workspaces.mlflow import run_scan
from studio.workspaces.mlflow.backend import MlflowBackend
from studio.workspaces.mlflow.rest import MlflowRestClient
from studio.workspaces.mlflow.search_plan import AZURE
from tests.fault_proxy import FaultProxy
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until
from tests.workspaces.mlflow.content import PAGING_RUNS

EXPECTED = [f"p{i:03d}" for i in range(PAGING_RUNS)]  # score = i; the server sends the newest (highest i) first


@pytest.fixture
def slow_table(qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A runs table on "paging", saved sorted by score ascending, on a server answering 25 runs a page slowly (10 pages, 2 s or so)."""
    monkeypatch.setattr(run_scan, "FIRST_SCAN_PAGE", 25)
    monkeypatch.setattr(run_scan, "SCAN_PAGE", 25)
    inner = MlflowBackend(MlflowRestClient(proxy.url), "mlflow+" + proxy.url, "slow", dialect=AZURE)
    inner.list_experiments()
    proxy.latency_s = 0.15
    backend = GuardedBackend(inner)
    runner = TaskRunner()
    memory = TableMemory(WindowSettings(str(tmp_path / "settings.ini")), proxy.url)
    memory.save("paging", TableState(("metrics.score",), ("metrics.score ASC",)))
    tab = RunsTableTab(backend, runner, "paging", memory)  # type: ignore[arg-type]
    qtbot.addWidget(tab)
    tab.resize(900, 500)
    tab.show()
    yield tab
    runner.shutdown()
    inner.close()
    assert backend.violations == []


def shown(tab: RunsTableTab) -> list[str]:
    model = tab.model
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def test_a_slow_sort_shows_its_progress_then_the_exact_order_keeping_the_selection(
    slow_table: RunsTableTab, qtbot: QtBot
) -> None:
    tab, model = slow_table, slow_table.model
    wait_until(lambda: model.rowCount() and not model.complete, "a partial first page", qtbot=qtbot)
    note = tab.bar.query_note
    assert "so far…" in note.full_text() and "Sorted by score over" in note.full_text() and note.isVisible()
    partial = shown(tab)
    assert partial == sorted(partial) and partial != EXPECTED[: len(partial)]  # what is read so far, said so
    # A run that will be among the loaded rows at the end (the first 200), picked while the answer is partial.
    chosen = wait_until(
        lambda: not model.complete and next((n for n in shown(tab) if n < "p200"), None),
        "a later partial answer",
        timeout=60,
        qtbot=qtbot,
    )
    assert "so far…" in note.full_text()
    tab.view.selectionModel().select(
        model.index(shown(tab).index(chosen), 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    scroll = tab.view.verticalScrollBar()
    scroll.setValue(scroll.maximum() // 2)
    scrolled = scroll.value()
    assert scrolled > 0
    wait_until(lambda: model.complete, "the complete order", timeout=60, qtbot=qtbot)
    assert note.full_text().endswith(f"Sorted over {PAGING_RUNS} runs.")
    rows = shown(tab)
    assert rows == EXPECTED[: len(rows)] and len(rows) >= 50
    selected = [i.row() for i in tab.view.selectionModel().selectedRows(0)]
    assert selected == [EXPECTED.index(chosen)]  # the selection followed its run to its place
    assert scroll.value() == scrolled  # the rows moved under the view, which stayed where it was
    assert not model._again.isActive()  # nothing is asked again once the answer is complete


def test_another_query_stops_asking_for_the_slow_sort(slow_table: RunsTableTab, qtbot: QtBot) -> None:
    tab, model = slow_table, slow_table.model
    wait_until(lambda: model.rowCount() and not model.complete, "a partial first page", qtbot=qtbot)
    tab._sort_default()  # newest first: the server's own order
    wait_until(lambda: shown(tab)[:1] == [EXPECTED[-1]], "the newest run first", qtbot=qtbot)
    assert model.complete and not model._again.isActive() and not tab.bar.query_note.isVisible()
