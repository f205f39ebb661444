"""The Overview tab of a run: what it is, how it went, and Cancel / Copy ID."""

from __future__ import annotations

import html
import json
import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricInfo, RunInfo
from studio.ui.background.notifier import sentence
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs import job_rows
from studio.ui.runs.job_rows import STUDIO_ACTION
from studio.ui.shell.status_style import STATUS_COLOURS, format_duration, status_label

FIELDS = (
    "Status", "Type", "Experiment", "Parent run", "Compute", "Environment", "Command", "Script", "Arguments",
    "Inputs", "Outputs", "Services", "Objective", "Sampling", "Limits", "Steps", "Task", "Created by", "Created",
    "Started", "Ended", "Duration", "Tags", "Params", "Properties", "Description", "Metrics", "Error",
)  # fmt: skip
"""The Overview's rows, in order; a row with nothing to say for this run is hidden."""


def open_web_page(url: str) -> bool:
    """Open a web address in the system's browser (nothing else: a service's endpoint may be any URI)."""
    if not url.startswith(job_rows.WEB_SCHEMES):
        return False
    return QDesktopServices.openUrl(QUrl(url))


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
        self.studio_url: str | None = None
        """The run's page in its service's web studio (an Azure ML job's), once loaded; None otherwise."""
        self._loading = TaskSlot(runner, success=self._show, failure=self._failed, owner=self)
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.title = QLabel(run_id, self)
        self.title.setObjectName("runTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long job name is cut at the buttons (its tooltip holds it whole) rather than widen the window.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
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
        self.studio_button = QPushButton(STUDIO_ACTION, self)
        self.studio_button.setObjectName("openInStudio")
        self.studio_button.setToolTip("Open this job's page in the web studio of its workspace")
        self.studio_button.clicked.connect(self.open_in_studio)
        self.studio_button.hide()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.studio_button)
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
        for name in FIELDS:
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
        services = self.fields["Services"]
        services.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        services.linkActivated.connect(open_web_page)
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

    def open_in_studio(self) -> None:
        """Open the run's page in the web studio (the system's browser)."""
        if self.studio_url:
            open_web_page(self.studio_url)

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
        self.title.setToolTip(f"{run.display_name or run.id}\n{run.id}")
        recorded_only = details.get("runType") in job_rows.RECORDED  # logged to a server by a script, not run by it
        has_command = job_rows.command(details) is not None
        arguments = " ".join(map(str, details.get("arguments") or []))
        created = details.get("createdAt")
        error = run.error or job_rows.service_error(details) or {}
        rows: dict[str, str | None] = {
            "Status": f"<b style='color:{colour}'>● {html.escape(status_label(run.status))}</b>{reason}",
            "Type": job_rows.run_type(details),
            "Experiment": html.escape(run.experiment),
            "Parent run": html.escape(run.parent_id or "—"),
            "Compute": None if recorded_only else html.escape(str(details.get("target") or "local (inline run)")),
            "Environment": None if recorded_only else job_rows.environment(details) or "default",
            "Command": job_rows.command(details),
            "Script": None if has_command else html.escape(str(details.get("script") or "—")),
            "Arguments": None if recorded_only or has_command else html.escape(arguments) or "—",
            "Inputs": job_rows.uris(details.get("inputs")),
            "Outputs": job_rows.uris(details.get("outputs")),
            "Services": job_rows.services(details),
            **job_rows.sweep(details),
            "Created by": job_rows.created_by(details),
            "Created": _when(created if isinstance(created, int | float) and created else run.created_at),
            "Started": _when(run.started_at),
            "Ended": _when(run.ended_at),
            "Tags": html.escape(", ".join(f"{k}={v}" if v else k for k, v in run.tags.items())) or "—",
            "Params": html.escape(", ".join(f"{k}={v}" for k, v in run.params.items())) or None,
            "Properties": job_rows.job_properties(run.properties, details) or (None if recorded_only else "—"),
            "Description": html.escape(run.description) or "—",
            "Metrics": _metrics_summary(metrics),
            "Error": (
                f"<pre style='color:#d9363e; white-space:pre-wrap'>{html.escape(_error_text(error))}</pre>"
                if error
                else None
                if recorded_only
                else "—"
            ),
        }
        for name, label in self.fields.items():
            text = rows.get(name, label.text())
            if name in rows:
                label.setText(text or "")
            self.form.setRowVisible(label, text is not None)
        env = details.get("environment")
        self.fields["Environment"].setToolTip(env if isinstance(env, str) else "")
        self.fields["Services"].setToolTip(job_rows.services_tooltip(details))
        self.studio_url = job_rows.studio_url(details)
        self.studio_button.setVisible(self.studio_url is not None)
        self.cancel_button.setVisible(self.can_cancel and run.status.is_active)
        self._tick()
        self.sig_loaded.emit(run)

    def _tick(self) -> None:
        run = self.run
        if run is None:
            return
        end = run.ended_at or (time.time() if run.status.is_active else None)
        span = None if run.started_at is None or end is None else end - run.started_at
        self.fields["Duration"].setText(format_duration(span) or "—")


def _error_text(error: dict[str, Any]) -> str:
    """The error's message, after the service's code of it when it gave one ("UserError: …")."""
    message = str(error.get("message", ""))
    code = error.get("code")
    return f"{code}: {message}" if code and not message.startswith(str(code)) else message


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
