"""The runs table tab in the real window on a FakeBackend (which answers filters and orders like a server).

Every backend call must come from a worker thread: the opener guards the backend, and the fixture
checks that nothing was called on the GUI thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from studio.core.errors import StudioError, WorkspaceError
from studio.core.search import Key
from studio.core.status import RunStatus
from studio.core.types import RunPage, RunQuery
from studio.ui.compare.compare_view import CompareView
from studio.ui.runs.run_detail import RunPage as RunTabPage
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.runs_table.table_state import TableState
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until
from tests.workspace_content import build_fake

LOCATION = "fake://table"
MANY = 450  # more than two pages of 200


class RecordingFake(FakeBackend):
    """A FakeBackend that remembers every list_runs query and can be told to fail for one experiment."""

    def __init__(self) -> None:
        super().__init__(name="table-ws", location=LOCATION)
        self.queries: list[RunQuery] = []
        self.broken: set[str] = set()

    def list_runs(
        self, experiment: str, query: RunQuery | None = None, page_token: str | None = None, page_size: int = 100
    ) -> RunPage:
        self.queries.append(query or RunQuery())
        if experiment in self.broken:
            raise StudioError("The tracking server did not answer.\nTraceback (most recent call last): ...")
        return super().list_runs(experiment, query, page_token, page_size)


class TableOpener:
    """Kind "fake": serves one RecordingFake."""

    kind = "fake"
    label = "Fake workspaces"
    location_form = "fake://<name>"

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend

    def owns(self, location: str) -> bool:
        return location.startswith("fake://")

    def default_location(self) -> str | None:
        return None

    def display_name(self, location: str) -> str:
        return location.removeprefix("fake://")

    def is_workspace(self, location: str) -> bool:
        return location == LOCATION

    def is_missing(self, location: str) -> bool:
        return location != LOCATION

    def open(self, location: str, create: bool = False) -> FakeBackend:
        if location != LOCATION:
            raise WorkspaceError(f"There is no fake workspace at {location}.")
        return self.backend


def populate(fake: RecordingFake) -> dict[str, str]:
    """The shared test content, plus experiment "many": 450 finished runs with metrics and params."""
    _, ids = build_fake(fake=fake)
    for i in range(MANY):
        run_id = fake.add_run("many", f"run-{i:03d}", tags={"model": "cnn" if i % 2 else "mlp"})
        fake.log_series(run_id, "acc", [0.1, (i % 97) / 100])
        if i % 5 == 0:
            fake.log_series(run_id, "val loss", [1.0, math.nan if i % 10 == 0 else 0.5])
        fake.set_params(run_id, {"lr": str(0.001 * (1 + i % 3))})
        fake.set_status(run_id, RunStatus.COMPLETED)
        ids[f"run-{i:03d}"] = run_id
    fake.add_experiment("broken")
    fake.add_run("broken", "unreachable")
    fake.broken.add("broken")
    return ids


@pytest.fixture
def studio(qtbot: QtBot, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The window on the populated fake workspace."""
    fake = RecordingFake()
    ids = populate(fake)
    opener = GuardedOpener(TableOpener(fake))
    settings_path = str(tmp_path / "settings.ini")
    window = MainWindow([opener], WindowSettings(settings_path))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(LOCATION)
    wait_until(lambda: window.experiment_pane.model.index_of_experiment("many").isValid(), qtbot=qtbot)
    yield {"window": window, "ids": ids, "fake": fake, "opener": opener, "settings": settings_path}
    window.close()
    assert opener.violations == [], "a backend call was made on the GUI thread"


def open_table(qtbot: QtBot, window: MainWindow, experiment: str, arranged: bool = True) -> RunsTableTab:
    """Open an experiment's table the way the main window does and wait for its first page.

    ``arranged``: as if the user had arranged it before (no columns suggested), unless a state is saved already.
    """
    if arranged and not window.settings.runs_table_state(window.location, experiment):
        window.settings.save_runs_table_state(window.location, experiment, TableState().to_json())
    window.open_runs_table(experiment)
    tab = next(t for t in window.run_detail.runs_tables() if t.experiment == experiment)
    wait_until(lambda: tab.model.loaded_once or tab.model.error is not None, "first page", qtbot=qtbot)
    return tab


