"""The main window: workspace, experiment and compute panes around the run tabs."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton, QToolBar

from studio.core.backend import ComputeBackend, WorkspaceBackend
from studio.core.opener import WorkspaceOpener
from studio.core.types import RunInfo, WorkspaceInfo
from studio.ui.background.gc_policy import freeze_start_up_objects
from studio.ui.background.live_refresh import LiveRefresh
from studio.ui.background.notifier import Notifier
from studio.ui.background.task_status import TaskStatus
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.compute_pane import ComputePane
from studio.ui.compute.submit_dialog import SubmitScriptDialog
from studio.ui.experiments.experiment_tree import ExperimentTreePane
from studio.ui.runs.run_detail import RunDetailArea
from studio.ui.runs.run_overview import STUDIO_ACTION
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.runs_table.table_state import TableMemory
from studio.ui.shell.resources import app_icon, sample_experiment_dir
from studio.ui.shell.settings import WindowSettings
from studio.ui.shell.workspace_note import WorkspaceNote
from studio.ui.shell.workspace_switching import WorkspaceSwitching
from studio.ui.workspaces.workspace_pane import WorkspacePane

SAMPLE_EXPERIMENT = "sample-experiment"
WARM_UP_MODULE = "studio.ui.charts.metric_chart"
"""Imported in the background soon after start (it pulls in pyqtgraph), not when first needed."""
WARM_UP_DELAY_MS = 1500


log = logging.getLogger(__name__)


class MainWindow(WorkspaceSwitching):
    """Studio's window. It never calls a backend itself: every call goes through ``runner``."""

    sig_workspace_opened = Signal(str)
    """A workspace finished opening (its location)."""

    def __init__(self, kinds: Sequence[WorkspaceOpener], settings: WindowSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Studio")
        self.setWindowIcon(app_icon())
        self.kinds = tuple(kinds)
        self.settings = settings or WindowSettings()
        self.backend: WorkspaceBackend | None = None
        self.location = ""
        self.can_cancel = True
        self._pending_run: str | None = None
        self._compute_hidden_for_kind = False
        self._restore_selection: tuple[str, str] | None = None
        self._opening = ""
        self._recoveries = {}
        self._writable = False
        self.submit_dialog: SubmitScriptDialog | None = None
        """The Submit script dialog while it is open."""
        self.runner = TaskRunner(self)
        self.notifier = Notifier(self.statusBar(), self)
        self.runner.sig_unhandled_failure.connect(lambda exc, tb, label: self.notifier.error(exc, tb, label))
        self.run_detail = RunDetailArea(self.runner, self)
        self.setCentralWidget(self.run_detail)
        self.workspace_pane = WorkspacePane(self.runner, self)
        self.experiment_pane = ExperimentTreePane(self.runner, self)
        self.compute_pane = ComputePane(self.runner, self.notifier, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.workspace_pane)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.experiment_pane)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.compute_pane)
        self.splitDockWidget(self.workspace_pane, self.experiment_pane, Qt.Orientation.Vertical)
        self.resizeDocks([self.workspace_pane, self.experiment_pane], [230, 405], Qt.Orientation.Vertical)
        self.resizeDocks([self.experiment_pane], [520], Qt.Orientation.Horizontal)
        self.live = LiveRefresh(self.runner, self)
        self.workspace_note = WorkspaceNote(self.experiment_pane, self.run_detail, self)  # "Offline: …", "Cached …"
        self.statusBar().addPermanentWidget(self.workspace_note)
        self.task_status = TaskStatus(self.runner, self)
        self.statusBar().addPermanentWidget(self.task_status)
        details = QPushButton("Details…", self)
        details.setObjectName("errorDetailsButton")
        details.setFlat(True)
        details.hide()
        details.clicked.connect(self.notifier.show_details)
        self.notifier.sig_notified.connect(lambda _m: details.show())
        self.statusBar().addPermanentWidget(details)
        self._connect()
        self._build_actions()
        self._show_workspaces()
        self.resize(1280, 800)
        geometry, state = self.settings.geometry(), self.settings.state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up)

    def _warm_up(self) -> None:
        """Import the chart library in the background once the window is up.

        pyqtgraph takes about 180 ms to import: on the GUI thread that froze the window the
        first time a run's metrics or a comparison was shown.
        """
        self.runner.submit(
            importlib.import_module,
            WARM_UP_MODULE,
            success=lambda _module: self._after_warm_up(),
            owner=self,
        )

    def _after_warm_up(self) -> None:
        log.info("Chart library loaded in the background")  # the bundle's test waits for this (or an error)
        freeze_start_up_objects(self.run_detail.tabs.count())

    # -- wiring --------------------------------------------------------------------------------

    def _connect(self) -> None:
        tree = self.experiment_pane
        tree.sig_open_run.connect(self.open_run)
        tree.sig_open_experiment.connect(self.open_runs_table)
        tree.sig_cancel_runs.connect(self.cancel_runs)
        tree.sig_download_outputs.connect(self.download_outputs)
        tree.sig_run_sample.connect(self.run_sample_experiment)
        tree.sig_compare_runs.connect(self.compare_runs)
        tree.sig_open_in_studio.connect(self.run_detail.open_in_studio)
        self.run_detail.sig_notice.connect(self.notifier.info)
        tree.sig_selection_changed.connect(self._remember_selection)
        tree.model.sig_failed.connect(lambda exc, what: self.notifier.error(exc, context=what))
        tree.model.sig_experiments_failed.connect(self.experiments_failed)
        tree.sig_retry.connect(self.retry_failed)
        tree.sig_sign_in.connect(self.sign_in_failed)
        tree.model.sig_loaded.connect(self._after_experiments_loaded)
        tree.model.sig_page_loaded.connect(self._after_page_loaded)
        self.run_detail.sig_cancel_requested.connect(lambda run_id: self.cancel_runs([run_id]))
        self.run_detail.sig_open_run.connect(self.open_run)
        self.run_detail.sig_compare_runs.connect(self.compare_runs)
        self.live.sig_runs_changed.connect(self._on_runs_changed)
        self.live.sig_failed.connect(
            lambda exc: self.notifier.error(exc, context="Live refresh (it goes on when the workspace answers)")
        )
        self.live.sig_state_changed.connect(self.workspace_note.state_changed)
        self.workspace_note.sig_refresh_refused.connect(self.experiments_failed)  # the banner, with Sign in…
        self.workspace_pane.sig_open_workspace.connect(
            lambda loc: self.open_workspace(loc, create=loc == self.default_location())  # made on first use
        )
        self.workspace_pane.sig_kind_action.connect(self._kind_action)
        self.workspace_pane.sig_remove_recent.connect(self.remove_recent)
        self.workspace_pane.sig_forget_password.connect(self.forget_password)
        self.workspace_pane.sig_pin.connect(self.pin_workspace)
        self.workspace_pane.sig_failed.connect(lambda exc, what: self.notifier.error(exc, context=what))
        self.workspace_pane.sig_notice.connect(self.notifier.info)
        self.compute_pane.sig_submit_requested.connect(lambda compute: self.open_submit_dialog(compute=compute))
        self.workspace_pane.sig_missing_activated.connect(
            lambda loc: self.notifier.info(
                f"{loc}: the folder is gone (moved or deleted). Right-click it to remove it."
            )
        )

    def _build_actions(self) -> None:
        def action(text: str, slot: Any, shortcut: Any = None, name: str = "") -> QAction:
            act = QAction(text, self)
            act.setObjectName(name or text)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            return act

        self.act_refresh = action("Refresh", self.refresh, "F5", "actionRefresh")
        self.act_filter = action("Filter runs", self._focus_filter, "Ctrl+F", "actionFilter")
        self.act_close_tab = action("Close tab", self.run_detail.close_current, "Ctrl+W", "actionCloseTab")
        self.act_quit = action("Quit", self.close, "Ctrl+Q", "actionQuit")
        self.act_sample = action("Run sample experiment", self.run_sample_experiment, None, "actionSample")
        self.act_submit = action(
            "Submit script…", lambda: self.open_submit_dialog(), "Ctrl+Shift+S", "actionSubmitScript"
        )
        self.act_new_ws = action(
            "New workspace…", self.new_workspace, QKeySequence.StandardKey.New, "actionNewWorkspace"
        )
        self.act_open_ws = action(
            "Open workspace folder…", self.open_folder, QKeySequence.StandardKey.Open, "actionOpenFolder"
        )
        self.act_cancel = action(
            "Cancel selected runs",
            lambda: self.cancel_runs(self.experiment_pane.selected_run_ids()),
            None,
            "actionCancelRuns",
        )
        self.act_compare = action(
            "Compare selected runs",
            lambda: self.compare_runs(self.experiment_pane.selected_run_ids()),
            "Ctrl+Shift+C",
            "actionCompare",
        )
        self.act_open_in_studio = action(
            STUDIO_ACTION, self.run_detail.open_current_in_studio, None, "actionOpenInStudio"
        )
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.act_new_ws, self.act_open_ws])
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        view = menu.addMenu("&View")
        view.addActions([self.act_refresh, self.act_filter])
        view.addSeparator()
        for dock in (self.workspace_pane, self.experiment_pane, self.compute_pane):
            view.addAction(dock.toggleViewAction())
        run_menu = menu.addMenu("&Run")
        run_menu.addActions([self.act_compare, self.act_cancel, self.act_open_in_studio, self.act_close_tab])
        run_menu.addSeparator()
        run_menu.addActions([self.act_submit, self.act_sample])
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(action("Last error details…", self.notifier.show_details, None, "actionErrorDetails"))
        help_menu.addAction(action("Open log folder", self._open_log_folder, None, "actionOpenLogFolder"))
        help_menu.addAction(action("About Studio", self._about, None, "actionAbout"))
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)  # style icons clash in dark mode
        toolbar.addActions(
            [self.act_refresh, self.act_filter, self.act_compare, self.act_submit, self.act_sample, self.act_close_tab]
        )
        self._set_icons()
        self._update_actions()
        self._update_submit()
        self.run_detail.tabs.currentChanged.connect(lambda _i: self._update_actions())
        self.run_detail.sig_run_loaded.connect(lambda _id: self._update_actions())
        self.experiment_pane.sig_selection_changed.connect(lambda _ids: self._update_actions())
        self.addToolBar(toolbar)
        for act in (self.act_refresh, self.act_filter, self.act_close_tab, self.act_quit):
            act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

    def _set_icons(self) -> None:
        style = self.style()
        pix = style.standardIcon
        sp = style.StandardPixmap
        self.act_refresh.setIcon(pix(sp.SP_BrowserReload))
        self.act_filter.setIcon(pix(sp.SP_FileDialogContentsView))
        self.act_compare.setIcon(pix(sp.SP_FileDialogDetailedView))
        self.act_sample.setIcon(pix(sp.SP_MediaPlay))
        self.act_close_tab.setIcon(pix(sp.SP_DialogCloseButton))
        self.act_new_ws.setIcon(pix(sp.SP_FileDialogNewFolder))
        self.act_open_ws.setIcon(pix(sp.SP_DirOpenIcon))

    def _update_actions(self) -> None:
        runs = self.experiment_pane.selected_runs()
        self.act_close_tab.setEnabled(self.run_detail.tabs.count() > 0)
        self.act_open_in_studio.setVisible(self.run_detail.current_studio_url() is not None)  # absent, not greyed
        self.act_compare.setEnabled(len(runs) >= 2)
        self.act_cancel.setEnabled(any(r.status.is_active for r in runs))

    def compare_runs(self, run_ids: list[str]) -> None:
        """Open the compare view for two or more runs."""
        if len(run_ids) < 2:
            self.notifier.info("Select two or more runs to compare them.")
            return
        self.run_detail.open_compare(run_ids)

    # -- runs ----------------------------------------------------------------------------------

    def open_run(self, run_id: str) -> None:
        """Open (or show) a run's tab and raise the window."""
        if self.backend is None:
            self._pending_run = run_id
            return
        self.run_detail.open_run(run_id)
        self.experiment_pane.select_run(run_id)

    def _focus_filter(self) -> None:
        """Ctrl+F: the filter box of the runs table in front, else the Experiments pane's."""
        tab = self.run_detail.tabs.currentWidget()
        if self.run_detail.currentIndex() == 1 and isinstance(tab, RunsTableTab):
            tab.focus_filter()
        else:
            self.experiment_pane.focus_filter()

    def open_runs_table(self, experiment: str) -> None:
        """Open (or show) an experiment's runs table; its columns and sort are remembered per workspace."""
        tab = self.run_detail.open_runs_table(experiment, TableMemory(self.settings, self.location))
        if tab is not None and not getattr(tab, "_submit_connected", False):
            tab._submit_connected = True  # type: ignore[attr-defined]
            tab.sig_submit_script.connect(lambda name: self.open_submit_dialog(experiment=name))
        if tab is not None:
            tab.set_submit_available(self.can_submit)

    def handle_message(self, message: dict[str, Any]) -> None:
        """A message from a second ``studio`` started on this workspace."""
        self.showNormal()
        self.raise_()
        self.activateWindow()
        if message.get("action") == "open_run" and isinstance(message.get("run_id"), str):
            self.open_run(message["run_id"])

    def cancel_runs(self, run_ids: list[str]) -> None:
        """Cancel runs in the background (nothing on a kind that cannot cancel: it offers no Cancel)."""
        backend = self.backend
        if backend is None or not self.can_cancel:
            return
        for run_id in run_ids:
            self._cancel_one(backend, run_id)

    def _cancel_one(self, backend: WorkspaceBackend, run_id: str) -> None:
        self.runner.submit(
            backend.cancel_run,
            run_id,
            success=lambda status: self.notifier.info(f"{run_id}: {status.value}"),
            failure=lambda exc: self.notifier.error(exc, context=f"Canceling {run_id}"),
            label=f"Canceling {run_id}",
        )

    def download_outputs(self, run_id: str) -> None:
        """Download a run's outputs/ to a folder the user picks, with progress and cancel."""
        backend = self.backend
        folder = QFileDialog.getExistingDirectory(self, f"Download the outputs of {run_id} to")
        if backend is None or not folder:
            return
        self.download_outputs_to(run_id, folder)

    def download_outputs_to(self, run_id: str, folder: str) -> None:
        """The second half of Download outputs…, separate so tests can drive it."""
        backend = self.backend
        if backend is None:
            return

        self.runner.submit(
            _download_outputs,
            backend,
            run_id,
            Path(folder),
            with_state=True,
            success=lambda paths: self.notifier.info(f"Downloaded {len(paths)} files to {folder}"),
            failure=lambda exc: self.notifier.error(exc, context=f"Downloading outputs of {run_id}"),
            label=f"Downloading outputs of {run_id}",
            cancellable=True,
        )

    def run_sample_experiment(self) -> None:
        """Submit the bundled sample script to the `local` compute."""
        backend = self.backend
        if not isinstance(backend, ComputeBackend):
            return
        self.runner.submit(
            backend.submit_script,
            SAMPLE_EXPERIMENT,
            str(sample_experiment_dir()),
            "train.py",
            success=self._sample_submitted,
            failure=lambda exc: self.notifier.error(exc, context="Running the sample experiment"),
            label="Submitting the sample experiment",
        )

    def _sample_submitted(self, run_id: str) -> None:
        self.notifier.info(f"Sample experiment submitted: {run_id}")
        self._show_submitted(SAMPLE_EXPERIMENT, run_id)

    def _show_submitted(self, experiment: str, run_id: str) -> None:
        """Select a run just submitted in the Experiments tree (once listed) and open it: it follows status and log."""
        self._restore_selection = (experiment, run_id)
        self.experiment_pane.model.reload()
        self.open_run(run_id)

    # -- submit script -------------------------------------------------------------------------

    @property
    def can_submit(self) -> bool:
        """The open workspace runs scripts (a ComputeBackend) and is writable."""
        return isinstance(self.backend, ComputeBackend) and self._writable

    def open_submit_dialog(self, experiment: str = "", compute: str = "") -> SubmitScriptDialog | None:
        """Submit script…: the dialog, ``experiment`` (else the selected one) and ``compute`` preselected."""
        backend = self.backend
        if backend is None or not self.can_submit:
            if isinstance(backend, ComputeBackend):
                self.notifier.info("This workspace is read-only: scripts cannot be submitted to it.")
            return None
        if self.submit_dialog is not None:  # also one hidden while its submit is on its way
            self.submit_dialog.show()
            self.submit_dialog.raise_()
            self.submit_dialog.activateWindow()
            return self.submit_dialog
        if not experiment:
            pane = self.experiment_pane
            experiment = pane.model.experiment_of(pane.view.currentIndex()) or ""
        dialog = SubmitScriptDialog(backend, self.runner, self.settings.q, experiment, compute, self)
        self.submit_dialog = dialog
        dialog.sig_submitted.connect(self._script_submitted)
        dialog.finished.connect(lambda _code: self._submit_dialog_closed(dialog))
        dialog.open()
        return dialog

    def _submit_dialog_closed(self, dialog: SubmitScriptDialog) -> None:
        if self.submit_dialog is dialog:
            self.submit_dialog = None
        dialog.deleteLater()

    def _script_submitted(self, experiment: str, run_id: str) -> None:
        self.notifier.info(f"Submitted {run_id} to {experiment}")
        self._show_submitted(experiment, run_id)

    def _set_backend(
        self, opener: WorkspaceOpener, location: str, backend: WorkspaceBackend, info: WorkspaceInfo
    ) -> None:
        self._writable = not info.read_only
        super()._set_backend(opener, location, backend, info)
        self._update_submit()

    def _update_submit(self) -> None:
        """Submit script… where the workspace runs scripts and is writable; absent elsewhere (as the sample is)."""
        available = self.can_submit
        self.act_submit.setEnabled(available)
        self.act_submit.setVisible(available)
        for tab in self.run_detail.runs_tables():
            tab.set_submit_available(available)

    def refresh(self) -> None:
        """F5: reload the experiment list, the compute list and the open tabs (or, with none open, open again the
        workspace that could not be)."""
        if self.backend is None and self.experiment_pane.failure is not None:
            self.retry_failed()
            return
        self.experiment_pane.model.reload()
        self.compute_pane.refresh()
        self.run_detail.refresh_runs(set(self.run_detail.open_run_ids()))
        self.run_detail.refresh_tables()

    # -- live refresh and selection ------------------------------------------------------------

    def _on_runs_changed(self, runs: list[RunInfo]) -> None:
        self.experiment_pane.model.apply_changes(runs)
        if runs:
            self.experiment_pane.show_runs()  # not an empty workspace any more
        self.run_detail.runs_changed(runs)

    def _after_experiments_loaded(self) -> None:
        selection = self._restore_selection
        if selection is None:
            return
        index = self.experiment_pane.model.index_of_experiment(selection[0])
        if index.isValid():
            self.experiment_pane.view.expand(index)

    def _after_page_loaded(self, experiment: str) -> None:
        selection = self._restore_selection
        if selection is not None and selection[0] == experiment and self.experiment_pane.select_run(selection[1]):
            self._restore_selection = None

    def _remember_selection(self, run_ids: list[str]) -> None:
        if run_ids and self.location:
            runs = self.experiment_pane.selected_runs()
            if runs:
                self.settings.save_selection(self.location, runs[0].experiment, runs[0].id)

    # -- window --------------------------------------------------------------------------------

    def _open_log_folder(self) -> None:
        from studio.ui.shell.log_folder import open_log_folder  # Help menu only: not at start-up

        open_log_folder(self.notifier)

    def _about(self) -> None:
        from studio import __version__

        QMessageBox.about(self, "About Studio", f"<b>Studio {__version__}</b><br>A desktop studio for ML experiments.")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the layout, stop polling and background work, close the workspace.

        First, when instances the user started here still run and cost money, ask whether to stop them.
        """
        if not self.compute_pane.ask_before_close(self):
            event.ignore()
            return
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.live.stop()
        self.compute_pane.set_backend(None)
        backend, self.backend = self.backend, None
        self.runner.shutdown()
        if backend is not None:
            # Closed on a thread of its own: the runner, shut down, drops work not yet started, and closing a
            # remote workspace joins its connection threads (the GUI thread never waits on that).
            threading.Thread(target=backend.close, name="studio-close-workspace").start()
        super().closeEvent(event)


def _download_outputs(state: Any, backend: WorkspaceBackend, run_id: str, folder: Path) -> list[Path]:
    """A run's ``outputs/`` into ``folder`` (on a worker: with the task's progress and cancel)."""
    names = [f.path for f in backend.list_files(run_id, prefix="outputs/")]
    return backend.download_files(run_id, names, folder, progress=state.set_progress, cancel=state.cancel)
