"""Run: one execution of an experiment, with its lifecycle, details, tags and children."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import RunStateError, StudioError
from studio.core.status import RunStatus
from studio.core.studio_links import run_link
from studio.core.tracking import RunMetricWriter, SeriesBuffer
from studio.core.validation import check_metric_name, check_run_id
from studio.sdk import context, process_runs
from studio.sdk.offline import OfflineRun
from studio.sdk.run_files import RunFilesMixin
from studio.sdk.run_logging import RunLoggingMixin
from studio.sdk.run_wait import wait_for_run

if TYPE_CHECKING:
    from studio.sdk.experiment import Experiment

RUN_ID_ENV = context.RUN_ID_ENV
WORKSPACE_ENV = context.WORKSPACE_ENV
EXPERIMENT_ENV = "STUDIO_EXPERIMENT"
_LOG_DIRS = ("logs/", "user_logs/", "azureml-logs/", "system_logs/")


class Run(RunLoggingMixin, RunFilesMixin):
    """A run of an experiment: ``Run(experiment, run_id)`` opens an existing one."""

    _context: Run | OfflineRun | None = None

    def __init__(self, experiment: Experiment, run_id: str, **_ignored: Any) -> None:
        self.experiment = experiment
        self._ws = experiment.workspace
        self._tracking = self._ws.tracking
        self.id = check_run_id(run_id)
        self._writer: RunMetricWriter = self._tracking.metric_writer(self.id)  # NotFoundError for unknown runs
        self._series: dict[str, SeriesBuffer] = {}
        self._outputs: Path | None = None
        process_runs.live_runs.add(self)

    # -- creation -----------------------------------------------------------------------------

    @classmethod
    def _start(
        cls,
        experiment: Experiment,
        *,
        display_name: str | None = None,
        parent: Run | None = None,
        outputs: str | os.PathLike[str] | None = None,
        snapshot_directory: str | os.PathLike[str] | None = None,
    ) -> Run:
        run_id = experiment.workspace.tracking.start_run(
            experiment.name, parent_id=parent.id if parent else None, display_name=display_name
        )
        run = cls(experiment, run_id)
        run._outputs = Path(outputs).absolute() if outputs is not None else None
        process_runs.track(run)
        process_runs.install_sigterm_handler()
        if snapshot_directory is not None:
            run.upload_folder("snapshot", snapshot_directory)
        return run

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_ignored: Any) -> Run | OfflineRun:
        """The run of the submitted job this script runs in; elsewhere an offline run (or an error)."""
        if cls._context is not None:
            return cls._context
        run_id = os.environ.get(RUN_ID_ENV)
        if run_id:
            cls._context = context.job_run(run_id)
            process_runs.install_sigterm_handler()  # a canceled job still writes its last points
        elif allow_offline:
            cls._context = OfflineRun()
        else:
            raise StudioError(
                "Run.get_context(allow_offline=False): this script was not started as a job, so it has no run."
            )
        return cls._context

    def child_run(self, name: str | None = None, **_ignored: Any) -> Run:
        """Start a Running child run (``name`` becomes its display name)."""
        return Run._start(self.experiment, display_name=name, parent=self)

    # -- state --------------------------------------------------------------------------------

    def get_status(self) -> str:
        """The run's status name, e.g. "Running" or "Completed"."""
        return self._ws.backend.get_run(self.id).status.value

    @property
    def status(self) -> str:
        """Same as get_status()."""
        return self.get_status()

    def flush(self) -> None:
        """Write every buffered metric now."""
        self._writer.flush()

    def complete(self, **_ignored: Any) -> None:
        """Flush, upload the tracked outputs folder and mark the run Completed."""
        self.flush()
        if self._outputs is not None and self._outputs.is_dir():
            existing = set(self.get_file_names())
            for path in sorted(p for p in self._outputs.rglob("*") if p.is_file()):
                name = f"outputs/{path.relative_to(self._outputs).as_posix()}"
                if name not in existing:
                    self.upload_file(name, path)
        self._finish(RunStatus.COMPLETED)

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _traceback: str | None = None, **_: Any
    ) -> None:
        """Flush and mark the run Failed, recording ``error_details`` (a message or an exception)."""
        self.flush()
        error: dict[str, Any] = {"message": str(error_details) if error_details is not None else "The run failed."}
        if isinstance(error_details, BaseException):
            error["code"] = error_code or type(error_details).__name__
        elif error_code:
            error["code"] = error_code
        if _traceback:
            error["traceback"] = _traceback
        self._finish(RunStatus.FAILED, error=error, reason=error["message"])

    def cancel(self) -> None:
        """Cancel the run: a queued job at once, a running job through its compute, an inline run now.

        A run that has already ended stays as it ended (no error: it may have ended a moment ago).
        """
        self.flush()
        if self._ws.backend.get_run_details(self.id).get("runType") == "script":
            try:
                self._ws.backend.cancel_run(self.id)
            except RunStateError:
                if not self._ws.backend.get_run(self.id).status.is_terminal:
                    raise
            return
        self._finish(RunStatus.CANCELED, reason="Canceled by the user.")

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
        timeout: float | None = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        """Wait until the run ends and return its details; ``show_output`` streams its log here.

        Raises StudioError if it failed (unless ``raise_on_error`` is False) and TimeoutError
        after ``timeout`` seconds.
        """
        wait_for_run(self._ws.backend, self.id, show_output=show_output, raise_on_error=raise_on_error, timeout=timeout)
        return self.get_details()

    def get_all_logs(self, destination: str | os.PathLike[str] | None = None, **_ignored: Any) -> list[str]:
        """Download the run's log files into ``destination`` (default: here); returns their paths."""
        names = self._log_file_names()
        out = Path(destination) if destination is not None else Path.cwd()
        return [str(p) for p in self._ws.backend.download_files(self.id, names, out, overwrite=True)]

    def _finish(self, status: RunStatus, error: dict[str, Any] | None = None, reason: str = "") -> None:
        self._tracking.end_run(self.id, status, error=error, reason=reason)
        process_runs.untrack(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        process_runs.finish(self, exc)

    # -- metadata -----------------------------------------------------------------------------

    @property
    def display_name(self) -> str:
        """The run's display name (settable)."""
        return self._ws.backend.get_run(self.id).display_name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._set_text("display_name", value)

    @property
    def description(self) -> str:
        """The run's description (settable)."""
        return self._ws.backend.get_run(self.id).description

    @description.setter
    def description(self, value: str) -> None:
        self._set_text("description", value)

    def _set_text(self, column: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{column} must be a string, not {type(value).__name__}")
        if column == "display_name":
            self._ws.backend.set_run_metadata(self.id, display_name=value)
        else:
            self._ws.backend.set_run_metadata(self.id, description=value)

    @property
    def parent(self) -> Run | None:
        """The parent run, or None."""
        parent_id = self._ws.backend.get_run(self.id).parent_id
        return Run(self.experiment, parent_id) if parent_id else None

    def tag(self, key: str, value: Any = None) -> None:
        """Set one tag (a tag without a value has the value "")."""
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set several tags at once."""
        self._tracking.add_tags(self.id, _clean_pairs(tags))

    def get_tags(self) -> dict[str, str]:
        """The run's tags."""
        return self._ws.backend.get_run(self.id).tags

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties; unlike tags, an existing property cannot change."""
        clean = _clean_pairs(properties)
        current = self.get_properties()
        for key, value in properties.items():
            if key in current and current[key] != str(value):
                raise StudioError(f"property {key!r} is already set to {current[key]!r}; properties cannot change")
        self._tracking.add_properties(self.id, clean)

    def get_properties(self) -> dict[str, str]:
        """The run's properties."""
        return self._ws.backend.get_run(self.id).properties

    # -- children and details -----------------------------------------------------------------

    def get_children(self, recursive: bool = False, **_ignored: Any) -> Iterator[Run]:
        """Child runs, oldest first (with ``recursive``, all descendants)."""
        if recursive:
            ids = self._tracking.list_descendants(self.id)
        else:
            ids = [r.id for r in self._ws.backend.list_children(self.id)]
        for run_id in ids:
            yield Run(self.experiment, run_id)

    def get_details(self) -> dict[str, Any]:
        """A description of the run shaped like Azure ML's ``Run.get_details()``."""
        info = self._ws.backend.get_run(self.id)
        extra = dict(self._ws.backend.get_run_details(self.id))
        run_type = extra.pop("runType", "")
        details: dict[str, Any] = {
            "runId": info.id,
            "displayName": info.display_name,
            "experimentName": info.experiment,
            "runType": run_type,
            "target": extra.get("target", "local"),
            "status": info.status.value,
            "createdTimeUtc": _iso(info.created_at),
            "startTimeUtc": _iso(info.started_at),
            "endTimeUtc": _iso(info.ended_at),
            "description": info.description,
            "properties": info.properties,
            "tags": info.tags,
            "parentRunId": info.parent_id,
            "submittedBy": extra.get("submittedBy", ""),
            "inputDatasets": [],
            "outputDatasets": [],
            "runDefinition": {k: v for k, v in extra.items() if k not in ("target", "submittedBy")},
            "logFiles": {f: run_link(self._ws.location, self.id, file=f) for f in self._log_file_names()},
        }
        if info.status_reason:
            details["statusReason"] = info.status_reason
        if info.error:
            details["error"] = {"error": info.error}
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with ``logFiles`` mapping each log's name to its text."""
        details = self.get_details()
        details["logFiles"] = {
            name: self._read_file(name).decode("utf-8", errors="replace") for name in details["logFiles"]
        }
        return details

    def _log_file_names(self) -> list[str]:
        return [f for f in self.get_file_names() if f.startswith(_LOG_DIRS)]

    def get_portal_url(self) -> str:
        """The ``studio://run/<run id>?workspace=<location>`` link that opens this run in the studio.

        ``studio <link>`` (a desktop's handler for ``studio://`` runs it) shows the run, in the studio already
        open on its workspace if there is one.
        """
        return run_link(self._ws.location, self.id)

    def __repr__(self) -> str:
        return f"Run(experiment={self.experiment.name!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and (other._ws, other.id) == (self._ws, self.id)

    def __hash__(self) -> int:
        return hash((self._ws, self.id))


def _clean_pairs(pairs: dict[str, Any]) -> dict[str, str]:
    if not isinstance(pairs, dict):
        raise TypeError(f"expected a dict, not {type(pairs).__name__}")
    clean = {}
    for key, value in pairs.items():
        check_metric_name(key)
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"value of {key!r} must be a string or a number, not {type(value).__name__}")
        clean[key] = "" if value is None else str(value)
    return clean


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