def column_texts(tab: RunsTableTab, column: int) -> list[str]:
    model = tab.model
    return [model.index(r, column).data() for r in range(model.rowCount())]


def cell(tab: RunsTableTab, run_name: str, key: Key) -> str:
    model = tab.model
    row = column_texts(tab, 0).index(run_name)
    return str(model.index(row, model.keys.index(key)).data())


def double_click(qtbot: QtBot, widget: Any, pos: QPoint) -> None:
    """A click then a double-click, as a user makes it (QTest's double-click alone is not one for a view)."""
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def experiment_rect(window: MainWindow, name: str) -> QPoint:
    pane = window.experiment_pane
    return pane.view.visualRect(pane.model.index_of_experiment(name)).center()


def test_double_click_or_enter_on_an_experiment_opens_its_runs_table_once(studio: dict[str, Any], qtbot: QtBot) -> None:
    window = studio["window"]
    view = window.experiment_pane.view
    double_click(qtbot, view.viewport(), experiment_rect(window, "mnist"))
    wait_until(lambda: window.run_detail.runs_tables(), "a runs table", qtbot=qtbot)
    tab = window.run_detail.runs_tables()[0]
    tabs = window.run_detail.tabs
    assert tabs.tabText(tabs.indexOf(tab)) == "mnist" and tabs.currentWidget() is tab
    wait_until(lambda: tab.model.rowCount() == 6, "mnist's six runs", qtbot=qtbot)
    assert column_texts(tab, 0) == ["live", "trial-4", "trial-3", "stopped", "diverged", "baseline"]
    wait_until(lambda: tab.count_label.text() == "6 runs", "the count", qtbot=qtbot)
    assert not view.isExpanded(window.experiment_pane.model.index_of_experiment("mnist"))
    # Enter on the experiment row shows the same tab again, not a second one.
    window.run_detail.tabs.setCurrentIndex(-1)
    view.setCurrentIndex(window.experiment_pane.model.index_of_experiment("mnist"))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert window.run_detail.runs_tables() == [tab] and tabs.currentWidget() is tab
    # A run row still opens the run.
    view.expand(window.experiment_pane.model.index_of_experiment("mnist"))
    parent = window.experiment_pane.model.index_of_experiment("mnist")
    wait_until(lambda: window.experiment_pane.model.rowCount(parent) == 6, qtbot=qtbot)
    run_rect = view.visualRect(window.experiment_pane.model.index(1, 0, parent))
    double_click(qtbot, view.viewport(), run_rect.center())
    wait_until(lambda: isinstance(tabs.currentWidget(), RunTabPage), "the run's tab", qtbot=qtbot)
    assert tabs.currentWidget().run_id == studio["ids"]["trial-4"]


def test_the_experiment_context_menu_opens_the_runs_table(studio: dict[str, Any], qtbot: QtBot) -> None:
    window = studio["window"]
    pane = window.experiment_pane
    pane._context_menu(experiment_rect(window, "many"))
    menu = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "experimentContextMenu")
    assert isinstance(menu, QMenu)
    action = next(a for a in menu.actions() if a.text() == "Open runs table")
    action.trigger()
    menu.close()
    tab = wait_until(lambda: window.run_detail.runs_tables(), qtbot=qtbot)[0]
    assert tab.experiment == "many"


def test_pages_are_fetched_as_the_table_scrolls(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "many")
    model = tab.model
    assert model.rowCount() == 200 and model.has_more
    wait_until(lambda: tab.count_label.text() == "450 runs", qtbot=qtbot)
    bar = tab.view.verticalScrollBar()
    bar.setValue(bar.maximum())
    wait_until(lambda: model.rowCount() == 400, "the second page", qtbot=qtbot)
    bar.setValue(bar.maximum())
    wait_until(lambda: model.rowCount() == MANY, "the last page", qtbot=qtbot)
    assert not model.has_more
    names = column_texts(tab, 0)
    assert names[0] == "run-449" and names[-1] == "run-000" and len(set(names)) == MANY


