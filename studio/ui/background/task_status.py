"""The status bar's view of background work: the running task, its progress, a Cancel button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from studio.ui.background.tasks import Task, TaskRunner


class TaskStatus(QWidget):
    """Shows the newest labelled task (and how many more run); hidden when none runs."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskStatus")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        self.label.setObjectName("taskLabel")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("taskProgress")
        self.progress.setMaximumWidth(140)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setObjectName("taskCancel")
        self.cancel.setFlat(True)
        self.cancel.clicked.connect(self._cancel_current)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel)
        self._runner = runner
        self._current: Task | None = None
        runner.sig_task_started.connect(self._update)
        runner.sig_task_ended.connect(self._update)
        self._update()

    def _update(self, *_: object) -> None:
        running = self._runner.running()
        if not running:
            self._current = None
            self.hide()
            return
        task = running[-1]
        if task is not self._current:
            if self._current is not None:
                try:
                    self._current.sig_progress.disconnect(self._on_progress)
                except (RuntimeError, TypeError):
                    pass
            self._current = task
            task.sig_progress.connect(self._on_progress)
            self._on_progress(*task.progress)
        more = f"  (+{len(running) - 1} more)" if len(running) > 1 else ""
        self.label.setText(f"{task.label}…{more}")
        self.cancel.setVisible(task.cancellable)
        self.show()

    def _on_progress(self, done: int, total: int) -> None:
        if total <= 0:
            self.progress.setRange(0, 0)  # busy indicator
            return
        scale = max(1, total // 1_000_000)  # QProgressBar takes ints
        self.progress.setRange(0, total // scale)
        self.progress.setValue(done // scale)

    def _cancel_current(self) -> None:
        if self._current is not None:
            self._current.cancel()
