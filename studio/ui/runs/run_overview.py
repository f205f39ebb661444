"""The Overview tab of a run: what it is, how it went, and Cancel / Copy ID."""

from __future__ import annotations

import html
import json
import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricInfo, RunInfo
from studio.ui.background.notifier import sentence
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.shell.status_style import STATUS_COLOURS, format_duration


def load_overview(backend: WorkspaceBackend, run_id: str) -> tuple[RunInfo, dict[str, Any], list[MetricInfo]]:
    """The run, its details and its metrics (worker thread)."""
    return backend.get_run(run_id), backend.get_run_details(run_id), backend.list_metrics(run_id)


def save_metadata(backend: WorkspaceBackend, run_id: str, name: str, description: str, tags: dict[str, str]) -> RunInfo:
    """Store a run's display name, description and tags (worker thread)."""
    return backend.set_run_metadata(run_id, display_name=name, description=description, tags=tags)


class RunOverview(QWidget):
    """Loads a run's record, details and metric summary in the background and shows them."""

    sig_loaded = Signal(object)
    """The run was (re)loaded (its RunInfo)."""
    sig_cancel_requested = Signal(str)
    """The user pressed Cancel for this run id."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        parent: QWidget | None = None,
        can_cancel: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("runOverview")
        self.backend, self.runner, self.run_id = backend, runner, run_id
        self.can_cancel = can_cancel
        """False for a kind that cannot cancel runs (an MLflow server): the Cancel button never shows."""
        self.run: RunInfo | None = None
        self._loading = TaskSlot(runner, success=self._show, failure=self._failed, owner=self)
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.title = QLabel(run_id, self)
        self.title.setObjectName("runTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel run", self)
        self.cancel_button.setObjectName("cancelRun")
        self.cancel_button.clicked.connect(lambda: self.sig_cancel_requested.emit(self.run_id))
        self.cancel_button.hide()
        self.edit_button = QPushButton("Edit…", self)
        self.edit_button.setObjectName("editRun")
        self.edit_button.clicked.connect(self.edit)
        copy = QPushButton("Copy ID", self)
        copy.setObjectName("copyRunId")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.run_id))
        bar.addWidget(self.title, 1)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.edit_button)
        bar.addWidget(copy)
        outer.addLayout(bar)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        body = QWidget(scroll)
        self.form = QFormLayout(body)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields: dict[str, QLabel] = {}
        for name in (
            "Status", "Experiment", "Parent run", "Compute", "Script", "Arguments", "Environment", "User",
            "Created", "Started", "Ended", "Duration", "Tags", "Params", "Properties", "Description", "Metrics",
            "Error",
        ):  # fmt: skip
            label = QLabel("…", body)
            label.setObjectName(f"field:{name}")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[name] = label
            self.form.addRow(f"{name}:", label)
        self.fields["Status"].setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.fields["Status"].linkActivated.connect(self._retry)  # "Retry" after a failure
        scroll.setWidget(body)
        outer.addWidget(scroll)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start()
        self.reload()

    def reload(self) -> None:
        """Fetch the run again (live refresh calls this when it changed)."""
        self._loading.request(load_overview, self.backend, self.run_id)

    def edit(self) -> None:
        """Edit the display name, description and tags (saved in the background)."""
        if self.run is None:
            return
        from studio.ui.runs.edit_run_dialog import EditRunDialog

        dialog = EditRunDialog(self.run, self)
        dialog.finished.connect(lambda _code: self.save_edit(dialog.result_values))
        dialog.open()

    def save_edit(self, values: tuple[str, str, dict[str, str]] | None) -> None:
        """Store edited values (None: the dialog was cancelled)."""
        if values is None:
            return
        name, description, tags = values
        self.runner.submit(
            save_metadata,
            self.backend,
            self.run_id,
            name,
            description,
            tags,
            success=lambda _run: self.reload(),
            label="Saving the run's details",
            owner=self,
        )

    def _retry(self, _link: str) -> None:
        self.reload()

    def _failed(self, exc: BaseException) -> None:
        if self.run is None:  # nothing known yet: the sentence alone, not a form full of "…"
            for name, label in self.fields.items():
                self.form.setRowVisible(label, name == "Status")
        self.fields["Status"].setText(
            f"<span style='color:#d9363e'>Could not load this run: {html.escape(sentence(exc))}</span>"
            " &nbsp;<a href='retry'>Retry</a> <small>(F5)</small>"
        )

    def _show(self, loaded: tuple[RunInfo, dict[str, Any], list[MetricInfo]]) -> None:
        run, details, metrics = loaded
        self.run = run
        colour = STATUS_COLOURS[run.status]
        first_line = run.status_reason.splitlines()[0] if run.status_reason else ""
        short = first_line if len(first_line) <= 100 else first_line[:99] + "…"
        reason = f" — {html.escape(short)}" if short else ""
        self.fields["Status"].setToolTip(run.status_reason)
        self.title.setText(f"<b>{html.escape(run.display_name or run.id)}</b> &nbsp; <small>{run.id}</small>")
        f = self.fields
        f["Status"].setText(f"<b style='color:{colour}'>● {run.status.value}</b>{reason}")
        f["Experiment"].setText(html.escape(run.experiment))
        f["Parent run"].setText(run.parent_id or "—")
        f["Compute"].setText(str(details.get("target") or "local (inline run)"))
        f["Script"].setText(str(details.get("script") or "—"))
        f["Arguments"].setText(" ".join(map(str, details.get("arguments") or [])) or "—")
        env = details.get("environment")
        f["Environment"].setText(str(env.get("name")) if isinstance(env, dict) else "default")
        f["Created"].setText(_when(run.created_at))
        f["Started"].setText(_when(run.started_at))
        f["Ended"].setText(_when(run.ended_at))
        f["Tags"].setText(", ".join(f"{k}={v}" if v else k for k, v in run.tags.items()) or "—")
        f["Properties"].setText(", ".join(f"{k}={v}" for k, v in run.properties.items()) or "—")
        f["Params"].setText(html.escape(", ".join(f"{k}={v}" for k, v in run.params.items())) or "—")
        f["User"].setText(html.escape(str(details.get("user") or "")) or "—")
        f["Description"].setText(html.escape(run.description) or "—")
        f["Metrics"].setText(_metrics_summary(metrics))
        error = run.error or {}
        f["Error"].setText(
            f"<pre style='color:#d9363e; white-space:pre-wrap'>{html.escape(str(error.get('message', '')))}</pre>"
            if error
            else "—"
        )
        self._show_rows_that_apply(run, details)
        self.cancel_button.setVisible(self.can_cancel and run.status.is_active)
        self._tick()
        self.sig_loaded.emit(run)

    def _show_rows_that_apply(self, run: RunInfo, details: dict[str, Any]) -> None:
        """Rows a run of this kind can fill: an MLflow run has params and a user, but no compute or properties."""
        for label in self.fields.values():
            self.form.setRowVisible(label, True)  # those a failure hid come back
        recorded_only = details.get("runType") == "mlflow"  # a run a script logged to a server, not one it ran
        hidden = {
            "Compute": recorded_only,
            "Arguments": recorded_only,
            "Environment": recorded_only,
            "Properties": recorded_only and not run.properties,
            "Error": recorded_only and run.error is None,
            "Params": not run.params,
            "User": not details.get("user"),
        }
        for name, hide in hidden.items():
            self.form.setRowVisible(self.fields[name], not hide)

    def _tick(self) -> None:
        run = self.run
        if run is None:
            return
        end = run.ended_at or (time.time() if run.status.is_active else None)
        span = None if run.started_at is None or end is None else end - run.started_at
        self.fields["Duration"].setText(format_duration(span) or "—")


def _when(t: float | None) -> str:
    return "—" if not t else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _metrics_summary(metrics: list[MetricInfo]) -> str:
    if not metrics:
        return "—"
    parts = []
    for m in metrics[:30]:
        last = m.last_value
        text = last if isinstance(last, str) else json.dumps(last)
        shown = f"{last:.4g}" if isinstance(last, float) else text if len(text) <= 40 else text[:39] + "…"
        parts.append(f"{html.escape(m.name)} <small>({m.kind.value}, {m.count:,})</small> = {html.escape(shown)}")
    more = f"<br>… and {len(metrics) - 30} more" if len(metrics) > 30 else ""
    return "<br>".join(parts) + more