def test_clicking_a_header_sorts_on_the_server(studio: dict[str, Any], qtbot: QtBot) -> None:
    fake, tab = studio["fake"], open_table(qtbot, studio["window"], "many")
    header = tab.view.horizontalHeader()
    tab.model.add_column(Key("metrics", "acc"))
    tab.model.add_column(Key("metrics", "val loss"))

    def click(column: int) -> None:
        x = header.sectionViewportPosition(column) + 5
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))

    def sorted_by(order: tuple[str, ...]) -> bool:
        return fake.queries[-1].order_by == order and not tab.model.loading

    click(4)  # acc: highest first
    wait_until(lambda: sorted_by(("metrics.acc DESC",)), "acc DESC sent", qtbot=qtbot)
    assert cell(tab, column_texts(tab, 0)[0], Key("metrics", "acc")) == "0.96"
    assert header.sortIndicatorSection() == 4 and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert tab.model.rowCount() == 200  # paging started over
    click(4)
    wait_until(lambda: sorted_by(("metrics.acc ASC",)), "acc ASC sent", qtbot=qtbot)
    assert column_texts(tab, 4)[0] == "0"
    click(4)  # third click: back to newest first
    wait_until(lambda: sorted_by(()), "the default order", qtbot=qtbot)
    assert header.sortIndicatorSection() == -1 and column_texts(tab, 0)[0] == "run-449"
    click(5)  # a name with a space is sent in backticks
    wait_until(lambda: sorted_by(("metrics.`val loss` DESC",)), "backticked key", qtbot=qtbot)
    click(0)
    wait_until(lambda: sorted_by(("attributes.run_name ASC",)), "run name", qtbot=qtbot)
    assert column_texts(tab, 0)[:2] == ["run-000", "run-001"]
    click(3)
    wait_until(lambda: sorted_by(("attributes.duration DESC",)), "duration", qtbot=qtbot)


def test_a_malformed_filter_is_shown_under_the_box_and_the_table_stays(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "many")
    error = tab.filter_error
    qtbot.keyClicks(tab.filter_box, "metrics.acc >")
    qtbot.keyClick(tab.filter_box, Qt.Key.Key_Return)
    wait_until(lambda: error.isVisible(), "the error", qtbot=qtbot)
    assert "column" in error.text() and "expected" in error.text()
    assert tab.model.rowCount() == 200 and tab.stack.currentWidget() is tab.view
    qtbot.keyClicks(tab.filter_box, " 0.95")  # applied after the pause, without Enter
    wait_until(lambda: not error.isVisible() and tab.model.rowCount() == 4, "the filtered runs", qtbot=qtbot)
    assert studio["fake"].queries[-1].filter == "metrics.acc > 0.95"
    wait_until(lambda: tab.count_label.text() == "4 runs", qtbot=qtbot)
    tab.filter_box.setText("run-0 metrics.acc < 0.05 and params.lr = '0.001'")  # both syntaxes in one box
    qtbot.keyClick(tab.filter_box, Qt.Key.Key_Return)
    wait_until(lambda: column_texts(tab, 0) == ["run-099", "run-003", "run-000"], qtbot=qtbot)


