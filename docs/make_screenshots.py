"""Screenshots for the docs: ``python docs/make_screenshots.py`` writes docs/screenshots/*.png.

It logs a demo workspace in a temporary folder with studio.sdk (screenshot_demo.py: three
experiments, failed, running and child runs), runs the bundled sample experiment through the
window, puts jobs on three compute instances, then shows the real main window offscreen at
1280x800 in the light and the dark theme: the run list, the sample run's Metrics and
"Outputs + logs" tabs, and a compare view. Every compute instance is stopped before it returns.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "screenshots"
SIZE = (1280, 800)
COMPARED = ("baseline", "dropout-0.5", "batchnorm-adamw", "lr-3e-4", "wide-128ch")  # mnist-cnn runs
sys.path.insert(0, str(Path(__file__).resolve().parent))  # screenshot_demo.py next to this file


def pump(ms: int = 50) -> None:
    """Let the GUI thread handle events (worker results, timers, paints) for ``ms``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Process events until ``probe()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        pump()
    return value


def overview(page: Any) -> Any:
    """The Overview of an open run's tab (the tab itself in versions without sub-tabs)."""
    return getattr(page, "overview", page)


def stage(window: Any, ids: dict[str, str], tabs: list[str]) -> None:
    """Open ``tabs`` (the last one current), expand the sweeps and wait until everything shows."""
    from studio.ui.runs.run_overview import RunOverview

    tree, model = window.experiment_pane.view, window.experiment_pane.model
    wait("the experiments", lambda: model.rowCount() >= 4)
    for run_id in tabs:
        window.open_run(run_id)
    for name in ("bert-finetune", "resnet50-sweep", "sample-experiment"):
        tree.expand(model.index_of_experiment(name))
    wait("the sweep runs", lambda: model.index_of_run(ids["cosine-schedule sweep"]).isValid())
    tree.expand(model.index_of_run(ids["cosine-schedule sweep"]))
    wait("the trials", lambda: model.index_of_run(ids["trial-1 lr=0.08"]).isValid())
    wait("the current run in the tree", lambda: window.experiment_pane.select_run(tabs[-1]))
    pages = [window.run_detail.tabs.widget(i) for i in range(window.run_detail.tabs.count())]
    wait("the run tabs", lambda: all(isinstance(overview(p), RunOverview) and overview(p).run for p in pages))
    wait("the compute instances", lambda: window.compute_pane.model.rowCount() >= 3)
    settle(window)


def settle(window: Any) -> None:
    """Wait for the background tasks, a live-refresh round and the last paints; drop passing messages."""
    wait("idle background tasks", lambda: not window.runner.running())
    pump(1200)
    window.statusBar().clearMessage()  # e.g. "Sample experiment submitted: …"


def show_metrics(window: Any, run_id: str) -> None:
    """Open a run's Metrics tab and wait until every checked chart has its points."""
    from PySide6.QtWidgets import QWidget

    from studio.core.types import MetricKind

    window.open_run(run_id)  # its tab and its row in the tree
    page = window.run_detail.tabs.currentWidget()
    tab, updated = page.tab("Metrics"), set()
    tab.sig_updated.connect(updated.add)
    page.show_tab("Metrics")
    wait("the metric list", lambda: tab.infos)
    wait("the charts", lambda: all(n in updated for n in tab.infos if tab.chooser.is_checked(n)))
    wait("the loss chart", lambda: page.findChild(QWidget, "metricPlot:loss"))
    for name, info in tab.infos.items():  # single values (learning_rate, final_accuracy) make empty charts
        if info.kind is MetricKind.SCALAR and info.count == 1:
            tab.chooser.set_checked(name, False)
    settle(window)


def show_output(window: Any, run_id: str, path: str) -> None:
    """Open a run's "Outputs + logs" tab with ``path`` selected and its preview loaded."""
    window.open_run(run_id)  # its tab and its row in the tree
    page = window.run_detail.tabs.currentWidget()
    tab = page.tab("Outputs + logs")
    page.show_tab("Outputs + logs")
    wait(path, lambda: tab.model.index_of(path).isValid())
    tab.select(path)
    wait(f"the preview of {path}", lambda: tab.preview.preview is not None and tab.preview.preview.loaded)
    settle(window)


def show_compare(window: Any, ids: dict[str, str]) -> None:
    """Select some mnist-cnn runs in the tree, compare them and show only what differs."""
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QSplitter

    tree, model = window.experiment_pane.view, window.experiment_pane.model
    tree.expand(model.index_of_experiment("mnist-cnn"))
    wait("the mnist-cnn runs", lambda: all(model.index_of_run(ids[n]).isValid() for n in COMPARED))
    tree.selectionModel().clearSelection()
    for name in COMPARED:
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        tree.selectionModel().select(model.index_of_run(ids[name]), flags)
    tree.scrollTo(model.index_of_run(ids[COMPARED[0]]), tree.ScrollHint.PositionAtTop)
    window.compare_runs([ids[n] for n in COMPARED])
    view = window.run_detail.tabs.currentWidget()
    loaded: list[bool] = []
    view.sig_loaded.connect(lambda: loaded.append(True))
    wait("the comparison", lambda: loaded)
    view.diff_only.setChecked(True)
    view.findChild(QSplitter).setSizes([545, 145])  # both rows of charts, and the table's first rows
    settle(window)


