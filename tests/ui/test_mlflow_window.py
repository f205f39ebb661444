"""An MLflow server opened in the real window, end to end against a real ``mlflow server``.

The shared session server (tests/mlflow_fixtures.py) holds a run "parent" with a 100,000-point metric, params,
a note, two children, a PNG under plots/, a 300 KB log and tables; experiment "paging" holds 250 runs. The
window opens it by location through the real opener (wrapped so that any backend call on the GUI thread fails
the test) and a user's steps are checked: the tree with children, the runs table with a filter the server
answers, the metric chart with every point, the image, a preview of the large log read by ranges, a download.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from studio.ui.charts.metric_chart import MetricChart
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.workspaces import kinds
from tests.mlflow_fixtures import MlflowFixture
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until
from tests.workspaces.mlflow.content import BIG_POINTS, PAGING_RUNS


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, mlflow_server: MlflowFixture) -> Iterator[dict[str, Any]]:
    """The real window, shown, with the server open."""
    opener = GuardedOpener(next(o for o in kinds() if o.kind == "mlflow"))
    window = MainWindow([opener], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=30_000):
        window.open_workspace("mlflow+" + mlflow_server.url)
    yield {"window": window, "ids": mlflow_server.filled.run_ids, "filled": mlflow_server.filled}
    window.close()
    assert opener.violations == []


def page_of(window: MainWindow, qtbot: QtBot, run_id: str) -> Any:
    page = window.run_detail.open_run(run_id)
    assert page is not None
    return page


def test_the_tree_shows_experiments_runs_and_children(window: dict[str, Any], qtbot: QtBot) -> None:
    w, ids = window["window"], window["ids"]
    model = w.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("paging").isValid(), "the experiments", qtbot=qtbot)
    assert w.workspace_pane.entry_item(w.location) is not None  # remembered like any workspace
    assert not w.compute_pane.isVisible()  # MLflow has no compute
    w.experiment_pane.view.expand(model.index_of_experiment("main"))
    wait_until(lambda: model.index_of_run(ids["parent"]).isValid(), "the parent run", qtbot=qtbot)
    w.experiment_pane.view.expand(model.index_of_run(ids["parent"]))
    wait_until(lambda: model.index_of_run(ids["child-a"]).isValid(), "its children", qtbot=qtbot)
    assert model.index_of_run(ids["child-b"]).isValid()


def test_the_runs_table_pages_and_filters_on_the_server(window: dict[str, Any], qtbot: QtBot) -> None:
    w = window["window"]
    w.open_runs_table("paging")
    tab = w.run_detail.tabs.currentWidget()
    assert isinstance(tab, RunsTableTab)
    wait_until(lambda: tab.model.rowCount() > 0, "the first page", qtbot=qtbot)
    wait_until(lambda: tab.count_label.text().startswith(f"{PAGING_RUNS}"), "the count", qtbot=qtbot)
    tab.filter_box.setText("metrics.score >= 240 AND tags.parity = 'even'")
    tab.filter_box.returnPressed.emit()
    wait_until(lambda: tab.model.rowCount() == 5, "the filtered rows", qtbot=qtbot)
    names = [tab.model.data(tab.model.index(r, 0)) for r in range(tab.model.rowCount())]
    assert names == ["p248", "p246", "p244", "p242", "p240"]  # newest first


def test_a_metric_chart_holds_every_point(window: dict[str, Any], qtbot: QtBot) -> None:
    w, filled = window["window"], window["filled"]
    page = page_of(w, qtbot, window["ids"]["parent"])
    page.show_tab("Metrics")
    wait_until(lambda: page.findChild(MetricChart, "metricPlot:big") is not None, "the chart of 'big'", qtbot=qtbot)
    chart = page.findChild(MetricChart, "metricPlot:big")
    wait_until(lambda: "big" in chart and len(chart.series("big").values) == BIG_POINTS, "every point", qtbot=qtbot)
    _, values, _ = filled.big_values()
    np.testing.assert_allclose(chart.series("big").values, values)


def test_the_image_shows_in_the_images_tab(window: dict[str, Any], qtbot: QtBot) -> None:
    page = page_of(window["window"], qtbot, window["ids"]["parent"])
    page.show_tab("Images")
    images = page.tab("Images")
    wait_until(lambda: images.model.rowCount() == 1, "the image", qtbot=qtbot)
    assert "plots/curve" in images.model.item(0).text()


def test_a_large_log_previews_by_ranges_and_downloads_whole(
    window: dict[str, Any], qtbot: QtBot, tmp_path: Path
) -> None:
    filled = window["filled"]
    page = page_of(window["window"], qtbot, window["ids"]["parent"])
    page.show_tab("Outputs + logs")
    files = page.tab("Outputs + logs")
    wait_until(lambda: files.model.files, "the run's files", qtbot=qtbot)
    files.select("logs/train.log")
    wait_until(lambda: files.preview.preview is not None and files.preview.preview.loaded, "the preview", qtbot=qtbot)
    preview = files.preview.preview
    assert preview.editor.toPlainText().startswith("line 000000 of the training log\n")
    with qtbot.waitSignal(preview.sig_loaded, timeout=20_000):
        preview.scroll_to_end()
    assert preview.editor.toPlainText().endswith(filled.log_text.decode().rstrip("\n")[-40:])
    out = tmp_path / "out"
    files.download_to(["logs/train.log", "plots/curve.png"], out)
    # Each file is renamed into place only when complete (downloads never leave a file that looks whole).
    done = [out / "logs" / "train.log", out / "plots" / "curve.png"]
    wait_until(lambda: all(p.exists() for p in done), "the download", qtbot=qtbot, timeout=30)
    assert done[0].read_bytes() == filled.log_text and done[1].read_bytes() == filled.png
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["curve.png", "train.log"]