def test_empty_states_say_what_happened(studio: dict[str, Any], qtbot: QtBot) -> None:
    window = studio["window"]
    empty = open_table(qtbot, window, "empty")
    assert empty.stack.currentWidget() is empty.empty and "No runs in “empty” yet." in empty.empty.text()
    tab = open_table(qtbot, window, "many")
    tab.filter_box.setText("nothing-like-this")
    qtbot.keyClick(tab.filter_box, Qt.Key.Key_Return)
    wait_until(lambda: tab.stack.currentWidget() is tab.empty, "the empty state", qtbot=qtbot)
    assert tab.empty.text() == "No runs match “nothing-like-this”."
    tab.filter_box.clear()
    qtbot.keyClick(tab.filter_box, Qt.Key.Key_Return)
    wait_until(lambda: tab.stack.currentWidget() is tab.view and tab.model.rowCount() == 200, qtbot=qtbot)
    broken = open_table(qtbot, window, "broken")
    assert broken.stack.currentWidget() is broken.empty
    text = broken.empty.text()
    assert "The tracking server did not answer." in text and "Traceback" not in text


def test_the_column_chooser_adds_a_metric_column_with_last_values(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "mnist")
    qtbot.mouseClick(tab.columns_button, Qt.MouseButton.LeftButton)
    chooser = tab.chooser
    item = wait_until(lambda: chooser.item_for(Key("metrics", "loss")), "the names", qtbot=qtbot)
    assert "5 runs" in item.text()  # baseline, diverged, trial-3, trial-4 and live log a loss
    qtbot.keyClicks(chooser.search, "mod")
    assert not chooser.item_for(Key("tags", "model")).isHidden()
    assert item.isHidden()
    chooser.search.clear()
    item.setCheckState(Qt.CheckState.Checked)
    key = Key("metrics", "loss")
    assert tab.model.keys[-1] == key and tab.model.headerData(4, Qt.Orientation.Horizontal) == "loss"
    assert cell(tab, "trial-4", key) == "0.1"
    assert cell(tab, "diverged", key) == "inf"
    assert cell(tab, "stopped", key) == ""
    align = tab.model.index(0, 4).data(Qt.ItemDataRole.TextAlignmentRole)
    assert align & int(Qt.AlignmentFlag.AlignRight)
    chooser.item_for(Key("tags", "lr")).setCheckState(Qt.CheckState.Checked)
    assert cell(tab, "trial-3", Key("tags", "lr")) == "0.01"
    item.setCheckState(Qt.CheckState.Unchecked)
    assert key not in tab.model.keys
    chooser.hide()


def test_nan_and_missing_metrics_and_params(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "many")
    tab.model.add_column(Key("metrics", "val loss"))
    tab.model.add_column(Key("params", "lr"))
    assert cell(tab, "run-440", Key("metrics", "val loss")) == "NaN"
    assert cell(tab, "run-445", Key("metrics", "val loss")) == "0.5"
    assert cell(tab, "run-449", Key("metrics", "val loss")) == ""
    assert cell(tab, "run-449", Key("params", "lr")) == "0.003"


def test_columns_and_sort_are_remembered_per_experiment(studio: dict[str, Any], qtbot: QtBot) -> None:
    window = studio["window"]
    tab = open_table(qtbot, window, "many")
    qtbot.mouseClick(tab.columns_button, Qt.MouseButton.LeftButton)
    wait_until(lambda: tab.chooser.item_for(Key("metrics", "val loss")), qtbot=qtbot)
    tab.chooser.item_for(Key("metrics", "val loss")).setCheckState(Qt.CheckState.Checked)
    tab.chooser.item_for(Key("params", "lr")).setCheckState(Qt.CheckState.Checked)
    tab.chooser.hide()
    tab._header_clicked(4)  # val loss, highest first
    wait_until(lambda: not tab.model.loading, qtbot=qtbot)
    window.run_detail.close_tab(window.run_detail.tabs.indexOf(tab))
    other = open_table(qtbot, window, "mnist")
    assert other.model.chosen == [] and other.query().order_by == ()
    again = open_table(qtbot, window, "many")
    assert again.model.chosen == [Key("metrics", "val loss"), Key("params", "lr")]
    assert again.query().order_by == ("metrics.`val loss` DESC",)
    assert studio["fake"].queries[-1].order_by == ("metrics.`val loss` DESC",)
    header = again.view.horizontalHeader()
    assert header.sortIndicatorSection() == 4 and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    # Another start of the window reads the same file.
    window.settings.sync()
    reread = WindowSettings(studio["settings"])
    assert "val loss" in reread.runs_table_state(LOCATION, "many")
    assert reread.runs_table_state("fake://elsewhere", "many") == ""