def show_runs_table(window: Any) -> None:
    """Open mnist-cnn's runs table with metric and tag columns, sorted by final accuracy, filtered, charted."""
    import json

    from studio.core.types import RunQuery

    state = {
        "columns": ["metrics.final_accuracy", "metrics.loss", "tags.optimizer", "tags.lr"],
        "order_by": ["metrics.final_accuracy DESC"],
    }
    window.settings.save_runs_table_state(window.location, "mnist-cnn", json.dumps(state))
    window.open_runs_table("mnist-cnn")
    tab = window.run_detail.tabs.currentWidget()
    wait("the runs table's rows", lambda: tab.model.rowCount() > 0)
    tab.filter_box.setText("metrics.final_accuracy > 0.85")
    tab.filter_box.returnPressed.emit()
    wait("the filtered rows", lambda: tab.query().filter and tab.model.rowCount() > 0)
    wait("the chart", lambda: tab.chart_panel is not None)
    assert isinstance(tab.query(), RunQuery)
    pump(800)
    settle(window)


def shoot(widget: Any, name: str, size: tuple[int, int] | None = SIZE) -> None:
    """Save ``widget`` as docs/screenshots/<name>.png (checking its size)."""
    image = widget.grab().toImage()
    if size is not None and (image.width(), image.height()) != size:
        raise RuntimeError(f"{name}: the window is {image.width()}x{image.height()}, not {size[0]}x{size[1]}")
    OUT.mkdir(parents=True, exist_ok=True)
    if not image.save(str(OUT / f"{name}.png"), "PNG", 0):  # 0: the strongest compression
        raise RuntimeError(f"could not write {name}.png")
    print(f"wrote {OUT / name}.png ({(OUT / f'{name}.png').stat().st_size // 1024} KB)")


def new_window(theme: str, ini: Path) -> Any:
    """The real main window, themed, shown offscreen at 1280x800."""
    from studio.ui.shell.app import create_app
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import kinds

    os.environ["STUDIO_THEME"] = theme
    create_app(["studio"])  # (re)applies the theme: windows made after it use its palette
    window = MainWindow(kinds(), WindowSettings(str(ini)))
    window.resize(*SIZE)
    window.show()
    pump(200)
    return window


def close(window: Any) -> None:
    """Close a window and let its background tasks (closing the workspace) finish."""
    window.close()
    window.deleteLater()
    pump(300)


def main() -> None:
    """Build the demo workspace, take the screenshots, stop the compute instances."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from screenshot_demo import JOB_SCRIPT, log_demo, start_jobs

    from studio.core.status import RunStatus
    from studio.workspaces.local.compute import control
    from studio.workspaces.local.compute import instances_store as store
    from studio.workspaces.local.workspace import LocalWorkspace

    with tempfile.TemporaryDirectory(prefix="studio-shots-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp, "data"))  # the "Default" workspace: not the user's
        root, empty, source, ini = (Path(tmp, n) for n in ("vision-nlp-team", "new-project", "src", "studio.ini"))
        source.mkdir()
        (source / "finetune.py").write_text(JOB_SCRIPT)
        running, ids = log_demo(root)
        try:
            window = new_window("light", ini)
            other = Path(tmp, "projects", "kaggle-plankton")
            LocalWorkspace(other, create=True).close()
            window.settings.add_recent("mlflow+http://tracking.lab:5000")
            window.settings.add_recent(str(other))
            window.open_workspace(str(root))
            wait("the workspace", lambda: window.backend)
            window.run_sample_experiment()
            sample = wait("the sample run's tab", lambda: window.run_detail.open_run_ids())[0]
            tab = overview(window.run_detail.tabs.widget(0))
            wait("the sample run", lambda: tab.run and tab.run.status == RunStatus.COMPLETED, 120)
            start_jobs(root, source)
            wait("the local job", lambda: window.backend.get_compute("local").running_jobs, 60)
            wait("gpu-box-1", lambda: window.backend.get_compute("gpu-box-1").state == "Running", 60)
            window.refresh()
            stage(window, ids, [ids["bert-large-sst2"], sample])
            shoot(window, "main-light")
            shoot(window.compute_pane, "compute", None)
            window.compute_pane.hide()  # room for the run views (shown again before the window saves its state)
            show_metrics(window, sample)
            shoot(window, "run-metrics")
            show_output(window, sample, "outputs/history.csv")
            shoot(window, "run-outputs")
            show_compare(window, ids)
            shoot(window, "compare")
            show_runs_table(window)
            shoot(window, "runs-table")
            window.compute_pane.show()
            close(window)
            window = new_window("dark", ini)
            window.open_workspace(str(root))
            stage(window, ids, [sample, ids["bert-large-sst2"]])
            shoot(window, "main-dark")
            window.compute_pane.hide()
            show_metrics(window, sample)
            shoot(window, "run-metrics-dark")
            window.compute_pane.show()
            close(window)
            window = new_window("light", ini)
            window.open_workspace(str(empty), create=True)
            wait("the empty state", lambda: window.location and window.experiment_pane.stack.currentIndex() == 1)
            settle(window)
            shoot(window, "empty-workspace")
            close(window)
        finally:
            for run in running:
                run.complete()
            with LocalWorkspace(root) as lws:
                for info in store.list_instances(lws.connection()):
                    control.stop(lws, info.name, wait=True)


if __name__ == "__main__":
    main()
