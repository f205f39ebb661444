"""A kind that answers like a tracking server (FakeServerBackend): what it cannot do is absent, not greyed.

No Cancel run anywhere (tree menu, run page, Run menu) when ``info().can_cancel`` is False, and it comes
back on a kind that can; no Compute pane; a count that is only a lower bound reads "100+ runs" and the
experiment still expands; the runs table shows the kind's note on the latest query.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from studio.core.types import ExperimentInfo
from studio.ui.experiments.experiment_rows import has_runs, run_count_text
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from tests.fake_backend import FakeBackend, FakeServerBackend
from tests.ui.fake_kinds import FakeMlflowOpener
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until
from tests.workspace_content import build_fake

SERVER = "mlflow+http://tracking.test:5000"
CAN_CANCEL = "mlflow+http://other.test:5000"  # the same kind, a backend that says it can cancel
BIG = 150


@pytest.fixture
def studio(qtbot: QtBot, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A shown window on a populated FakeServerBackend, with an experiment of BIG runs."""
    server, ids = build_fake(fake=FakeServerBackend(location=SERVER))
    for i in range(BIG):
        server.add_run("big", f"b-{i:03d}")
    plain, plain_ids = build_fake(fake=FakeBackend(location=CAN_CANCEL))
    opener = GuardedOpener(FakeMlflowOpener({SERVER: server, CAN_CANCEL: plain}))
    window = MainWindow([opener], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(SERVER)
    yield {"window": window, "ids": ids, "plain_ids": plain_ids, "opener": opener, "server": server}
    window.close()
    assert opener.violations == []


def expanded(qtbot: QtBot, window: MainWindow, experiment: str) -> QModelIndex:
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment(experiment).isValid(), experiment, qtbot=qtbot)
    index = model.index_of_experiment(experiment)
    window.experiment_pane.view.expand(index)
    wait_until(lambda: model.loaded_run_count(experiment) > 0, f"{experiment}'s runs", qtbot=qtbot)
    return index


def run_menu_texts(qtbot: QtBot, window: MainWindow, run_id: str) -> list[str]:
    pane = window.experiment_pane
    assert pane.select_run(run_id)
    pane._context_menu(pane.view.visualRect(pane.model.index_of_run(run_id)).center())
    menu = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "runContextMenu" and w.isVisible())
    assert isinstance(menu, QMenu)
    texts = [a.text() for a in menu.actions() if a.isVisible()]
    menu.close()
    menu.deleteLater()
    return texts


def test_no_cancel_anywhere_on_a_kind_that_cannot_cancel(studio: dict[str, Any], qtbot: QtBot) -> None:
    window, ids = studio["window"], studio["ids"]
    expanded(qtbot, window, "mnist")
    assert "Cancel run" not in run_menu_texts(qtbot, window, ids["live"])  # a running run: not even greyed
    assert not window.act_cancel.isVisible()
    run_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Run")
    assert "Cancel selected runs" not in [a.text() for a in run_menu.actions() if a.isVisible()]
    page = window.run_detail.open_run(ids["live"])
    wait_until(lambda: page.overview.run is not None, "the running run's overview", qtbot=qtbot)
    assert page.overview.run.status.is_active and page.overview.cancel_button.isHidden()
    window.cancel_runs([ids["live"]])  # even if asked: no call the kind would refuse
    assert "cancel_run" not in studio["opener"].backends[0].calls
    # The Compute pane (already hidden for a backend without compute) stays hidden.
    assert window.compute_pane.isHidden() and not window.compute_pane.toggleViewAction().isEnabled()
    assert not window.act_sample.isVisible()  # nor its "Run sample experiment"

    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(CAN_CANCEL)  # the same kind with a backend that can cancel: Cancel is back
    assert window.act_cancel.isVisible()
    expanded(qtbot, window, "mnist")
    assert "Cancel run" in run_menu_texts(qtbot, window, studio["plain_ids"]["live"])
    page = window.run_detail.open_run(studio["plain_ids"]["live"])
    wait_until(lambda: page.overview.cancel_button.isVisible(), "the Cancel button of a running run", qtbot=qtbot)


def test_a_lower_bound_count_reads_100_plus_and_the_experiment_still_expands(
    studio: dict[str, Any], qtbot: QtBot
) -> None:
    window = studio["window"]
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("big").isValid(), "the big experiment", qtbot=qtbot)
    big = model.index_of_experiment("big")
    count = model.index(big.row(), 1)
    assert count.data() == "100+ runs"
    tip = count.data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("big: 100+ runs") and "does not count" in tip
    assert big.data(Qt.ItemDataRole.ToolTipRole) == tip
    mnist = model.index_of_experiment("mnist")
    assert model.index(mnist.row(), 1).data() == "6 runs"  # exact below the server's page
    expanded(qtbot, window, "big")
    assert model.rowCount(big) > 0 and model.index(0, 0, big).data() == f"b-{BIG - 1:03d}"  # newest first


def test_an_uncounted_experiment_may_still_have_runs() -> None:
    uncounted = ExperimentInfo("e", 0.0, 0, None, run_count_exact=False)
    empty = ExperimentInfo("e", 0.0, 0, None)
    assert has_runs(uncounted) and not has_runs(empty)
    assert run_count_text(uncounted) == "runs not counted" and run_count_text(empty) == "0 runs"
    assert run_count_text(ExperimentInfo("e", 0.0, 1, None)) == "1 run"
    assert run_count_text(ExperimentInfo("e", 0.0, 12345, None, run_count_exact=False)) == "12,345+ runs"


def test_the_runs_table_shows_the_note_of_the_latest_query(studio: dict[str, Any], qtbot: QtBot) -> None:
    window, server = studio["window"], studio["server"]
    window.open_runs_table("mnist")
    tab = wait_until(lambda: window.run_detail.runs_tables(), "the runs table", qtbot=qtbot)[0]
    assert isinstance(tab, RunsTableTab)
    wait_until(lambda: tab.model.loaded_once, "the first page", qtbot=qtbot)
    note = tab.bar.query_note
    assert note.isHidden()  # the unfiltered query was all answered by the server
    tab.filter_box.setText("metrics.loss >= 0")  # MLflow syntax: the fake server notes its filters
    tab.filter_box.returnPressed.emit()
    wait_until(lambda: note.isVisible(), "the note of the filtered query", qtbot=qtbot)
    assert note.full_text() == server.filter_note == note.toolTip()
    assert note.font().pointSizeF() < tab.filter_box.font().pointSizeF()  # small
    tab.filter_box.clear()
    tab.filter_box.returnPressed.emit()
    wait_until(lambda: note.isHidden(), "the note cleared by a query without one", qtbot=qtbot)
    assert tab.model.note == ""