def test_compare_and_open_from_the_table(studio: dict[str, Any], qtbot: QtBot) -> None:
    window = studio["window"]
    tab = open_table(qtbot, window, "mnist")
    view = tab.view
    assert not tab.compare_button.isEnabled()
    view.selectRow(1)
    view.selectionModel().select(
        tab.model.index(3, 0), view.selectionModel().SelectionFlag.Select | view.selectionModel().SelectionFlag.Rows
    )
    assert tab.compare_button.isEnabled()
    ids = studio["ids"]
    with qtbot.waitSignal(tab.sig_compare_runs) as compared:
        qtbot.mouseClick(tab.compare_button, Qt.MouseButton.LeftButton)
    assert compared.args == [[ids["trial-4"], ids["stopped"]]]
    tabs = window.run_detail.tabs
    wait_until(lambda: isinstance(tabs.currentWidget(), CompareView), "the compare view", qtbot=qtbot)
    window.run_detail.tabs.setCurrentWidget(tab)
    rect = view.visualRect(tab.model.index(4, 0))
    with qtbot.waitSignal(tab.sig_open_runs) as opened:
        double_click(qtbot, view.viewport(), rect.center())
    assert opened.args == [[ids["diverged"]]]
    wait_until(lambda: isinstance(tabs.currentWidget(), RunTabPage), qtbot=qtbot)
    assert tabs.currentWidget().run_id == ids["diverged"]
    window.run_detail.tabs.setCurrentWidget(tab)
    view.selectRow(5)
    view.setFocus()
    with qtbot.waitSignal(tab.sig_open_runs) as entered:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert entered.args == [[ids["baseline"]]]


def test_live_changes_update_shown_runs_and_announce_new_ones(studio: dict[str, Any], qtbot: QtBot) -> None:
    fake, ids = studio["fake"], studio["ids"]
    tab = open_table(qtbot, studio["window"], "mnist")
    key = Key("metrics", "loss")
    tab.model.add_column(key)
    assert cell(tab, "live", Key("attributes", "status")) == "Running"
    fake.log_series(ids["live"], "loss", [0.42])
    fake.set_status(ids["live"], RunStatus.COMPLETED)
    wait_until(lambda: cell(tab, "live", Key("attributes", "status")) == "Completed", "status in place", qtbot=qtbot)
    assert cell(tab, "live", key) == "0.42" and tab.model.rowCount() == 6
    # Newest first: a new run goes on top.
    fake.add_run("mnist", "fresh")
    wait_until(lambda: column_texts(tab, 0)[0] == "fresh", "the new run on top", qtbot=qtbot)
    wait_until(lambda: tab.count_label.text() == "7 runs", qtbot=qtbot)
    # Sorted by something else: the table says there are new runs instead.
    tab._header_clicked(0)
    wait_until(lambda: not tab.model.loading and column_texts(tab, 0)[0] == "baseline", qtbot=qtbot)
    fake.add_run("mnist", "fresher")
    fake.add_run("cifar", "elsewhere")
    wait_until(lambda: tab.new_runs_button.isVisible(), "the new-runs button", qtbot=qtbot)
    assert tab.new_runs_button.text() == "1 new run — refresh" and "fresher" not in column_texts(tab, 0)
    qtbot.mouseClick(tab.new_runs_button, Qt.MouseButton.LeftButton)
    wait_until(lambda: "fresher" in column_texts(tab, 0) and not tab.new_runs_button.isVisible(), qtbot=qtbot)


