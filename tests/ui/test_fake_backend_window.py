"""The real main window on a FakeBackend: the GUI needs nothing beyond the protocols.

The fake kind has no folder, no database and no compute; the window still lists its
experiments and runs, opens a run with its metrics and files, and hides the Compute pane.
Every backend call is made off the GUI thread (GuardedOpener fails the test otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from studio.core.errors import WorkspaceError
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from tests.fake_backend import FakeBackend, FakeComputeBackend
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until
from tests.workspace_content import CONTENT, LONG_SERIES_POINTS, build_fake

LOCATION = "fake://demo"


class FakeOpener:
    """The opener of the "fake" kind: ``fake://<name>`` locations, served from a dict of FakeBackends."""

    kind = "fake"
    label = "Fake workspaces"
    location_form = "fake://<name>"

    def __init__(self, backends: dict[str, FakeBackend]) -> None:
        self.backends = backends

    def owns(self, location: str) -> bool:
        """Locations that start with ``fake://``."""
        return location.startswith("fake://")

    def default_location(self) -> str | None:
        """The fake kind has no default workspace."""
        return None

    def display_name(self, location: str) -> str:
        """The name after the scheme."""
        return location.removeprefix("fake://")

    def is_workspace(self, location: str) -> bool:
        """True for the locations it serves."""
        return location in self.backends

    def is_missing(self, location: str) -> bool:
        """True for locations it does not serve."""
        return location not in self.backends

    def open(self, location: str, create: bool = False) -> FakeBackend:
        """The FakeBackend served at ``location``."""
        if location not in self.backends:
            raise WorkspaceError(f"There is no fake workspace at {location}.")
        return self.backends[location]


@pytest.fixture
def fake_studio(qtbot: QtBot, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A shown window with the populated fake workspace open."""
    backend, ids = build_fake()
    opener = GuardedOpener(FakeOpener({LOCATION: backend}))
    window = MainWindow([opener], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(LOCATION)
    yield {"window": window, "ids": ids, "opener": opener, "backend": backend}
    window.close()
    assert opener.violations == []


def row_names(window: MainWindow, parent: QModelIndex) -> list[str]:
    model = window.experiment_pane.model
    return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]


def test_experiments_and_runs_appear_in_the_tree(fake_studio: dict[str, Any], qtbot: QtBot) -> None:
    window = fake_studio["window"]
    model, view = window.experiment_pane.model, window.experiment_pane.view
    wait_until(
        lambda: all(model.index_of_experiment(e).isValid() for e in CONTENT.experiments),
        "every experiment in the tree",
        qtbot=qtbot,
    )
    assert window.windowTitle() == "Studio — demo"
    mnist = model.index_of_experiment("mnist")
    view.expand(mnist)
    expected = [r.name for r in reversed(CONTENT.top_level("mnist"))]
    wait_until(lambda: row_names(window, mnist) == expected, "mnist's runs, newest first", qtbot=qtbot)
    assert model.index(row_names(window, mnist).index("diverged"), 1, mnist).data() == "Failed"
    cifar = model.index_of_experiment("cifar")
    view.expand(cifar)
    wait_until(lambda: row_names(window, cifar) == ["sweep"], "cifar's top-level run", qtbot=qtbot)
    sweep = model.index(0, 0, cifar)
    view.expand(sweep)
    wait_until(lambda: row_names(window, sweep) == ["child-a", "child-b"], "sweep's children", qtbot=qtbot)
    assert not window.compute_pane.isVisible()  # the fake kind has no compute


def test_a_run_opens_with_its_metrics_and_files(fake_studio: dict[str, Any], qtbot: QtBot) -> None:
    window, ids = fake_studio["window"], fake_studio["ids"]
    window.open_run(ids["baseline"])
    tabs = window.run_detail.tabs
    wait_until(lambda: tabs.count() == 1 and tabs.tabText(0) == "baseline", "the baseline run's page", qtbot=qtbot)
    page = tabs.widget(0)
    overview = page.overview
    wait_until(
        lambda: "Completed" in overview.fields["Status"].text(), "the Completed status in the overview", qtbot=qtbot
    )

    page.show_tab("Metrics")
    metrics = page.tab("Metrics")
    wait_until(lambda: "loss" in (metrics.grid.chart_of("loss") or ()), "the loss chart", qtbot=qtbot)
    chart = metrics.grid.chart_of("loss")
    wait_until(
        lambda: len(chart.series("loss").values) == LONG_SERIES_POINTS, "every loss point", qtbot=qtbot
    )  # every point

    page.show_tab("Outputs + logs")
    outputs = page.tab("Outputs + logs")
    shown = {p for p in CONTENT.run("baseline").files if not p.startswith("snapshot/")}
    wait_until(lambda: shown <= set(outputs.model.files), "the run's outputs and logs listed", qtbot=qtbot)
    assert not any(p.startswith("snapshot/") for p in outputs.model.files)

    backend_calls = set(fake_studio["opener"].backends[0].calls)
    assert {"list_experiments", "get_run", "list_metrics", "get_series", "list_files"} <= backend_calls


def test_cancel_a_running_fake_run_from_the_window(fake_studio: dict[str, Any], qtbot: QtBot) -> None:
    window, ids = fake_studio["window"], fake_studio["ids"]
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("scratch").isValid(), "the scratch experiment", qtbot=qtbot)
    scratch = model.index_of_experiment("scratch")
    window.experiment_pane.view.expand(scratch)
    wait_until(lambda: row_names(window, scratch) == ["to-cancel", "editable"], "scratch's runs", qtbot=qtbot)
    assert window.experiment_pane.select_run(ids["to-cancel"])
    window.act_cancel.trigger()
    wait_until(
        lambda: model.index(0, 1, scratch).data() == "Canceled", "the run shown Canceled", qtbot=qtbot
    )  # seen through live refresh
    assert fake_studio["backend"].get_run(ids["to-cancel"]).status.value == "Canceled"


def test_a_fake_with_compute_shows_the_compute_pane(qtbot: QtBot, tmp_path: Path) -> None:
    backend, _ids = build_fake(fake=FakeComputeBackend())
    backend.create_compute("gpu-1", max_concurrent_jobs=2)
    opener = GuardedOpener(FakeOpener({"fake://compute": backend}))
    window = MainWindow([opener], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace("fake://compute")
    try:
        assert window.compute_pane.isVisible()
        model = window.compute_pane.model
        wait_until(
            lambda: [i.name for i in model.instances()] == ["gpu-1", "local"],
            "both compute instances listed",
            qtbot=qtbot,
        )
    finally:
        window.close()
    assert opener.violations == []
