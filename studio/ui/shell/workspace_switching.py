"""Switching workspaces: the window's half that opens, lists and forgets workspaces of any kind.

A mixin of ``MainWindow`` (its attributes are declared below), kept apart so the window's
module holds the wiring and the runs' actions. A workspace that cannot be opened (or listed) is
said in the status bar and in the Experiments pane, with Retry and, when the server refused the
credentials, "Sign in…" (the Add server dialog on that server's URL).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QMessageBox

from studio.core.backend import ComputeBackend, WorkspaceBackend
from studio.core.credentials import ServerCredentials, forget_credentials, save_credentials
from studio.core.errors import AuthenticationError, StudioError
from studio.core.opener import WorkspaceOpener, pick_opener
from studio.core.types import WorkspaceInfo
from studio.ui.background.live_refresh import LiveRefresh
from studio.ui.background.notifier import Notifier, readable
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.compute_pane import ComputePane
from studio.ui.experiments.experiment_tree import ExperimentTreePane
from studio.ui.experiments.failure_notice import Failure
from studio.ui.runs.run_detail import RunDetailArea
from studio.ui.shell.settings import WindowSettings
from studio.ui.workspaces.add_server_dialog import AddServerDialog
from studio.ui.workspaces.azure_section import AzureSection
from studio.ui.workspaces.kind_actions import ADD_SERVER, KEEPS_PASSWORDS, NEW_FOLDER, OPEN_FOLDER
from studio.ui.workspaces.workspace_pane import WorkspacePane


class WorkspaceSwitching(QMainWindow):
    """Open a workspace in the background, show the panes for its kind, keep the recent list."""

    kinds: tuple[WorkspaceOpener, ...]
    settings: WindowSettings
    backend: WorkspaceBackend | None
    location: str
    runner: TaskRunner
    notifier: Notifier
    live: LiveRefresh
    run_detail: RunDetailArea
    workspace_pane: WorkspacePane
    experiment_pane: ExperimentTreePane
    compute_pane: ComputePane
    act_sample: QAction
    act_cancel: QAction
    sig_workspace_opened: SignalInstance
    _pending_run: str | None
    _restore_selection: tuple[str, str] | None
    _compute_hidden_for_kind: bool
    can_cancel: bool
    """Whether the open workspace's kind can cancel runs (``WorkspaceInfo.can_cancel``); no Cancel is offered if not."""
    _opening: str
    """The location asked for last: the failure of an open asked before it is not shown in the pane."""
    _recoveries: dict[str, tuple[Callable[[], None], str]]
    """Per failure key shown in the Experiments pane ("open", "experiments"): what Retry does, and the location
    "Sign in…" is for."""

    def refresh(self) -> None:
        """F5 (the window's)."""
        raise NotImplementedError

    def open_run(self, run_id: str) -> None:
        """Open a run's tab (the window's)."""
        raise NotImplementedError

    def open_workspace(self, location: str, create: bool = False, open_run: str | None = None) -> None:
        """Open a workspace in the background; the old one stays until the new one is ready."""
        try:
            opener = pick_opener(self.kinds, location)
        except StudioError as exc:
            self.notifier.error(exc, context=f"Opening {location}")
            return
        location = location.strip()
        self._pending_run = open_run
        self._opening = location
        name = opener.display_name(location)
        self.experiment_pane.show_busy(f"Opening {name}…")
        self.runner.submit(
            _open_and_describe,
            opener,
            location,
            create,
            success=lambda opened: self._set_backend(opener, location, *opened),
            failure=lambda exc: self._open_failed(location, create, open_run, exc),
            label=f"Opening {name}",
        )

    def _open_failed(self, location: str, create: bool, open_run: str | None, exc: BaseException) -> None:
        """The status bar says it; so does the Experiments pane, with Retry (and Sign in… if refused)."""
        self.notifier.error(exc, context=f"Opening {location}")
        if location != self._opening:
            return  # another workspace was asked for since: this one's failure is old news
        retry = lambda: self.open_workspace(location, create, open_run)  # noqa: E731
        self._show_failure("open", f"Could not open {self._name_of(location)}", exc, location, retry)

    def experiments_failed(self, exc: BaseException) -> None:
        """The open workspace's experiments could not be listed: the pane says so, with Retry (F5)."""
        name = self._name_of(self.location)
        listed = self.experiment_pane.model.rowCount() > 0
        title = f"Could not {'refresh' if listed else 'load'} the experiments of {name}"
        self._show_failure("experiments", title, exc, self.location, self.refresh)

    def _show_failure(self, key: str, title: str, exc: BaseException, location: str, retry: Callable[[], None]) -> None:
        sign_in = isinstance(exc, AuthenticationError) and (
            self._keeps_password(location) or self._accounts_of(location) is not None
        )
        self._recoveries[key] = (retry, location)
        self.experiment_pane.show_failure(Failure(key, title, readable(exc), sign_in=sign_in))

    def retry_failed(self) -> None:
        """Retry on the failure the Experiments pane shows: open the workspace again, or list it again."""
        failure = self.experiment_pane.failure
        recovery = None if failure is None else self._recoveries.get(failure.key)
        if failure is None or recovery is None:
            return
        name = self._name_of(recovery[1])
        self.experiment_pane.show_busy(
            f"Opening {name}…" if failure.key == "open" else f"Loading the experiments of {name}…"
        )
        recovery[0]()

    def sign_in_failed(self) -> QDialog | None:
        """Sign in… on the failure the Experiments pane shows: the Add server dialog on that server's URL, or for
        a kind that signs in (Azure ML) its sign-in dialog, the workspace opened with the new account after it."""
        failure = self.experiment_pane.failure
        recovery = None if failure is None else self._recoveries.get(failure.key)
        if recovery is None:
            return None
        location = recovery[1]
        accounts = self._accounts_of(location)
        if accounts is None:
            return self.sign_in(location)
        dialog = accounts.sign_in()
        dialog.sig_signed_in.connect(lambda info: accounts.open_workspace(location, info.account_id))
        return dialog

    def _accounts_of(self, location: str) -> AzureSection | None:
        """The accounts rows of the kind of ``location`` when it signs in (Azure ML), else None."""
        try:
            kind = pick_opener(self.kinds, location).kind
        except StudioError:
            return None
        return self.workspace_pane.accounts.get(kind)

    def _set_backend(
        self, opener: WorkspaceOpener, location: str, backend: WorkspaceBackend, info: WorkspaceInfo
    ) -> None:
        old = self.backend
        self.backend, self.location, self.can_cancel = backend, location, info.can_cancel
        self._recoveries.clear()
        if old is not None:
            self.runner.submit(old.close)
        self.setWindowTitle(f"Studio — {opener.display_name(location)}")
        self.settings.add_recent(location)
        self._show_workspaces()
        self._restore_selection = self.settings.last_selection(location)
        self.run_detail.set_backend(backend, can_cancel=info.can_cancel)
        self.experiment_pane.set_backend(backend, can_cancel=info.can_cancel)
        self.experiment_pane.studio_links = info.kind == "azure"  # its runs' menu offers "Open in Azure ML studio"
        self.act_cancel.setVisible(info.can_cancel)  # a kind that cannot cancel offers no Cancel at all
        self._show_compute(backend if isinstance(backend, ComputeBackend) else None)
        self.live.set_backend(backend)
        if self._pending_run:
            self.open_run(self._pending_run)
            self._pending_run = None
        self.sig_workspace_opened.emit(location)

    def _show_compute(self, compute: ComputeBackend | None) -> None:
        """Hide the Compute pane and the submit actions for a kind without compute; bring them back after.

        The pane comes back only if it was hidden here, not if the user closed it.
        """
        self.compute_pane.set_backend(compute)
        self.compute_pane.toggleViewAction().setEnabled(compute is not None)
        if compute is None and not self.compute_pane.isHidden():
            self.compute_pane.hide()
            self._compute_hidden_for_kind = True
        elif compute is not None and self._compute_hidden_for_kind:
            self.compute_pane.show()
            self._compute_hidden_for_kind = False
        self.act_sample.setEnabled(compute is not None)
        self.act_sample.setVisible(compute is not None)  # absent, not greyed: nothing says why it would be grey
        self.experiment_pane.sample_button.setVisible(compute is not None)

    def _show_workspaces(self) -> None:
        self.workspace_pane.set_workspaces(
            self.kinds,
            self.default_location(),
            self.settings.recent_workspaces(),
            self.location,
            pinned=self.settings.pinned_workspaces(),
        )

    def pin_workspace(self, location: str, pinned: bool) -> None:
        """Pin or unpin a workspace in the Workspaces pane (kept in the window's settings)."""
        self.settings.set_pinned(location, pinned)
        self._show_workspaces()

    def remove_recent(self, location: str) -> None:
        """Forget a recent workspace ("Remove from list"); its folder is left alone, a server's password is forgotten."""
        self.settings.remove_recent(location)
        self._show_workspaces()
        if self._keeps_password(location):
            self.forget_password(location, quiet=True)

    def forget_password(self, location: str, quiet: bool = False) -> None:
        """Delete the password or token kept for a server, on a worker (the keyring can be slow or ask to unlock)."""
        name = self._name_of(location)

        def forgotten(_none: None) -> None:
            if not quiet:
                self.notifier.info(f"Studio keeps no password for {name} any more.")

        self.runner.submit(
            forget_credentials,
            location,
            success=forgotten,
            failure=lambda exc: self.notifier.error(exc, context=f"Forgetting the password of {name}"),
            label=f"Forgetting the password of {name}",
        )

    def add_server(self) -> AddServerDialog:
        """Add server…: ask for an MLflow server's URL and sign-in, then keep the sign-in and open it."""
        dialog = AddServerDialog(self)
        dialog.accepted.connect(lambda: self.add_server_location(dialog.location(), dialog.credentials()))
        dialog.finished.connect(lambda _code: dialog.deleteLater())
        dialog.open()
        return dialog

    def sign_in(self, location: str) -> AddServerDialog:
        """Sign in…: the Add server dialog on a server's URL; the new sign-in replaces the saved one, then it opens.

        Choosing no authentication there forgets the saved one (it was refused), so that the opener
        falls back on MLflow's environment variables.
        """
        dialog = AddServerDialog(self, sign_in=location)
        dialog.accepted.connect(
            lambda: self.add_server_location(dialog.location(), dialog.credentials(), forget_if_none=True)
        )
        dialog.finished.connect(lambda _code: dialog.deleteLater())
        dialog.open()
        return dialog

    def add_server_location(
        self, location: str, credentials: ServerCredentials | None, forget_if_none: bool = False
    ) -> None:
        """The second half of Add server…: save the credentials in the keyring (on a worker), then open the server.

        Without credentials nothing is saved (nor forgotten, unless ``forget_if_none``: the opener may
        still find a password kept before, or MLflow's environment variables).
        """
        name = self._name_of(location)
        if credentials is None and not forget_if_none:
            self.open_workspace(location)
            return
        doing = f"{'Saving' if credentials else 'Forgetting'} the password of {name}"

        def not_kept(exc: BaseException) -> None:
            self.notifier.error(exc, context=doing)
            retry = lambda: self.add_server_location(location, credentials, forget_if_none)  # noqa: E731
            self._show_failure("open", f"Could not open {name}", exc, location, retry)

        self.experiment_pane.show_busy(f"Opening {name}…")
        self._opening = location
        if credentials is None:
            self.runner.submit(
                forget_credentials,
                location,
                success=lambda _none: self.open_workspace(location),
                failure=not_kept,
                label=doing,
            )
            return
        self.runner.submit(
            save_credentials,
            location,
            credentials,
            success=lambda _none: self.open_workspace(location),
            failure=not_kept,
            label=doing,
        )

    def _keeps_password(self, location: str) -> bool:
        try:
            return pick_opener(self.kinds, location).kind in KEEPS_PASSWORDS
        except StudioError:
            return False

    def _name_of(self, location: str) -> str:
        try:
            return pick_opener(self.kinds, location).display_name(location)
        except StudioError:
            return location

    def _kind_action(self, kind: str, action_id: str) -> None:
        """One of a kind's actions in the Workspaces pane (the ids are in ui/workspaces/kind_actions.py)."""
        handlers = {NEW_FOLDER: self.new_workspace, OPEN_FOLDER: self.open_folder, ADD_SERVER: self.add_server}
        handler = handlers.get(action_id)
        if handler is None:
            self.notifier.info(f"{action_id!r} ({kind}) is not available in this version.")
            return
        handler()

    def default_location(self) -> str:
        """The default workspace's location (the first kind that has one: the local kind)."""
        for opener in self.kinds:
            if (location := opener.default_location()) is not None:
                return location
        return ""

    def new_workspace(self) -> None:
        """Create a workspace in a folder the user picks (an empty or new folder)."""
        folder = QFileDialog.getExistingDirectory(self, "New workspace: choose an empty folder")
        if folder:
            self.open_workspace(folder, create=True)

    def open_folder(self) -> None:
        """Open a folder; if it is not a workspace yet, ask before making one there."""
        folder = QFileDialog.getExistingDirectory(self, "Open workspace folder")
        if folder:
            self.open_folder_path(folder)

    def open_folder_path(self, folder: str) -> None:
        """The second half of Open folder…, separate so tests can drive it."""
        opener = pick_opener(self.kinds, folder)
        self.runner.submit(
            opener.is_workspace,
            folder,
            success=lambda is_ws: self._open_or_ask(folder, bool(is_ws)),
            label="Checking folder",
        )

    def _open_or_ask(self, folder: str, is_workspace: bool) -> None:
        if is_workspace or self.confirm(
            "Make a workspace?", f"{folder} is not a Studio workspace.\n\nCreate a new workspace in this folder?"
        ):
            self.open_workspace(folder, create=not is_workspace)

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (tests replace this)."""
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes


def _open_and_describe(opener: WorkspaceOpener, location: str, create: bool) -> tuple[WorkspaceBackend, WorkspaceInfo]:
    """On a worker: open the workspace and ask what it can do (``info()``), so the window shows only that."""
    backend = opener.open(location, create)
    try:
        return backend, backend.info()
    except BaseException:
        backend.close()  # not shown, so not kept open
        raise