def test_chart_data_has_the_numeric_columns_of_the_loaded_runs(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "many")
    tab.model.add_column(Key("metrics", "acc"))
    tab.model.add_column(Key("params", "lr"))
    tab.model.add_column(Key("metrics", "val loss"))
    columns, values, run_ids, names = tab._chart_data()
    assert columns == ["acc", "val loss", "Duration", "Started"]  # titled as the header shows them
    assert values.shape == (200, 4) and values.dtype.kind == "f"
    assert names[0] == "run-449" and run_ids[0] == studio["ids"]["run-449"]
    assert values[0, 0] == pytest.approx(0.61) and math.isnan(values[0, 1])
    assert names[4] == "run-445" and values[4, 1] == pytest.approx(0.5)
    assert names[9] == "run-440" and math.isnan(values[9, 1])


def test_the_gui_thread_never_calls_the_backend(studio: dict[str, Any], qtbot: QtBot) -> None:
    window = studio["window"]
    tab = open_table(qtbot, window, "many")
    qtbot.mouseClick(tab.columns_button, Qt.MouseButton.LeftButton)
    wait_until(lambda: tab.chooser.item_for(Key("metrics", "acc")), qtbot=qtbot)
    tab.chooser.hide()
    tab._header_clicked(0)
    tab.filter_box.setText("metrics.acc > 0.5")
    qtbot.keyClick(tab.filter_box, Qt.Key.Key_Return)
    wait_until(lambda: not tab.model.loading, qtbot=qtbot)
    window.refresh()
    wait_until(lambda: not tab.model.loading, qtbot=qtbot)
    backend = studio["opener"].backends[0]
    assert {"list_runs", "count_runs", "list_run_keys"} <= set(backend.calls)
    assert backend.violations == []


def test_stale_pages_of_an_older_query_are_dropped(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "many")
    model = tab.model
    model.fetchMore(QModelIndex())  # a page of the newest-first order is in flight...
    tab._header_clicked(0)  # ...when the order changes
    wait_until(lambda: not model.loading, qtbot=qtbot)
    wait_until(lambda: column_texts(tab, 0)[:3] == ["run-000", "run-001", "run-002"], qtbot=qtbot)
    names = column_texts(tab, 0)
    assert names == sorted(names) and len(names) == len(set(names))


def test_the_table_context_menu_compares_and_opens(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "mnist")
    view, ids = tab.view, studio["ids"]
    view.selectRow(0)
    view.selectionModel().select(
        tab.model.index(2, 0), view.selectionModel().SelectionFlag.Select | view.selectionModel().SelectionFlag.Rows
    )
    view._context_menu(view.visualRect(tab.model.index(2, 0)).center())
    menu = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "runsTableContextMenu")
    actions = {a.text(): a for a in menu.actions()}
    with qtbot.waitSignal(tab.sig_compare_runs) as compared:
        actions["Compare 2 runs"].trigger()
    assert compared.args == [[ids["live"], ids["trial-3"]]]
    with qtbot.waitSignal(tab.sig_open_runs) as opened:
        actions["Open"].trigger()
    assert opened.args == [[ids["live"], ids["trial-3"]]]
    menu.close()


def test_a_new_run_on_top_does_not_move_the_rows_being_read(studio: dict[str, Any], qtbot: QtBot) -> None:
    fake, tab = studio["fake"], open_table(qtbot, studio["window"], "many")
    view = tab.view
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    top_before = view.indexAt(QPoint(5, 5)).data()
    assert top_before not in (None, "run-449")
    fake.add_run("many", "brand-new")
    wait_until(lambda: column_texts(tab, 0)[0] == "brand-new", "the new run on top", qtbot=qtbot)
    assert view.indexAt(QPoint(5, 5)).data() == top_before


