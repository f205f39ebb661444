"""The real main window on a workspace behind the offline cache: reopened, it paints from the cache while the
service has not answered anything, saying so in the status bar ("Cached 12:03 — refreshing…"), then the window's own
live refresh shows what changed meanwhile and the mark goes. Nothing in the window knows about the cache
(``CachedBackend`` is only a ``WorkspaceBackend``; the window reads ``info().note`` and the cache's versions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from studio.core.errors import AuthenticationError
from studio.core.status import RunStatus
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.workspaces.azure.offline_cache import open_cached
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until
from tests.workspaces.azure.test_offline_cache import Recorder

LOCATION = "cached://demo"


class CachedOpener:
    """Kind "cached": ``cached://demo`` is a FakeBackend seen through a ``Recorder``, behind the offline cache."""

    kind = "cached"
    label = "Cached workspaces"
    location_form = "cached://<name>"

    def __init__(self, service: Recorder, root: Path) -> None:
        self.service, self.root = service, root
        self.opened: list[Any] = []

    def owns(self, location: str) -> bool:
        return location.startswith("cached://")

    def default_location(self) -> None:
        return None

    def display_name(self, location: str) -> str:
        return location.removeprefix("cached://")

    def is_workspace(self, location: str) -> bool:
        return True

    def is_missing(self, location: str) -> bool:
        return False

    def open(self, location: str, create: bool = False) -> Any:
        def sign_in_and_connect() -> Any:
            assert self.service.gate.wait(30)  # the network: held while the test says so
            return self.service

        self.opened.append(open_cached(location, sign_in_and_connect, root=self.root))
        return self.opened[-1]


def _runs_of(window: MainWindow, experiment: str) -> dict[str, str]:
    """Display name -> status shown, of the experiment's rows in the tree."""
    model = window.experiment_pane.model
    parent = model.index_of_experiment(experiment)
    rows = [model.index(r, 0, parent) for r in range(model.rowCount(parent))]
    return {i.data(): model.index(i.row(), 1, parent).data() for i in rows if isinstance(i, QModelIndex)}


def _session(qtbot: QtBot, opener: CachedOpener, settings: Path) -> tuple[MainWindow, GuardedOpener]:
    guarded = GuardedOpener(opener)
    window = MainWindow([guarded], WindowSettings(str(settings)))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(LOCATION)
    wait_until(lambda: window.experiment_pane.model.index_of_experiment("mnist").isValid(), "mnist", qtbot=qtbot)
    window.experiment_pane.view.expand(window.experiment_pane.model.index_of_experiment("mnist"))
    return window, guarded


def test_a_reopened_window_paints_from_the_cache_then_shows_the_changes(qtbot: QtBot, tmp_path: Path) -> None:
    fake = FakeBackend(name="demo", location=LOCATION)
    done = fake.add_run("mnist", "done")
    fake.set_status(done, RunStatus.COMPLETED)
    running = fake.add_run("mnist", "running")
    service = Recorder(fake)
    opener = CachedOpener(service, tmp_path / "cache")
    settings = tmp_path / "settings.ini"

    window, guarded = _session(qtbot, opener, settings)
    wait_until(lambda: _runs_of(window, "mnist") == {"done": "Completed", "running": "Running"}, "rows", qtbot=qtbot)
    window.close()
    assert guarded.violations == []

    fake.set_status(running, RunStatus.COMPLETED)  # while Studio was closed
    fake.add_run("mnist", "newer")
    service.hold()  # no answer from the service until the cached paint is checked
    before = sum(service.calls.values())
    window, guarded = _session(qtbot, opener, settings)
    wait_until(
        lambda: _runs_of(window, "mnist") == {"done": "Completed", "running": "Running"}, "the cached rows", qtbot=qtbot
    )
    assert sum(service.calls.values()) == before  # painted with no call answered
    note = window.workspace_note  # the status bar says where the rows come from
    wait_until(lambda: note.isVisible() and note.full_text().startswith("Cached "), "the cached mark", qtbot=qtbot)
    assert note.full_text().endswith("refreshing…")
    service.release()
    wait_until(
        lambda: _runs_of(window, "mnist") == {"newer": "Running", "done": "Completed", "running": "Completed"},
        "the refreshed rows, through the window's live refresh",
        timeout=30,
        qtbot=qtbot,
    )
    assert opener.opened[-1].info().note == ""
    wait_until(lambda: not note.isVisible(), "the cached mark gone once refreshed", qtbot=qtbot)
    window.close()
    assert guarded.violations == []


def _table(window: MainWindow, experiment: str, qtbot: QtBot) -> Any:
    """The experiment's runs table, opened (it loads its first page on a worker)."""
    window.open_runs_table(experiment)
    return wait_until(lambda: window.run_detail.runs_tables(), "the runs table", qtbot=qtbot)[0]


def test_a_runs_table_painted_from_the_cache_loses_its_mark_once_refreshed(qtbot: QtBot, tmp_path: Path) -> None:
    fake = FakeBackend(name="demo", location=LOCATION)
    for name in ("a", "b"):
        fake.set_status(fake.add_run("mnist", name), RunStatus.COMPLETED)
    service = Recorder(fake)
    opener = CachedOpener(service, tmp_path / "cache")
    settings = tmp_path / "settings.ini"
    window, _guarded = _session(qtbot, opener, settings)
    table = _table(window, "mnist", qtbot)
    wait_until(lambda: table.model.rowCount() == 2, "the table's rows", qtbot=qtbot)
    assert table.model.note == ""
    window.close()

    fake.add_run("mnist", "c")  # while Studio was closed
    service.hold()
    window, _guarded = _session(qtbot, opener, settings)
    table = _table(window, "mnist", qtbot)
    wait_until(lambda: table.model.rowCount() == 2, "the cached rows", qtbot=qtbot)
    assert table.model.note.startswith("Cached ") and table.bar.query_note.isVisibleTo(table)
    service.release()
    wait_until(
        lambda: table.model.note == "" and table.model.rowCount() == 3,
        "the table asked again once its page was refreshed",
        timeout=30,
        qtbot=qtbot,
    )
    assert not table.bar.query_note.isVisibleTo(table)
    wait_until(lambda: not window.workspace_note.isVisible(), "the window's mark gone", qtbot=qtbot)
    window.close()


def test_a_refresh_refused_for_the_sign_in_shows_the_failure_banner(qtbot: QtBot, tmp_path: Path) -> None:
    fake = FakeBackend(name="demo", location=LOCATION)
    fake.set_status(fake.add_run("mnist", "done"), RunStatus.COMPLETED)
    service = Recorder(fake)
    opener = CachedOpener(service, tmp_path / "cache")
    settings = tmp_path / "settings.ini"
    window, _guarded = _session(qtbot, opener, settings)
    window.close()

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AuthenticationError("The workspace refused the sign-in: sign in again.")

    fake.list_experiments = refused  # type: ignore[method-assign]  # the sign-in expired since: every listing refused
    fake.list_runs = refused  # type: ignore[method-assign]
    window, _guarded = _session(qtbot, opener, settings)  # painted from the cache; its refresh is refused
    pane = window.experiment_pane
    wait_until(lambda: pane.failure_banner.isVisibleTo(pane), "the failure banner", qtbot=qtbot)
    assert pane.failure_banner.title.text() == "Could not refresh the experiments of demo"
    assert "sign in again" in pane.failure_banner.message.text()
    note = window.workspace_note
    wait_until(lambda: "could not refresh" in note.full_text(), "the window's note", qtbot=qtbot)
    assert note.full_text().startswith("Cached ") and note.isVisible()
    window.close()
