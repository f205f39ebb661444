"""The main window driven as a user would, on a real local workspace, backend calls off the GUI thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QLineEdit, QPushButton, QTableView, QTreeView

from studio.sdk import Experiment, Run, Workspace
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.workspaces.local.opener import LocalWorkspaceOpener
from tests.compute_helpers import stop_everything
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until


def make_workspace(path: Path, runs: int = 30) -> list[str]:
    """A workspace with two experiments; returns the run ids of "mnist", oldest first."""
    ws = Workspace(path)
    ids = []
    mnist = Experiment(ws, "mnist")
    for i in range(runs):
        run = mnist.start_logging(display_name=f"trial-{i}")
        for step in range(3):
            run.log("loss", 1 / (i + 1) / (step + 1))
        run.tag("lr", "0.01" if i % 2 else "0.1")
        if i % 10 == 3:
            run.fail(error_details="diverged")
        else:
            run.complete()
        ids.append(run.id)
    Experiment(ws, "cifar").start_logging(display_name="only-run").complete()
    ws.backend.workspace.close()
    return ids


def open_window(
    qtbot: Any, ws_path: Path, settings_file: str, create: bool = False
) -> tuple[MainWindow, GuardedOpener]:
    """A shown window (backend calls guarded) with ``ws_path`` open."""
    opener = GuardedOpener(LocalWorkspaceOpener())
    window = MainWindow([opener], WindowSettings(settings_file))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(str(ws_path), create=create)
    return window, opener


@pytest.fixture
def studio(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("STUDIO_CANCEL_GRACE_S", "1")
    ws_path = tmp_path / "ws"
    ids = make_workspace(ws_path)
    settings_file = str(tmp_path / "settings.ini")
    window, opener = open_window(qtbot, ws_path, settings_file)
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("mnist").isValid(), qtbot=qtbot)
    yield {"window": window, "ids": ids, "path": ws_path, "opener": opener, "settings": settings_file}
    window.close()
    stop_everything(ws_path)
    assert opener.violations == []


def expand(qtbot: Any, window: MainWindow, experiment: str) -> Any:
    model = window.experiment_pane.model
    index = model.index_of_experiment(experiment)
    window.experiment_pane.view.expand(index)
    wait_until(lambda: model.loaded_run_count(experiment) > 0, qtbot=qtbot)
    return index


def names(window: MainWindow, parent: Any) -> list[str]:
    model = window.experiment_pane.model
    return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]


def test_the_window_has_its_panes(studio: dict[str, Any]) -> None:
    window = studio["window"]
    for name in ("workspacePane", "experimentTree", "computePane"):
        assert isinstance(window.findChild(QDockWidget, name), QDockWidget), name
    assert window.centralWidget().objectName() == "runDetail"
    assert isinstance(window.findChild(QTreeView, "runTree"), QTreeView)
    assert isinstance(window.findChild(QTableView, "computeTable"), QTableView)
    assert window.windowTitle() == "Studio — ws"
    assert not window.windowIcon().isNull()
    shortcuts = {a.objectName(): a.shortcut().toString() for a in window.findChildren(type(window.act_refresh))}
    assert shortcuts["actionRefresh"] == "F5" and shortcuts["actionFilter"] == "Ctrl+F"
    assert shortcuts["actionCloseTab"] == "Ctrl+W" and shortcuts["actionQuit"] == "Ctrl+Q"


def test_expanding_lists_runs_newest_first_with_children_lazily(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    index = expand(qtbot, window, "mnist")
    assert names(window, index)[:3] == ["trial-29", "trial-28", "trial-27"]
    assert len(names(window, index)) == 30
    model = window.experiment_pane.model
    experiment = model.index_of_experiment("mnist")
    assert model.index(experiment.row(), 1, experiment.parent()).data() == "30 runs"
    assert model.index(0, 1, index).data() == "Completed"


def test_filter_runs_in_the_backend(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    index = expand(qtbot, window, "mnist")
    box = window.findChild(QLineEdit, "runFilter")
    qtbot.keyClicks(box, "status:failed")
    wait_until(lambda: names(window, index) == ["trial-23", "trial-13", "trial-3"], qtbot=qtbot)
    box.clear()
    qtbot.keyClicks(box, "trial-2 tag:lr=0.01")
    wait_until(
        lambda: set(names(window, index)) == {"trial-29", "trial-27", "trial-25", "trial-23", "trial-21"}, qtbot=qtbot
    )
    box.clear()
    qtbot.keyClicks(box, "status:nonsense")
    error = window.findChild(QLabel, "runFilterError")
    wait_until(lambda: error.isVisible() and "unknown status" in error.text().lower(), qtbot=qtbot)
    box.clear()
    wait_until(lambda: len(names(window, index)) == 30, qtbot=qtbot)
    assert "list_runs" in studio["opener"].backends[0].calls  # filtering went to the backend


def test_open_a_run_and_close_its_tab(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    index = expand(qtbot, window, "mnist")
    view = window.experiment_pane.view
    run_index = window.experiment_pane.model.index(6, 0, index)  # trial-23, which failed
    view.scrollTo(run_index)
    rect = view.visualRect(run_index)
    assert rect.isValid()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    tabs = window.run_detail.tabs
    wait_until(lambda: tabs.count() == 1, qtbot=qtbot)
    wait_until(lambda: tabs.tabText(0) == "trial-23", qtbot=qtbot)
    overview = tabs.widget(0).overview
    wait_until(lambda: "diverged" in overview.fields["Error"].text(), qtbot=qtbot)
    assert "Failed" in overview.fields["Status"].text()
    window.open_run(studio["ids"][0])
    wait_until(lambda: tabs.count() == 2, qtbot=qtbot)
    window.open_run(studio["ids"][0])  # already open: no second tab
    assert tabs.count() == 2
    window.act_close_tab.trigger()
    window.act_close_tab.trigger()
    assert tabs.count() == 0 and window.run_detail.currentIndex() == 0


def test_live_refresh_adds_runs_and_keeps_the_selection(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    index = expand(qtbot, window, "mnist")
    pane = window.experiment_pane
    assert pane.select_run(studio["ids"][10])
    ws = Workspace(studio["path"])
    live = Experiment(ws, "mnist").start_logging(display_name="live-run")
    wait_until(lambda: names(window, index)[0] == "live-run", qtbot=qtbot)
    assert pane.selected_run_ids() == [studio["ids"][10]]
    model = pane.model
    wait_until(lambda: model.index(0, 1, index).data() == "Running", qtbot=qtbot)
    live.complete()
    wait_until(lambda: model.index(0, 1, index).data() == "Completed", qtbot=qtbot)
    Experiment(ws, "brand-new").start_logging().complete()
    wait_until(lambda: model.index_of_experiment("brand-new").isValid(), qtbot=qtbot)
    ws.backend.workspace.close()


def test_child_runs_load_when_their_parent_is_expanded_and_live(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    ws = Workspace(studio["path"])
    parent = Experiment(ws, "mnist").start_logging(display_name="sweep")
    for i in range(3):
        parent.child_run(name=f"child-{i}").complete()
    index = expand(qtbot, window, "mnist")
    model, view = window.experiment_pane.model, window.experiment_pane.view
    wait_until(lambda: names(window, index)[0] == "sweep", qtbot=qtbot)
    sweep = model.index(0, 0, index)
    assert names(window, sweep) == ["Loading…"]  # it can be expanded before its children are loaded
    assert model.run_info(model.index(0, 0, sweep)) is None  # and the placeholder is no run
    view.expand(sweep)
    wait_until(lambda: names(window, sweep) == ["child-0", "child-1", "child-2"], qtbot=qtbot)
    assert model.index(2, 1, sweep).data() == "Completed"
    assert model.run_info(model.index(1, 0, sweep)).parent_id == parent.id
    late = parent.child_run(name="child-3")  # a child started while the parent is expanded appears live
    wait_until(lambda: names(window, sweep)[-1] == "child-3", qtbot=qtbot)
    wait_until(lambda: model.index(3, 1, sweep).data() == "Running", qtbot=qtbot)
    assert window.experiment_pane.select_run(late.id)
    late.complete()
    parent.complete()
    ws.backend.workspace.close()


def test_runs_that_fail_to_load_say_so_and_refresh_retries(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    backend = studio["opener"].backends[0]
    real_list_runs = backend.list_runs
    failures: list[str] = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append("list_runs")
            raise OSError("disk I/O error")
        return real_list_runs(*args, **kwargs)

    backend.list_runs = fails_once
    model = window.experiment_pane.model
    index = model.index_of_experiment("mnist")
    window.experiment_pane.view.expand(index)
    wait_until(lambda: "disk I/O error" in str(model.index(0, 0, index).data()), qtbot=qtbot)
    assert str(model.index(0, 0, index).data()).startswith("Could not load")
    assert model.loaded_run_count("mnist") == 0 and model.run_info(model.index(0, 0, index)) is None
    assert window.notifier.last is not None and "disk I/O error" in window.notifier.last[0]
    assert not model.canFetchMore(index)  # no retry loop by itself
    window.act_refresh.trigger()
    wait_until(lambda: model.loaded_run_count("mnist") == 30, qtbot=qtbot)
    assert names(window, index)[:2] == ["trial-29", "trial-28"]


def test_a_closed_run_tab_is_freed_even_after_the_tree_loaded_pages(studio: dict[str, Any], qtbot: Any) -> None:
    """The tree once froze every live object out of the garbage collector after each page: a run
    tab open at that moment (with its charts' data) could then never be freed once closed."""
    import gc
    import weakref

    window = studio["window"]
    page = window.run_detail.open_run(studio["ids"][4])
    page.show_tab("Metrics")
    metrics = page.tab("Metrics")
    wait_until(lambda: "loss" in (metrics.grid.chart_of("loss") or ()), qtbot=qtbot)
    assert len(metrics.grid.chart_of("loss").series("loss").values) == 3
    refs = [weakref.ref(page), weakref.ref(metrics), weakref.ref(metrics.grid.chart_of("loss"))]
    page = metrics = None  # the test holds no reference
    expand(qtbot, window, "mnist")  # a page of runs arrives while the tab is open
    window.run_detail.close_current()
    wait_until(lambda: gc.collect() >= 0 and all(r() is None for r in refs), qtbot=qtbot)


def test_cancel_a_run_from_the_window(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    ws = Workspace(studio["path"])
    active = Experiment(ws, "mnist").start_logging(display_name="to-cancel")
    index = expand(qtbot, window, "mnist")
    wait_until(lambda: names(window, index)[0] == "to-cancel", qtbot=qtbot)
    window.experiment_pane.select_run(active.id)
    window.act_cancel.trigger()
    wait_until(lambda: window.experiment_pane.model.index(0, 1, index).data() == "Canceled", qtbot=qtbot)
    assert Run(Experiment(ws, "mnist"), active.id).get_status() == "Canceled"
    ws.backend.workspace.close()


def test_download_outputs_writes_files_and_reports(studio: dict[str, Any], qtbot: Any, tmp_path: Path) -> None:
    import io

    window = studio["window"]
    ws = Workspace(studio["path"])
    run = Experiment(ws, "mnist").start_logging()
    run.upload_file("outputs/a.txt", io.BytesIO(b"A"))
    run.upload_file("outputs/sub/b.txt", io.BytesIO(b"B"))
    run.complete()
    target = tmp_path / "dl"
    with qtbot.waitSignal(window.runner.sig_task_ended, timeout=10_000):
        window.download_outputs_to(run.id, str(target))
    assert (target / "outputs" / "a.txt").read_bytes() == b"A"
    assert (target / "outputs" / "sub" / "b.txt").read_bytes() == b"B"
    window.download_outputs_to(run.id, str(target))  # a name collision: reported, nothing overwritten
    wait_until(lambda: window.notifier.last is not None and "already exists" in window.notifier.last[0], qtbot=qtbot)
    ws.backend.workspace.close()


def test_a_corrupt_workspace_is_reported_and_the_app_keeps_working(
    studio: dict[str, Any], qtbot: Any, tmp_path: Path
) -> None:
    window = studio["window"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "workspace.db").write_bytes(b"not a database" * 50)
    window.open_workspace(str(bad))
    wait_until(lambda: window.notifier.last is not None and "damaged" in window.notifier.last[0], qtbot=qtbot)
    assert window.location == str(studio["path"])  # still on the good workspace
    expand(qtbot, window, "mnist")


def test_open_folder_asks_before_making_a_workspace(
    studio: dict[str, Any], qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = studio["window"]
    folder = tmp_path / "plain"
    folder.mkdir()
    asked: list[str] = []
    monkeypatch.setattr(window, "confirm", lambda title, text: asked.append(text) is None and False)
    window.open_folder_path(str(folder))
    wait_until(lambda: asked, qtbot=qtbot)
    assert not (folder / "workspace.db").exists()
    monkeypatch.setattr(window, "confirm", lambda title, text: True)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_folder_path(str(folder))
    assert (folder / "workspace.db").exists() and window.location == str(folder)
    wait_until(lambda: window.experiment_pane.stack.currentIndex() == 1, qtbot=qtbot)  # the empty state
    window.open_workspace(str(studio["path"]))
    wait_until(lambda: window.location == str(studio["path"]), qtbot=qtbot)


def test_sample_experiment_runs_on_local_compute(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_path = tmp_path / "empty"
    window, opener = open_window(qtbot, ws_path, str(tmp_path / "settings.ini"), create=True)
    try:
        pane = window.experiment_pane
        button = window.findChild(QPushButton, "sampleExperimentButton")
        wait_until(lambda: pane.stack.currentIndex() == 1 and button.isVisible(), qtbot=qtbot)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        tabs = window.run_detail.tabs
        wait_until(lambda: tabs.count() == 1, qtbot=qtbot)
        overview = tabs.widget(0).overview
        wait_until(
            lambda: overview.run is not None and overview.run.status.value == "Completed", qtbot=qtbot, timeout=60
        )
        wait_until(lambda: "accuracy" in overview.fields["Metrics"].text(), qtbot=qtbot)
        model = pane.model
        wait_until(lambda: model.index_of_experiment("sample-experiment").isValid(), qtbot=qtbot)
        metrics = Run.get_context  # the run logged every kind; check through the SDK
        assert metrics is not None
        ws = Workspace(ws_path)
        run = Run(Experiment(ws, "sample-experiment"), overview.run_id)
        got = run.get_metrics()
        assert {"loss", "accuracy", "layer_sizes", "epochs", "per_class", "confusion_matrix", "optimizer"} <= set(got)
        assert {"outputs/history.csv", "outputs/metrics.json", "outputs/README.txt"} <= set(run.get_file_names())
        ws.backend.workspace.close()
    finally:
        window.close()
        stop_everything(ws_path)
    assert opener.violations == []


def test_layout_and_recent_workspaces_come_back(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    window.resize(700, 520)  # inside the offscreen screen (800 x 600)
    window.compute_pane.hide()
    index = expand(qtbot, window, "mnist")
    window.experiment_pane.view.setCurrentIndex(window.experiment_pane.model.index(4, 0, index))
    selected = window.experiment_pane.selected_run_ids()
    window.close()
    again = MainWindow([studio["opener"]], WindowSettings(studio["settings"]))
    qtbot.addWidget(again)
    again.show()
    assert (again.width(), again.height()) == (700, 520)
    assert again.compute_pane.isHidden()
    with qtbot.waitSignal(again.sig_workspace_opened, timeout=10_000):
        again.open_workspace(str(studio["path"]))
    assert str(studio["path"]) in again.settings.recent_workspaces()
    wait_until(lambda: again.experiment_pane.selected_run_ids() == selected, qtbot=qtbot)  # the last selection
    again.close()


def test_opening_the_window_does_not_load_azure(tmp_path: Path) -> None:
    code = (
        "import sys, os\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from studio.ui.shell.app import create_app\n"
        "from studio.ui.shell.main_window import MainWindow\n"
        "from studio.ui.shell.settings import WindowSettings\n"
        "from studio.workspaces.local.opener import LocalWorkspaceOpener\n"
        "app = create_app()\n"
        f"w = MainWindow([LocalWorkspaceOpener()], WindowSettings({str(tmp_path / 's.ini')!r}))\n"
        f"w.show(); w.open_workspace({str(tmp_path / 'ws')!r}, create=True)\n"
        "from PySide6.QtCore import QTimer\n"
        "QTimer.singleShot(1500, app.quit); app.exec(); w.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'azure'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_compare_runs_shows_differences(studio: dict[str, Any], qtbot: Any) -> None:
    window = studio["window"]
    index = expand(qtbot, window, "mnist")
    view = window.experiment_pane.view
    model = window.experiment_pane.model
    selection = view.selectionModel()
    from PySide6.QtCore import QItemSelectionModel

    for row in (0, 1, 6):
        selection.select(
            model.index(row, 0, index),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    window.act_compare.trigger()
    tabs = window.run_detail.tabs
    wait_until(lambda: tabs.count() == 1 and tabs.tabText(0) == "Compare (3)", qtbot=qtbot)
    compare = tabs.widget(0)
    wait_until(lambda: compare.table_model.rowCount() > 0, qtbot=qtbot)
    labels = compare.table_model.row_labels()
    assert {"Status", "tag: lr", "metric: loss"} <= set(labels)
    compare.diff_only.setChecked(True)
    shown = compare.table_model.row_labels()
    assert "Status" in shown  # one of the three failed
    assert all(len(set(cells)) > 1 for label, cells in compare.table_model._rows)
    assert compare.legend.count() == 3
    wait_until(lambda: compare.loaded, qtbot=qtbot)  # charts are built a slice per event-loop turn
    chart = compare.charts["loss"]  # one line per run, each run's whole series
    assert sorted(chart.line_keys()) == sorted(compare.run_ids)
    compare.legend.item(0).setCheckState(Qt.CheckState.Unchecked)  # hide one run
    assert not chart.raw_item(compare.legend.item(0).data(Qt.ItemDataRole.UserRole)).isVisible()


def test_edit_a_runs_name_description_and_tags(studio: dict[str, Any], qtbot: Any) -> None:
    from studio.ui.runs.edit_run_dialog import parse_tags

    window = studio["window"]
    run_id = studio["ids"][5]
    page = window.run_detail.open_run(run_id)
    overview = page.overview
    wait_until(lambda: overview.run is not None, qtbot=qtbot)
    overview.save_edit(("renamed run", "a note", parse_tags("owner=me\nbaseline\n")))
    wait_until(lambda: overview.run.display_name == "renamed run", qtbot=qtbot)
    assert overview.run.tags == {"owner": "me", "baseline": ""} and overview.run.description == "a note"
    wait_until(lambda: window.run_detail.tabs.tabText(0) == "renamed run", qtbot=qtbot)
    with pytest.raises(ValueError, match="line 2"):
        parse_tags("ok=1\n=no name\n")


def test_runs_load_a_page_at_a_time_as_the_user_scrolls(qtbot: Any, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "many")
    exp = Experiment(ws, "many")
    for i in range(450):
        exp.start_logging(display_name=f"r{i}").complete()
    ws.backend.workspace.close()
    window, opener = open_window(qtbot, tmp_path / "many", str(tmp_path / "s.ini"))
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("many").isValid(), qtbot=qtbot)
    index = model.index_of_experiment("many")
    with qtbot.waitSignal(model.sig_page_loaded, timeout=10_000):
        window.experiment_pane.view.expand(index)
    # Once no background work is left, only the first page is there (the bug: every page at once).
    wait_until(lambda: not window.runner._tasks and not model.canFetchMore(index), qtbot=qtbot)
    assert model.rowCount(index) == 200
    bar = window.experiment_pane.view.verticalScrollBar()
    bar.setValue(bar.maximum())
    wait_until(lambda: model.rowCount(index) == 400, qtbot=qtbot)
    bar.setValue(bar.maximum())
    wait_until(lambda: model.rowCount(index) == 450, qtbot=qtbot)
    assert not model.has_more(index)
    window.close()
    assert opener.violations == []


def test_filtering_a_loaded_experiment_keeps_it_expanded(qtbot: Any, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "big")
    exp = Experiment(ws, "big")
    for i in range(260):
        exp.start_logging(display_name=f"r{i}").complete()
    ws.backend.workspace.close()
    window, opener = open_window(qtbot, tmp_path / "big", str(tmp_path / "s.ini"))
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("big").isValid(), qtbot=qtbot)
    window.experiment_pane.view.expand(model.index_of_experiment("big"))
    wait_until(lambda: model.loaded_run_count("big") == 200, qtbot=qtbot)
    qtbot.keyClicks(window.experiment_pane.filter_box, "r25")
    wait_until(
        lambda: (
            sorted(names(window, model.index_of_experiment("big")))
            == ["r25", "r250", "r251", "r252", "r253", "r254", "r255", "r256", "r257", "r258", "r259"]
        ),
        qtbot=qtbot,
    )
    assert window.experiment_pane.view.isExpanded(model.index_of_experiment("big"))
    qtbot.keyClicks(window.experiment_pane.filter_box, "nothing matches this")
    wait_until(
        lambda: model.loaded_run_count("big") == 0 and not model.rowCount(model.index_of_experiment("big")), qtbot=qtbot
    )
    window.experiment_pane.filter_box.clear()
    wait_until(lambda: names(window, model.index_of_experiment("big"))[:2] == ["r259", "r258"], qtbot=qtbot)
    assert window.experiment_pane.view.isExpanded(model.index_of_experiment("big"))
    window.close()
    assert opener.violations == []