def test_the_header_menu_removes_a_chosen_column_and_resets_the_sort(studio: dict[str, Any], qtbot: QtBot) -> None:
    fake, tab = studio["fake"], open_table(qtbot, studio["window"], "many")
    key = Key("metrics", "acc")
    tab.model.add_column(key)
    tab._header_clicked(4)
    wait_until(lambda: fake.queries[-1].order_by == ("metrics.acc DESC",) and not tab.model.loading, qtbot=qtbot)
    header = tab.view.horizontalHeader()
    tab._header_menu(QPoint(header.sectionViewportPosition(4) + 5, 5))
    menu = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "runsTableHeaderMenu" and w.isVisible())
    remove = next(a for a in menu.actions() if a.text() == "Remove column “acc”")
    remove.trigger()
    menu.close()
    assert key not in tab.model.keys and header.sortIndicatorSection() == -1
    wait_until(lambda: fake.queries[-1].order_by == () and not tab.model.loading, "the default order", qtbot=qtbot)
    assert tab.state().columns == () and tab.state().order_by == ()


class StubChartPanel(QWidget):
    """Stands in for run_charts' RunChartsPanel: records what the table gives it."""

    sig_run_clicked = Signal(str)
    sig_run_hovered = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[list[str], Any, list[str], list[str]]] = []
        self.selected: list[list[str]] = []

    def set_data(self, columns: list[str], values: Any, run_ids: list[str], names: list[str]) -> None:
        self.data.append((columns, values, run_ids, names))

    def select_runs(self, run_ids: list[str]) -> None:
        self.selected.append(run_ids)


def test_a_chart_panel_gets_the_loaded_runs_and_selects_rows(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "many")
    wait_until(lambda: tab.chart_panel is not None, "the real panel first", qtbot=qtbot)
    panel = StubChartPanel()
    tab.set_chart_panel(panel)
    assert tab.splitter.widget(0) is panel and panel.isVisibleTo(tab)
    wait_until(lambda: panel.data and panel.data[-1][1].shape == (200, 2), "the first data", qtbot=qtbot)
    bar = tab.view.verticalScrollBar()
    bar.setValue(bar.maximum())
    wait_until(lambda: panel.data[-1][1].shape == (400, 2), "the chart follows the pages", qtbot=qtbot)
    panel.sig_run_clicked.emit(studio["ids"]["run-300"])
    assert tab.view.selected_run_ids() == [studio["ids"]["run-300"]]
    assert panel.selected[-1] == [studio["ids"]["run-300"]]


def test_the_run_charts_panel_sits_above_the_table_with_the_loaded_runs(studio: dict[str, Any], qtbot: QtBot) -> None:
    from studio.ui.run_charts import RunChartsPanel

    tab = open_table(qtbot, studio["window"], "many")
    panel = wait_until(lambda: tab.chart_panel, "the chart panel", qtbot=qtbot)
    assert isinstance(panel, RunChartsPanel) and tab.splitter.widget(0) is panel
    assert tab.splitter.sizes()[0] > 0 and tab.splitter.sizes()[1] > tab.splitter.sizes()[0]
    tab.model.add_column(Key("metrics", "acc"))
    wait_until(lambda: panel.table.columns == ["acc", "Duration", "Started"], "the new column charted", qtbot=qtbot)
    assert panel.table.n_runs == 200
    tab.view.selectRow(0)
    with qtbot.waitSignal(panel.sig_run_clicked):
        panel.sig_run_clicked.emit(studio["ids"]["run-400"])
    assert tab.view.selected_run_ids() == [studio["ids"]["run-400"]]


def test_a_table_never_arranged_starts_with_the_metrics_most_runs_have(studio: dict[str, Any], qtbot: QtBot) -> None:
    tab = open_table(qtbot, studio["window"], "mnist", arranged=False)
    wait_until(lambda: tab.model.rowCount() > 0, "the rows", qtbot=qtbot)
    # loss: 5 of mnist's top-level runs; epoch and lr: only baseline (ties broken by name)
    assert tab.model.chosen == [Key("metrics", "loss"), Key("metrics", "epoch"), Key("metrics", "lr")]
    assert cell(tab, "trial-4", Key("metrics", "loss")) == "0.1"
    tab.close()
    again = open_table(qtbot, studio["window"], "search", arranged=True)
    wait_until(lambda: again.model.rowCount() > 0, "the rows", qtbot=qtbot)
    assert again.model.chosen == []  # a table arranged before keeps what it had, even no columns
