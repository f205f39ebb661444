"""The Images, Tables and Child runs tabs of a run page, on a FakeBackend.

These tabs need nothing of the local kind's storage: they read metric records, child runs and
image bytes (through ``read_file_range``) from the protocol, so each test populates an in-memory
FakeBackend. The backend is wrapped in GuardedBackend: a call on the GUI thread fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QBuffer, QIODevice, QModelIndex, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QPushButton
from pytestqt.qtbot import QtBot

from studio.core.status import RunStatus
from studio.core.types import MetricKind
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs.tabs.base import RunTab
from studio.ui.runs.tabs.children_tab import ChildRunsTab
from studio.ui.runs.tabs.images_tab import IMAGE_ROLE, THUMB_READY_ROLE, ImagesTab
from studio.ui.runs.tabs.tables_tab import SORT_ROLE, TablesTab, table_to_csv
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until


def png(colour: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """A PNG of one colour."""
    image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")
    return bytes(buffer.data().data())


class Env:
    """A fake workspace with one running run, the guarded backend and a task runner."""

    def __init__(self) -> None:
        self.fake = FakeBackend()
        self.run_id = self.fake.add_run("e", "parent")
        self.backend = GuardedBackend(self.fake)
        self.runner = TaskRunner(max_threads=2)
        self.tabs: list[Any] = []
        self._images = 0

    def log_image(self, name: str, colour: str, size: tuple[int, int] = (64, 48)) -> None:
        """What Run.log_image does: the image becomes a run file and an image record names it."""
        self._images += 1
        path = f"images/{name}-{self._images}.png"
        self.fake.add_file(self.run_id, path, png(colour, size))
        self.fake.log_records(self.run_id, name, MetricKind.IMAGE, [path])

    def log_row(self, name: str, **row: Any) -> None:
        """What Run.log_row does."""
        self.fake.log_records(self.run_id, name, MetricKind.ROW, [row])

    def log_table(self, name: str, table: dict[str, list[Any]]) -> None:
        """What Run.log_table does."""
        self.fake.log_records(self.run_id, name, MetricKind.TABLE, [table])

    def tab(self, qtbot: QtBot, cls: type[RunTab]) -> Any:
        tab = cls(self.backend, self.runner, self.run_id)  # type: ignore[arg-type]
        qtbot.addWidget(tab)
        tab.resize(900, 600)
        tab.show()
        tab.ensure_loaded()
        self.tabs.append(tab)
        return tab

    def changed(self, tab: Any) -> None:
        """What the run page does on live refresh (the test reads the run itself, off the guard)."""
        tab.run_changed(self.fake.get_run(self.run_id))


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    yield e
    for tab in e.tabs:
        if getattr(tab, "viewer", None) is not None:
            tab.viewer.close()
    assert e.runner.shutdown()
    assert e.backend.violations == []


def _double_click(qtbot: QtBot, view: QAbstractItemView, index: QModelIndex) -> None:
    """A real double-click: press/release, then the double-click event (as a window system sends them)."""
    centre = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def _thumbs_ready(tab: ImagesTab, count: int) -> bool:
    model = tab.model
    return model.rowCount() == count and all(model.item(r).data(THUMB_READY_ROLE) for r in range(count))


def test_gallery_shows_every_image_with_a_thumbnail_and_opens_a_zoomable_viewer(qtbot: QtBot, env: Env) -> None:
    env.log_image("confusion", "#ff0000")
    env.log_image("confusion", "#00ff00")
    env.log_image("samples", "#0000ff", (320, 200))
    tab = env.tab(qtbot, ImagesTab)
    wait_until(lambda: _thumbs_ready(tab, 3), "3 thumbnails shown", qtbot=qtbot)
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
    wait_until(lambda: not viewer.item.pixmap().isNull(), "the viewer's image decoded", qtbot=qtbot)
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

    env.log_image("samples", "#ffff00")
    env.changed(tab)
    wait_until(lambda: _thumbs_ready(tab, 4), "the 4th thumbnail after the refresh", qtbot=qtbot)
    assert model.item(3).data(IMAGE_ROLE).label == "samples (1)"


def test_looks_asked_while_one_is_in_flight_add_each_image_once(qtbot: QtBot, env: Env) -> None:
    env.log_image("confusion", "#ff0000")
    tab = env.tab(qtbot, ImagesTab)  # its first look is in flight
    env.log_image("confusion", "#00ff00")
    env.changed(tab)  # asked meanwhile: it looks again afterwards, from what it had then
    env.changed(tab)
    wait_until(
        lambda: _thumbs_ready(tab, 2) and not tab._listing.busy, "2 thumbnails and the listing done", qtbot=qtbot
    )
    env.log_image("samples", "#0000ff")
    env.changed(tab)
    wait_until(
        lambda: _thumbs_ready(tab, 3) and not tab._listing.busy, "3 thumbnails and the listing done", qtbot=qtbot
    )
    labels = [tab.model.item(r).text() for r in range(tab.model.rowCount())]
    assert labels == ["confusion (0)", "confusion (1)", "samples (0)"]


def test_the_viewer_shows_the_image_opened_last(qtbot: QtBot, env: Env) -> None:
    env.log_image("big", "#ff0000", (1600, 1200))
    env.log_image("small", "#0000ff", (32, 24))
    tab = env.tab(qtbot, ImagesTab)
    wait_until(lambda: _thumbs_ready(tab, 2), "2 thumbnails shown", qtbot=qtbot)
    tab.open_image(tab.model.index(0, 0))
    viewer = tab.open_image(tab.model.index(1, 0))  # before the first one is decoded
    wait_until(
        lambda: not viewer.item.pixmap().isNull() and not tab._reading.busy,
        "the last image opened is shown, no read in flight",
        qtbot=qtbot,
    )
    assert viewer.item.pixmap().size().toTuple() == (32, 24)
    assert "small (0)" in viewer.title.text()


def test_images_empty_state(qtbot: QtBot, env: Env) -> None:
    env.fake.log_series(env.run_id, "loss", [1.0])
    tab = env.tab(qtbot, ImagesTab)
    wait_until(lambda: "no images" in tab.placeholder.text(), "the 'no images' placeholder", qtbot=qtbot)
    assert tab.stack.currentWidget() is tab.placeholder
    env.log_image("late", "#ff0000")
    env.changed(tab)
    wait_until(lambda: _thumbs_ready(tab, 1), "the late image's thumbnail", qtbot=qtbot)
    assert tab.stack.currentWidget() is tab.gallery


def _cells(model: Any) -> list[list[str]]:
    return [[model.index(r, c).data() for c in range(model.columnCount())] for r in range(model.rowCount())]


def test_tables_show_rows_with_blanks_sort_numerically_and_copy_exact_csv(qtbot: QtBot, env: Env) -> None:
    env.log_row("results", epoch=10, acc=0.5)
    env.log_row("results", epoch=2, note='says "hi", twice')
    env.log_row("results", epoch=1, acc=0.75)
    env.log_table("by_class", {"label": ["cat", "dog"], "count": [3, 12]})
    env.log_table("by_class", {"label": ["eel"], "count": [7], "extra": [True]})
    tab = env.tab(qtbot, TablesTab)
    wait_until(lambda: tab.selector.count() == 2 and tab.current_model() is not None, "both tables listed", qtbot=qtbot)
    assert [tab.selector.itemText(i) for i in range(2)] == ["by_class", "results"]
    tab.selector.setCurrentText("results")
    model = tab.models["results"]
    wait_until(lambda: model.rowCount() == 3, "3 rows", qtbot=qtbot)
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

    env.log_row("results", epoch=3, acc=0.6, lr=0.01)
    env.changed(tab)
    wait_until(lambda: model.rowCount() == 4, "4 rows after the refresh", qtbot=qtbot)
    assert model.columns == ["epoch", "acc", "note", "lr"]
    assert [row[1] for row in _cells(model)] == ["0.75", "0.6", "0.5", ""]  # the sort is kept

    tab.selector.setCurrentText("by_class")
    table = tab.models["by_class"]
    assert table.columns == ["label", "count", "extra"]
    assert _cells(table) == [["cat", "3", ""], ["dog", "12", ""], ["eel", "7", "True"]]
    tab.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert [row[1] for row in _cells(table)] == ["3", "7", "12"]


def test_tables_empty_state_then_a_table_arrives(qtbot: QtBot, env: Env) -> None:
    tab = env.tab(qtbot, TablesTab)
    wait_until(lambda: "no tables" in tab.placeholder.text(), "the 'no tables' placeholder", qtbot=qtbot)
    assert tab.stack.currentWidget() is tab.placeholder and not tab.copy_button.isEnabled()
    env.log_row("late", x=1)
    env.changed(tab)
    wait_until(
        lambda: tab.current_model() is not None and tab.current_model().rowCount() == 1,
        "the late table's row",
        qtbot=qtbot,
    )
    assert tab.stack.currentWidget() is tab.view and tab.copy_button.isEnabled()


def test_children_table_lists_children_with_last_metric_values(qtbot: QtBot, env: Env) -> None:
    fake = env.fake
    first = fake.add_run("e", "first", parent_id=env.run_id)
    fake.log_series(first, "loss", [0.9, 0.4])
    fake.log_records(first, "phase", MetricKind.STRING, ["warmup"])
    fake.set_status(first, RunStatus.COMPLETED)
    second = fake.add_run("e", "second", parent_id=env.run_id)
    fake.log_series(second, "loss", [0.25])
    fake.log_series(second, "acc", [2])
    tab = env.tab(qtbot, ChildRunsTab)
    model = tab.model
    wait_until(lambda: model.rowCount() == 2, "2 rows", qtbot=qtbot)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Status", "Display name", "ID", "Started", "Duration", "acc", "loss", "phase"]
    assert _cells(model)[0][:3] == ["Completed", "first", first]
    assert _cells(model)[0][5:] == ["", "0.4", "warmup"]
    assert _cells(model)[1][:3] == ["Running", "second", second]
    assert _cells(model)[1][5:] == ["2", "0.25", ""]
    assert not model.index(0, 0).data(Qt.ItemDataRole.DecorationRole).isNull()
    tab.view.sortByColumn(6, Qt.SortOrder.AscendingOrder)
    assert tab.child_ids() == [second, first]

    with qtbot.waitSignal(tab.sig_open_run, timeout=5_000) as blocker:
        _double_click(qtbot, tab.view, model.index(1, 1))
    assert blocker.args == [first]

    third = fake.add_run("e", "third", parent_id=env.run_id)
    fake.log_series(third, "loss", [0.1])
    env.changed(tab)
    wait_until(lambda: model.rowCount() == 3, "3 rows", qtbot=qtbot)
    assert tab.child_ids()[0] == third  # still sorted by loss
    assert tab.summary.text() == "3 child runs, 2 active"


def test_children_empty_state(qtbot: QtBot, env: Env) -> None:
    tab = env.tab(qtbot, ChildRunsTab)
    wait_until(
        lambda: tab.placeholder.text() == "This run has no child runs", "the 'no child runs' placeholder", qtbot=qtbot
    )
    assert tab.stack.currentWidget() is tab.placeholder
