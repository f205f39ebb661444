"""The Images, Tables and Child runs tabs of a run page, on a real local workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QPushButton

from studio.sdk import Experiment, Workspace
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs.tabs.children_tab import ChildRunsTab
from studio.ui.runs.tabs.images_tab import IMAGE_ROLE, THUMB_READY_ROLE, ImagesTab
from studio.ui.runs.tabs.tables_tab import SORT_ROLE, TablesTab, table_to_csv
from studio.workspaces.local.backend import LocalBackend
from tests.ui_helpers import GuardedBackend, wait_for


class Env:
    """A workspace, one running run, a guarded backend and a task runner."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.ws = Workspace(tmp_path / "ws")
        self.run = Experiment(self.ws, "e").start_logging(display_name="parent")
        self.raw = LocalBackend(tmp_path / "ws")
        self.backend = GuardedBackend(self.raw)
        self.runner = TaskRunner(max_threads=2)
        self.tabs: list[Any] = []

    def png(self, name: str, colour: str, size: tuple[int, int] = (64, 48)) -> Path:
        image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
        image.fill(QColor(colour))
        path = self.tmp / f"{name}.png"
        assert image.save(str(path))
        return path

    def tab(self, qtbot: Any, cls: type[Any]) -> Any:
        self.run.flush()
        tab = cls(self.backend, self.runner, self.run.id)
        qtbot.addWidget(tab)
        tab.resize(900, 600)
        tab.show()
        tab.ensure_loaded()
        self.tabs.append(tab)
        return tab

    def changed(self, tab: Any) -> None:
        """What the run page does on live refresh (the test reads the run itself, off the guard)."""
        self.run.flush()
        tab.run_changed(self.raw.get_run(self.run.id))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    for tab in e.tabs:
        if getattr(tab, "viewer", None) is not None:
            tab.viewer.close()
    assert e.runner.shutdown()
    assert e.backend.violations == []
    e.raw.close()
    e.ws.backend.workspace.close()


def _double_click(qtbot: Any, view: Any, index: Any) -> None:
    """A real double-click: press/release, then the double-click event (as a window system sends them)."""
    centre = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def _thumbs_ready(tab: ImagesTab, count: int) -> bool:
    model = tab.model
    return model.rowCount() == count and all(model.item(r).data(THUMB_READY_ROLE) for r in range(count))


