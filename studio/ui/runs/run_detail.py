"""The central area: opened runs as closable tabs, with a hint when none is open."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs import job_rows
from studio.ui.runs.run_overview import RunOverview, open_web_page
from studio.ui.runs.tabs.base import RunTab
from studio.ui.runs.tabs.registry import tab_classes
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.runs_table.table_state import TableMemory


class RunPage(QTabWidget):
    """One opened run: Overview first, then the other tabs, each loaded when first shown."""

    sig_open_run = Signal(str)
    """A tab asked to open another run (a child run)."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        parent: QWidget | None = None,
        can_cancel: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"runPage:{run_id}")
        self.run_id = run_id
        self.setDocumentMode(True)
        self.setTabBarAutoHide(True)
        self.overview = RunOverview(backend, runner, run_id, self, can_cancel=can_cancel)
        self.addTab(self.overview, "Overview")
        self.tabs: list[RunTab] = []
        for cls in tab_classes():
            tab = cls(backend, runner, run_id, self)
            tab.sig_open_run.connect(self.sig_open_run)
            self.tabs.append(tab)
            self.addTab(tab, cls.title)
        self.currentChanged.connect(self._shown)
        self.overview.sig_loaded.connect(self._run_changed)

    def tab(self, title: str) -> QWidget | None:
        """The tab with this title."""
        for i in range(self.count()):
            if self.tabText(i) == title:
                return self.widget(i)
        return None

    def show_tab(self, title: str) -> None:
        """Switch to a tab by title."""
        page = self.tab(title)
        if page is not None:
            self.setCurrentWidget(page)

    def reload(self) -> None:
        """The run changed: the overview reloads, then the loaded tabs hear about it."""
        self.overview.reload()

    def _shown(self, index: int) -> None:
        page = self.widget(index)
        if isinstance(page, RunTab):
            page.ensure_loaded()

    def _run_changed(self, run: RunInfo) -> None:
        for tab in self.tabs:
            tab.run_known(run)  # a tab opened later knows the run at once (a running job's log is followed)
            if tab.loaded:
                tab.run_changed(run)


