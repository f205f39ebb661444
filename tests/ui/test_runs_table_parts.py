"""The runs table's parts: cell formatting, saved state that does not parse, and the table on a real local workspace."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.core.search import Key
from studio.core.status import RunStatus
from studio.core.types import RunInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs_table.chart_feed import split
from studio.ui.runs_table.columns import format_number, label, number, order_item, pack, parse_key, text
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.runs_table.table_state import TableMemory, TableState
from studio.ui.shell.settings import WindowSettings
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until
from tests.workspace_content import build_local


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.9123456789, "0.912346"),
        (1.23456e-05, "1.23456e-05"),
        (12345.0, "12,345"),
        (-3.0, "-3"),
        (0.0, "0"),
        (2.5e20, "2.5e+20"),
        (math.nan, "NaN"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
    ],
)
def test_numbers_are_shown_with_six_significant_digits(value: float, shown: str) -> None:
    assert format_number(value) == shown


def test_cells_show_last_values_and_nothing_for_missing_ones() -> None:
    run = pack(
        RunInfo(
            id="r1",
            experiment="e",
            number=1,
            display_name="",
            status=RunStatus.COMPLETED,
            created_at=100.0,
            started_at=110.0,
            ended_at=185.0,
            metrics={"acc": 0.5, "bad": math.nan},
            params={"lr": "0.01"},
            tags={"model": "cnn"},
        )
    )
    assert text(run, Key("attributes", "run_name")) == "r1"  # no display name: the id
    assert text(run, Key("attributes", "duration")) == "1:15"
    assert text(run, Key("metrics", "acc")) == "0.5"
    assert text(run, Key("metrics", "bad")) == "NaN"
    assert text(run, Key("metrics", "missing")) == ""
    assert text(run, Key("params", "lr")) == "0.01" and text(run, Key("tags", "model")) == "cnn"
    assert text(run, Key("properties", "x")) == ""
    assert number(run, Key("attributes", "duration")) == 75.0
    assert number(run, Key("attributes", "start_time")) == 110.0
    assert math.isnan(number(run, Key("metrics", "missing")))


def test_column_keys_labels_and_orders() -> None:
    assert parse_key("metrics.`val loss`") == Key("metrics", "val loss")
    assert parse_key("attributes.run_id") is None  # not a column the table has
    assert parse_key("metrics.acc >") is None
    assert label(Key("metrics", "acc")) == "acc" and label(Key("params", "lr")) == "param: lr"
    assert label(Key("attributes", "start_time")) == "Started"
    assert order_item(Key("metrics", "val loss"), True) == "metrics.`val loss` DESC"
    assert order_item(Key("attributes", "run_name"), False) == "attributes.run_name ASC"


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not json",
        "[1, 2]",
        '{"columns": "metrics.acc"}',
        '{"columns": [3, null], "order_by": ["metrics.acc SIDEWAYS"]}',
    ],
)
def test_saved_state_that_does_not_parse_gives_the_defaults(stored: str) -> None:
    assert TableState.from_json(stored) == TableState()


def test_saved_state_keeps_what_parses(tmp_path: Path) -> None:
    state = TableState.from_json(
        '{"columns": ["metrics.acc", "bogus", "metrics.acc", "params.`learning rate`"],'
        ' "order_by": ["metrics.acc DESC", "what even"]}'
    )
    assert state == TableState(("metrics.acc", "params.`learning rate`"), ("metrics.acc DESC",))
    memory = TableMemory(WindowSettings(str(tmp_path / "s.ini")), "/some/workspace")
    memory.save("exp", state)
    assert memory.load("exp") == state
    assert memory.load("other") == TableState()
    assert TableMemory(memory.settings, "/another/workspace").load("exp") == TableState()


@pytest.fixture
def local_table(qtbot: QtBot, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A runs table on a real local workspace (guarded: no backend call on the GUI thread)."""
    inner, _ids, sdk_workspace = build_local(tmp_path / "ws")
    backend = GuardedBackend(inner)
    runner = TaskRunner()
    memory = TableMemory(WindowSettings(str(tmp_path / "settings.ini")), str(tmp_path / "ws"))
    memory.save("mnist", TableState())  # arranged before: no columns suggested
    tab = RunsTableTab(backend, runner, "mnist", memory)  # type: ignore[arg-type]
    qtbot.addWidget(tab)
    tab.resize(900, 500)
    tab.show()
    yield {"tab": tab, "backend": backend, "memory": memory}
    runner.shutdown()
    inner.close()
    sdk_workspace.close()
    assert backend.violations == []


def test_a_local_workspace_fills_metric_columns(local_table: dict[str, Any], qtbot: QtBot) -> None:
    tab = local_table["tab"]
    model = tab.model
    wait_until(lambda: model.rowCount() == 6, "mnist's runs", qtbot=qtbot)
    wait_until(lambda: tab.count_label.text() == "6 runs", qtbot=qtbot)
    qtbot.mouseClick(tab.columns_button, Qt.MouseButton.LeftButton)
    item = wait_until(lambda: tab.chooser.item_for(Key("metrics", "loss")), "local names", qtbot=qtbot)
    item.setCheckState(Qt.CheckState.Checked)
    tab.chooser.hide()
    names = [model.index(r, 0).data() for r in range(model.rowCount())]
    losses = dict(zip(names, (model.index(r, 4).data() for r in range(model.rowCount())), strict=True))
    assert losses["trial-4"] == "0.1" and losses["diverged"] == "inf" and losses["stopped"] == ""
    status = model.index(names.index("diverged"), 1)
    assert status.data() == "Failed" and status.data(Qt.ItemDataRole.DecorationRole) is not None
    assert local_table["memory"].load("mnist").columns == ("metrics.loss",)


@pytest.mark.parametrize(
    ("total", "heights"),
    [(0, (2, 3)), (1000, (400, 600)), (500, (200, 300)), (430, (172, 258)), (380, (0, 380)), (200, (0, 200))],
)
def test_the_chart_takes_what_the_table_can_spare(total: int, heights: tuple[int, int]) -> None:
    assert split(total) == heights
