"""The "Outputs + logs" and "Snapshot" tabs: a run's files as folders, a preview, and downloads."""

from __future__ import annotations

import bisect
import html
import time
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets as qw
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeView, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo, RunInfo
from studio.ui.background.notifier import sentence
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import Task, TaskRunner, TaskState
from studio.ui.previews.base import human_size
from studio.ui.previews.host import PreviewHost
from studio.ui.previews.text_preview import TextPreview
from studio.ui.runs.tabs.base import RunTab

_PATH = Qt.ItemDataRole.UserRole
LOG_FOLDERS = ("logs/", "user_logs/", "azureml-logs/")
PROGRESS_EVERY_S = 0.1
PROGRESS_STEP = 0.01
"""Downloads report progress to the GUI thread at most every 0.1 s or 1 % (and at the start and end)."""


def throttled(report: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A progress callback that passes on only a few reports: 1,000 small files are not 1,000 repaints."""
    last = [-1.0, 0]  # when, done

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last[0] >= PROGRESS_EVERY_S or done - last[1] >= total * PROGRESS_STEP:
            last[0], last[1] = now, done
            report(done, total)

    return progress


def download(
    state: TaskState,
    backend: WorkspaceBackend,
    run_id: str,
    paths: list[str],
    destination: Path,
    strip_prefix: str,
    overwrite: bool,
) -> list[Path]:
    """Download files with throttled progress, stopping when cancelled (worker thread)."""
    return backend.download_files(
        run_id, paths, destination, strip_prefix=strip_prefix, overwrite=overwrite,
        progress=throttled(state.set_progress), cancel=state.cancel,
    )  # fmt: skip


class FileTreeModel(QStandardItemModel):
    """Files as a folder tree (Name, Size) updated in place, so selection and expansion survive refreshes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Name", "Size"])
        self.files: dict[str, FileInfo] = {}
        self._items: dict[str, QStandardItem] = {}  # file paths and "folder/" paths
        # Each folder's children's sort keys, in row order.
        self._keys: dict[str, list[tuple[bool, str]]] = {}

    def update(self, files: list[FileInfo]) -> None:
        """Show exactly these files: add new ones, drop gone ones, update sizes."""
        wanted = {f.path: f for f in files}
        for path in sorted(set(self.files) - set(wanted), reverse=True):
            self._remove(path)
        for path, info in wanted.items():
            item = self._items.get(path)
            if item is None:
                self._add(info)
            elif info.size != self.files[path].size:
                self._size_item(item).setText(human_size(info.size))
            self.files[path] = info

    def path_of(self, index: QModelIndex) -> str:
        """The file path, or ``folder/`` for a folder, of a row."""
        return str(self.itemFromIndex(index.siblingAtColumn(0)).data(_PATH) or "")

    def index_of(self, path: str) -> QModelIndex:
        """The index of a file or ``folder/`` (invalid if unknown)."""
        item = self._items.get(path)
        return item.index() if item is not None else QModelIndex()

    def _size_item(self, item: QStandardItem) -> QStandardItem:
        parent = item.parent() or self.invisibleRootItem()
        return parent.child(item.row(), 1)

    def _folder(self, folder: str) -> QStandardItem:
        if not folder:
            return self.invisibleRootItem()
        item = self._items.get(folder)
        if item is None:
            parent_folder, _, name = folder[:-1].rpartition("/")
            parent_path = f"{parent_folder}/" if parent_folder else ""
            item = self._insert(self._folder(parent_path), parent_path, name, folder, "", folder=True)
        return item

    def _add(self, info: FileInfo) -> None:
        folder, _, name = info.path.rpartition("/")
        folder_path = f"{folder}/" if folder else ""
        self._insert(self._folder(folder_path), folder_path, name, info.path, human_size(info.size), folder=False)

    def _insert(
        self, parent: QStandardItem, parent_path: str, name: str, path: str, size: str, folder: bool
    ) -> QStandardItem:
        key = (not folder, name.lower())
        keys = self._keys.setdefault(parent_path, [])
        # Folders first, then by name; a bisect, not a scan, so 1,000 files list at once.
        row = bisect.bisect_right(keys, key)
        keys.insert(row, key)
        item = QStandardItem(name)
        item.setData(path, _PATH)
        item.setEditable(False)
        item.setToolTip(path)
        size_item = QStandardItem(size)
        size_item.setEditable(False)
        size_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        parent.insertRow(row, [item, size_item])
        self._items[path] = item
        return item

    def _remove(self, path: str) -> None:
        item = self._items.pop(path)
        self.files.pop(path, None)
        self._keys.pop(path, None)
        parent = item.parent() or self.invisibleRootItem()
        folder = path.rstrip("/").rpartition("/")[0]
        del self._keys[f"{folder}/" if folder else ""][item.row()]
        parent.removeRow(item.row())
        if folder and parent.rowCount() == 0 and parent is not self.invisibleRootItem():
            self._remove(f"{folder}/")


class FilesTab(RunTab):
    """A run's files under (or outside) a prefix, with previews and downloads."""

    title = "Files"
    prefix = exclude_prefix = strip_prefix = ""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(backend, runner, run_id, parent)
        self.setObjectName(f"filesTab:{self.title}")
        self.run: RunInfo | None = None
        self.last_download: Task | None = None
        self._listing = TaskSlot(runner, success=self._files_arrived, failure=self._listing_failed, owner=self)
        self.model = FileTreeModel(self)
        self.tree = QTreeView(self)
        self.tree.setObjectName("runFiles")
        self.tree.setModel(self.model)
        self.tree.setSelectionMode(qw.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, qw.QHeaderView.ResizeMode.Stretch)
        self.tree.selectionModel().currentRowChanged.connect(self._current_changed)
        self.preview = PreviewHost(backend, runner, run_id, self)
        self.preview.sig_preview_shown.connect(self._preview_shown)
        self.status = QLabel("Loading files…", self)
        self.status.setObjectName("filesStatus")
        self.status.setWordWrap(True)  # a failure's sentence is long; the pane may be narrow
        self.status.linkActivated.connect(self._retry)  # "Retry" after a failure
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 1)
        buttons = QHBoxLayout()
        for name, text, slot in (
            ("downloadSelected", "Download selected…", self.download_selected),
            ("downloadAll", "Download all…", self.download_all),
        ):
            button = QPushButton(text, self)
            button.setObjectName(name)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.status)
        splitter = qw.QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([280, 720])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def include(self, path: str) -> bool:
        """Whether this tab lists a file."""
        return path.startswith(self.prefix) and not (self.exclude_prefix and path.startswith(self.exclude_prefix))

    def load(self) -> None:
        """List the run's files in the background."""
        self.refresh()

    def run_known(self, run: RunInfo) -> None:
        """Keep the run's status: a log previewed while it runs is followed; once it ended, following stops."""
        self.run = run
        preview = self.preview.preview
        if run.status.is_terminal and isinstance(preview, TextPreview) and preview.following:
            preview.finish_following()  # its last lines, then no more reads

    def run_changed(self, run: RunInfo) -> None:
        """New files or a grown log: list again (selection, expansion and a followed log stay)."""
        self.run_known(run)
        self.refresh()

    def refresh(self) -> None:
        """List the files again (once at a time; a request meanwhile lists once more afterwards)."""
        self._listing.request(self.backend.list_files, self.run_id, self.prefix)

    def _retry(self, _link: str) -> None:
        self.refresh()

    def _listing_failed(self, exc: BaseException) -> None:
        self._say(
            f"<span style='color:#d9363e'>Could not list the files: {html.escape(sentence(exc))}</span>"
            " <a href='retry'>Retry</a> <small>(F5)</small>",
            rich=True,
        )

    def _say(self, text: str, rich: bool = False) -> None:
        """Put a line under the files (plain text unless ``rich``: file names are not markup)."""
        self.status.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        self.status.setText(text)

    def _files_arrived(self, files: list[FileInfo]) -> None:
        self.model.update([f for f in files if self.include(f.path)])
        total = sum(f.size for f in self.model.files.values())
        self._say(f"{len(self.model.files):,} files · {human_size(total)}")
        shown = self.preview.file
        if shown is not None and shown.path in self.model.files:
            self.preview.file_changed(self.model.files[shown.path])

    def select(self, path: str) -> None:
        """Select and preview one file (or folder)."""
        index = self.model.index_of(path)
        if index.isValid():
            self.tree.scrollTo(index)
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.tree.selectionModel().setCurrentIndex(index, flags)

    def selected_paths(self) -> list[str]:
        """Files selected, folders standing for every file under them."""
        chosen: set[str] = set()
        for index in self.tree.selectionModel().selectedRows(0):
            path = self.model.path_of(index)
            chosen.update(p for p in self.model.files if p == path or (path.endswith("/") and p.startswith(path)))
        return sorted(chosen)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        path = self.model.path_of(current) if current.isValid() else ""
        info = self.model.files.get(path)
        if info is None and path.endswith("/"):
            return  # a folder: keep the preview
        if info is None or self.preview.file is None or self.preview.file.path != info.path:
            self.preview.show_file(info)

    def _preview_shown(self, preview: object) -> None:
        active = self.run is not None and self.run.status.is_active
        if isinstance(preview, TextPreview) and active and preview.file.path.startswith(LOG_FOLDERS):
            preview.set_following(True)

    def download_selected(self) -> None:
        """Ask for a folder and download the selected files into it."""
        self.download_all(self.selected_paths())

    def download_all(self, paths: list[str] | None = None) -> None:
        """Ask for a folder and download every file of the tab (or ``paths``) into it."""
        paths = sorted(self.model.files) if paths is None else paths
        if not paths:
            self._say("Select files or folders to download.")
            return
        folder = qw.QFileDialog.getExistingDirectory(self, f"Download {len(paths)} files to")
        if folder:
            self.download_to(paths, folder)

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (tests replace this)."""
        answer = qw.QMessageBox.question(self, title, text)
        return answer == qw.QMessageBox.StandardButton.Yes

    def download_to(self, paths: list[str], folder: str | Path, overwrite: bool = False) -> Task:
        """Download files into ``folder`` in the background.

        If some already exist, nothing is written and the user is asked whether to replace
        them; the download then starts again. (Checking for them here would stat every target
        on the GUI thread.)
        """
        count = f"{len(paths):,} file{'s' if len(paths) != 1 else ''}"
        task = self.runner.submit(
            download,
            self.backend,
            self.run_id,
            paths,
            Path(folder),
            self.strip_prefix,
            overwrite,
            success=lambda _paths: self._say(f"Downloaded {count} to {folder}."),
            failure=lambda exc: self._download_failed(exc, paths, folder, overwrite),
            label=f"Downloading {count}",
            cancellable=True,
            with_state=True,
            owner=self,
        )
        self._say(f"Downloading {count}…")
        self.last_download = task
        return task

    def _download_failed(self, exc: BaseException, paths: list[str], folder: str | Path, overwrite: bool) -> None:
        if isinstance(exc, FileExistsError) and not overwrite:
            if self.confirm("Replace files?", f"{exc}. Replace the files that exist?"):
                self.download_to(paths, folder, overwrite=True)
            else:
                self._say("Download cancelled: nothing was replaced.")
            return
        self._say(f"Download stopped: {sentence(exc)}")


class OutputsTab(FilesTab):
    """Everything but the snapshot: outputs, logs, images, ..."""

    title = "Outputs + logs"
    exclude_prefix = "snapshot/"


class SnapshotTab(FilesTab):
    """The source files the run was started from (downloads drop the ``snapshot/`` folder)."""

    title = "Snapshot"
    prefix = "snapshot/"
    strip_prefix = "snapshot/"