class RunDetailArea(QStackedWidget):
    """Holds one tab per opened run (objectName ``runDetail``)."""

    sig_cancel_requested = Signal(str)
    """A tab's Cancel button was pressed for this run id."""
    sig_open_run = Signal(str)
    """A run page (or a runs table) asked to open a run."""
    sig_compare_runs = Signal(list)
    """A runs table asked to compare these run ids."""
    sig_run_loaded = Signal(str)
    """An open run page's Overview (re)loaded (its run id): actions that depend on the run may change."""
    sig_notice = Signal(str)
    """A sentence for the status bar (a run without a web studio page)."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runDetail")
        self.runner = runner
        self.backend: WorkspaceBackend | None = None
        self.can_cancel = True
        hint = QLabel(
            "No run is open.\nDouble-click an experiment in the Experiments pane to see its runs as a table,\n"
            "or a run to open it here.",
            self,
        )
        hint.setObjectName("runDetailHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setEnabled(False)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("runTabs")
        self.tabs.setTabsClosable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.addWidget(hint)
        self.addWidget(self.tabs)

    def set_backend(self, backend: WorkspaceBackend | None, can_cancel: bool = True) -> None:
        """A new workspace: close every tab. Without ``can_cancel`` the run pages have no Cancel button."""
        while self.tabs.count():
            self.close_tab(0)
        self.backend, self.can_cancel = backend, can_cancel

    def open_run(self, run_id: str) -> RunPage | None:
        """Show a run's tab, opening it if needed."""
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            if isinstance(page, RunPage) and page.run_id == run_id:
                self.tabs.setCurrentIndex(i)
                self.setCurrentIndex(1)
                return page
        if self.backend is None:
            return None
        page = RunPage(self.backend, self.runner, run_id, self.tabs, can_cancel=self.can_cancel)
        page.overview.sig_loaded.connect(lambda run, p=page: self._retitle(p, run.display_name or run.id))
        page.overview.sig_loaded.connect(lambda run: self.sig_run_loaded.emit(run.id))
        page.overview.sig_cancel_requested.connect(self.sig_cancel_requested)
        page.sig_open_run.connect(self.sig_open_run)
        index = self.tabs.addTab(page, run_id)
        self.tabs.setTabToolTip(index, run_id)
        self.tabs.setCurrentIndex(index)
        self.setCurrentIndex(1)
        return page

    def open_runs_table(self, experiment: str, memory: TableMemory | None = None) -> RunsTableTab | None:
        """Show an experiment's runs table, opening it if needed (one tab per experiment)."""
        for tab in self.runs_tables():
            if tab.experiment == experiment:
                self.tabs.setCurrentWidget(tab)
                self.setCurrentIndex(1)
                return tab
        if self.backend is None:
            return None
        tab = RunsTableTab(self.backend, self.runner, experiment, memory, self.tabs)
        tab.sig_open_runs.connect(self._open_runs)
        tab.sig_compare_runs.connect(self.sig_compare_runs)
        index = self.tabs.addTab(tab, experiment if len(experiment) <= 30 else experiment[:29] + "…")
        self.tabs.setTabToolTip(index, f"Runs of {experiment}")
        self.tabs.setCurrentIndex(index)
        self.setCurrentIndex(1)
        return tab

    def _open_runs(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self.sig_open_run.emit(run_id)

    def runs_tables(self) -> list[RunsTableTab]:
        """The open runs tables, in tab order."""
        return [w for w in (self.tabs.widget(i) for i in range(self.tabs.count())) if isinstance(w, RunsTableTab)]

    def open_compare(self, run_ids: list[str]) -> QWidget | None:
        """Open a compare tab for these runs."""
        if self.backend is None or len(run_ids) < 2:
            return None
        from studio.ui.compare.compare_view import CompareView

        view = CompareView(self.backend, self.runner, run_ids, self.tabs)
        index = self.tabs.addTab(view, f"Compare ({len(run_ids)})")
        self.tabs.setTabToolTip(index, "\n".join(run_ids))
        self.tabs.setCurrentIndex(index)
        self.setCurrentIndex(1)
        return view

    def current_run_page(self) -> RunPage | None:
        """The run page in front, if the tab in front is one."""
        page = self.tabs.currentWidget() if self.currentIndex() == 1 else None
        return page if isinstance(page, RunPage) else None

    def current_studio_url(self) -> str | None:
        """The web studio page of the run in front (an Azure ML job's), once its Overview has loaded."""
        page = self.current_run_page()
        return page.overview.studio_url if page is not None else None

    def open_in_studio(self, run_id: str) -> None:
        """Open a run's page in its web studio: known from its open page, else asked of the backend first."""
        for page in self._run_pages():
            if page.run_id == run_id and page.overview.studio_url:
                page.overview.open_in_studio()
                return
        if self.backend is None:
            return
        self.runner.submit(
            self.backend.get_run_details,
            run_id,
            success=lambda details: self._open_studio_url(run_id, details),
            label=f"Finding the web studio page of {run_id}",  # a failure goes to the notifier, with this label
            owner=self,
        )

    def _open_studio_url(self, run_id: str, details: dict[str, object]) -> None:
        url = job_rows.studio_url(details)
        if url is None:
            self.sig_notice.emit(f"{run_id} has no page in a web studio.")
        else:
            open_web_page(url)

    def _run_pages(self) -> list[RunPage]:
        return [w for w in (self.tabs.widget(i) for i in range(self.tabs.count())) if isinstance(w, RunPage)]

    def open_current_in_studio(self) -> None:
        """Open the run in front in its web studio (Run menu)."""
        page = self.current_run_page()
        if page is not None:
            page.overview.open_in_studio()

    def open_run_ids(self) -> list[str]:
        """Run ids of the open tabs, in tab order."""
        return [w.run_id for w in (self.tabs.widget(i) for i in range(self.tabs.count())) if isinstance(w, RunPage)]

    def runs_changed(self, runs: list[RunInfo]) -> None:
        """Runs changed in the workspace: run tabs reload, runs tables update their rows."""
        self.refresh_runs({r.id for r in runs})
        for tab in self.runs_tables():
            tab.apply_changes(runs)

    def refresh_tables(self) -> None:
        """F5: every runs table queries again."""
        for tab in self.runs_tables():
            tab.refresh()

    def refresh_runs(self, run_ids: set[str]) -> None:
        """Reload the open tabs of runs that changed."""
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            if isinstance(page, RunPage) and page.run_id in run_ids:
                page.reload()

    def close_tab(self, index: int) -> None:
        """Close one tab (Ctrl+W closes the current one)."""
        if index < 0:
            return
        page = self.tabs.widget(index)
        self.tabs.removeTab(index)
        if page is not None:
            page.deleteLater()
        if not self.tabs.count():
            self.setCurrentIndex(0)

    def close_current(self) -> None:
        """Close the current tab."""
        self.close_tab(self.tabs.currentIndex())

    def _retitle(self, page: QWidget, title: str) -> None:
        index = self.tabs.indexOf(page)
        if index >= 0:
            self.tabs.setTabText(index, title if len(title) <= 30 else title[:29] + "…")