def test_gallery_shows_every_image_with_a_thumbnail_and_opens_a_zoomable_viewer(qtbot: Any, env: Env) -> None:
    env.run.log_image("confusion", path=env.png("red", "#ff0000"))
    env.run.log_image("confusion", path=env.png("green", "#00ff00"))
    env.run.log_image("samples", path=env.png("blue", "#0000ff", (320, 200)))
    tab = env.tab(qtbot, ImagesTab)
    wait_for(qtbot, lambda: _thumbs_ready(tab, 3))
    model = tab.model
    labels = [model.item(r).text() for r in range(3)]
    assert labels == ["confusion (0)", "confusion (1)", "samples (0)"]
    for row, colour in enumerate(("#ff0000", "#00ff00", "#0000ff")):
        icon = model.item(row).icon()
        assert not icon.isNull()
        pixmap = icon.pixmap(64, 64)
        assert pixmap.toImage().pixelColor(pixmap.width() // 2, pixmap.height() // 2) == QColor(colour)
    assert tab.stack.currentWidget() is tab.gallery

    _double_click(qtbot, tab.gallery, model.index(2, 0))
    viewer = tab.viewer
    assert viewer is not None and viewer.isVisible()
    wait_for(qtbot, lambda: not viewer.item.pixmap().isNull())
    assert viewer.item.pixmap().size().toTuple() == (320, 200)  # full size, not the thumbnail
    assert "samples (0)" in viewer.title.text()
    assert viewer.zoom() == pytest.approx(1.0)
    viewer.findChild(QPushButton, "zoomIn").click()
    assert viewer.zoom() == pytest.approx(1.25)
    viewer.findChild(QPushButton, "zoomOut").click()
    viewer.findChild(QPushButton, "zoomOut").click()
    assert viewer.zoom() == pytest.approx(0.8)
    wheel = QWheelEvent(
        QPoint(10, 10).toPointF(), viewer.view.viewport().mapToGlobal(QPoint(10, 10)).toPointF(), QPoint(0, 0),
        QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(viewer.view.viewport(), wheel)
    assert viewer.zoom() == pytest.approx(1.0)
    viewer.findChild(QPushButton, "zoomFit").click()
    assert viewer.zoom() > 1.0  # 320x200 fits a 900x700 window larger than 100%

    env.run.log_image("samples", path=env.png("yellow", "#ffff00"))
    env.changed(tab)
    wait_for(qtbot, lambda: _thumbs_ready(tab, 4))
    assert model.item(3).data(IMAGE_ROLE).label == "samples (1)"


def test_looks_asked_while_one_is_in_flight_add_each_image_once(qtbot: Any, env: Env) -> None:
    env.run.log_image("confusion", path=env.png("red", "#ff0000"))
    tab = env.tab(qtbot, ImagesTab)  # its first look is in flight
    env.run.log_image("confusion", path=env.png("green", "#00ff00"))
    env.changed(tab)  # asked meanwhile: it looks again afterwards, from what it had then
    env.changed(tab)
    wait_for(qtbot, lambda: _thumbs_ready(tab, 2) and not tab._listing.busy)
    env.run.log_image("samples", path=env.png("blue", "#0000ff"))
    env.changed(tab)
    wait_for(qtbot, lambda: _thumbs_ready(tab, 3) and not tab._listing.busy)
    labels = [tab.model.item(r).text() for r in range(tab.model.rowCount())]
    assert labels == ["confusion (0)", "confusion (1)", "samples (0)"]


def test_the_viewer_shows_the_image_opened_last(qtbot: Any, env: Env) -> None:
    env.run.log_image("big", path=env.png("red", "#ff0000", (1600, 1200)))
    env.run.log_image("small", path=env.png("blue", "#0000ff", (32, 24)))
    tab = env.tab(qtbot, ImagesTab)
    wait_for(qtbot, lambda: _thumbs_ready(tab, 2))
    tab.open_image(tab.model.index(0, 0))
    viewer = tab.open_image(tab.model.index(1, 0))  # before the first one is decoded
    wait_for(qtbot, lambda: not viewer.item.pixmap().isNull() and not tab._reading.busy)
    assert viewer.item.pixmap().size().toTuple() == (32, 24)
    assert "small (0)" in viewer.title.text()


def test_images_empty_state(qtbot: Any, env: Env) -> None:
    env.run.log("loss", 1.0)
    tab = env.tab(qtbot, ImagesTab)
    wait_for(qtbot, lambda: "no images" in tab.placeholder.text())
    assert tab.stack.currentWidget() is tab.placeholder
    env.run.log_image("late", path=env.png("red", "#ff0000"))
    env.changed(tab)
    wait_for(qtbot, lambda: _thumbs_ready(tab, 1))
    assert tab.stack.currentWidget() is tab.gallery


def _cells(model: Any) -> list[list[str]]:
    return [[model.index(r, c).data() for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_tables_show_rows_with_blanks_sort_numerically_and_copy_exact_csv(qtbot: Any, env: Env) -> None:
    env.run.log_row("results", epoch=10, acc=0.5)
    env.run.log_row("results", epoch=2, note='says "hi", twice')
    env.run.log_row("results", epoch=1, acc=0.75)
    env.run.log_table("by_class", {"label": ["cat", "dog"], "count": [3, 12]})
    env.run.log_table("by_class", {"label": ["eel"], "count": [7], "extra": [True]})
    tab = env.tab(qtbot, TablesTab)
    wait_for(qtbot, lambda: tab.selector.count() == 2 and tab.current_model() is not None)
    assert [tab.selector.itemText(i) for i in range(2)] == ["by_class", "results"]
    tab.selector.setCurrentText("results")
    model = tab.models["results"]
    wait_for(qtbot, lambda: model.rowCount() == 3)
    assert tab.view.model() is model
    assert model.columns == ["epoch", "acc", "note"]
    assert _cells(model) == [["10", "0.5", ""], ["2", "", 'says "hi", twice'], ["1", "0.75", ""]]
    assert model.index(0, 0).data(SORT_ROLE) == 10.0

    tab.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert [row[0] for row in _cells(model)] == ["1", "2", "10"]  # 2 < 10
    tab.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert [row[1] for row in _cells(model)] == ["0.75", "0.5", ""]  # blanks last

    text = tab.copy_csv()
    expected = 'epoch,acc,note\n1,0.75,\n10,0.5,\n2,,"says ""hi"", twice"\n'
    assert text == expected
    assert QApplication.clipboard().text() == expected
    assert table_to_csv(["a", "b"], [{"a": "x,y", "b": None}, {"b": 'q"'}]) == 'a,b\n"x,y",\n,"q"""\n'

    env.run.log_row("results", epoch=3, acc=0.6, lr=0.01)
    env.changed(tab)
    wait_for(qtbot, lambda: model.rowCount() == 4)
    assert model.columns == ["epoch", "acc", "note", "lr"]
    assert [row[1] for row in _cells(model)] == ["0.75", "0.6", "0.5", ""]  # the sort is kept

    tab.selector.setCurrentText("by_class")
    table = tab.models["by_class"]
    assert table.columns == ["label", "count", "extra"]
    assert _cells(table) == [["cat", "3", ""], ["dog", "12", ""], ["eel", "7", "True"]]
    tab.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert [row[1] for row in _cells(table)] == ["3", "7", "12"]


def test_tables_empty_state_then_a_table_arrives(qtbot: Any, env: Env) -> None:
    tab = env.tab(qtbot, TablesTab)
    wait_for(qtbot, lambda: "no tables" in tab.placeholder.text())
    assert tab.stack.currentWidget() is tab.placeholder and not tab.copy_button.isEnabled()
    env.run.log_row("late", x=1)
    env.changed(tab)
    wait_for(qtbot, lambda: tab.current_model() is not None and tab.current_model().rowCount() == 1)
    assert tab.stack.currentWidget() is tab.view and tab.copy_button.isEnabled()


def test_children_table_lists_children_with_last_metric_values(qtbot: Any, env: Env) -> None:
    first = env.run.child_run("first")
    first.log("loss", 0.9)
    first.log("loss", 0.4)
    first.log("phase", "warmup")
    first.complete()
    second = env.run.child_run("second")
    second.log("loss", 0.25)
    second.log("acc", 2)
    second.flush()
    tab = env.tab(qtbot, ChildRunsTab)
    model = tab.model
    wait_for(qtbot, lambda: model.rowCount() == 2)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Status", "Display name", "ID", "Started", "Duration", "acc", "loss", "phase"]
    assert _cells(model)[0][:3] == ["Completed", "first", first.id]
    assert _cells(model)[0][5:] == ["", "0.4", "warmup"]
    assert _cells(model)[1][:3] == ["Running", "second", second.id]
    assert _cells(model)[1][5:] == ["2", "0.25", ""]
    assert not model.index(0, 0).data(Qt.ItemDataRole.DecorationRole).isNull()
    tab.view.sortByColumn(6, Qt.SortOrder.AscendingOrder)
    assert tab.child_ids() == [second.id, first.id]

    with qtbot.waitSignal(tab.sig_open_run, timeout=5_000) as blocker:
        _double_click(qtbot, tab.view, model.index(1, 1))
    assert blocker.args == [first.id]

    third = env.run.child_run("third")
    third.log("loss", 0.1)
    env.changed(tab)
    wait_for(qtbot, lambda: model.rowCount() == 3)
    assert tab.child_ids()[0] == third.id  # still sorted by loss
    assert tab.summary.text() == "3 child runs, 2 active"


def test_children_empty_state(qtbot: Any, env: Env) -> None:
    tab = env.tab(qtbot, ChildRunsTab)
    wait_for(qtbot, lambda: tab.placeholder.text() == "This run has no child runs")
    assert tab.stack.currentWidget() is tab.placeholder
