"""The metric-logging half of Run: log, log_list, log_row, log_table, log_image, get_metrics."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricKind
from studio.core.validation import check_metric_name, plain_value, scalar_value
from studio.sdk.metrics_view import metric_value

if TYPE_CHECKING:
    from studio.core.tracking import RunMetricWriter, SeriesBuffer, TrackingBackend
    from studio.sdk.workspace import Workspace

_I64 = 2**63
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg", ".tif", ".tiff"}


class RunLoggingMixin:
    """Metric methods of Run; expects ``id``, ``_ws``, ``_tracking``, ``_writer`` and ``_series`` on the instance."""

    id: str
    _ws: Workspace
    _tracking: TrackingBackend
    _writer: RunMetricWriter
    _series: dict[str, SeriesBuffer]

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a number, bool or string under ``name``; repeated calls build a series."""
        buf = self._series.get(name)
        kind = type(value)
        # Fast path for the common case (a number, an automatic or int step) keeps 1e6 points/s possible.
        if (
            buf is not None
            and not description
            and (kind is float or (kind is int and -_I64 <= value < _I64))
            and (step is None or (type(step) is int and -_I64 <= step < _I64))
        ):
            if kind is float:
                if buf.value_type != "float":
                    buf.value_type = "float"
            elif buf.value_type != "float" and buf.value_type != "int":
                buf.value_type = "int"
            with self._writer.lock:
                if step is not None:
                    buf.auto_steps = False
                buf.steps.append(step)
                buf.times.append(time.time())
                buf.values.append(value)
            return
        self._log_any(name, value, description, step)

    def _log_any(self, name: str, value: Any, description: str, step: int | None) -> None:
        check_metric_name(name)
        _check_description(description)
        step = _check_step(step)
        value = scalar_value(name, value)
        if isinstance(value, str):
            buf_r = self._writer.records(name, MetricKind.STRING, description)
            self._writer.add_record(buf_r, value, step)
            return
        if isinstance(value, int) and not isinstance(value, bool) and not -_I64 <= value < _I64:
            raise ValueError(f"metric {name!r}: integer {value} is outside the 64-bit range")
        value_type = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"
        buf = self._series.get(name) or self._writer.series(name, description)
        self._series[name] = buf
        with self._writer.lock:
            if description:
                buf.description = description
            buf.value_type = _widest(buf.value_type, value_type)
            if step is not None:
                buf.auto_steps = False
            buf.steps.append(step)
            buf.times.append(time.time())
            buf.values.append(float(value))

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Log a list of values (any sequence, numpy arrays included)."""
        check_metric_name(name)
        _check_description(description)
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise TypeError(f"metric {name!r}: log_list needs a sequence, not {type(value).__name__}")
        if hasattr(value, "tolist"):
            value = value.tolist()
        items = [plain_value(name, v) for v in value]
        self._writer.add_record(self._writer.records(name, MetricKind.LIST, description), items)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of a table; each keyword is a column."""
        check_metric_name(name)
        _check_description(description or "")
        if not kwargs:
            raise ValueError(f"metric {name!r}: log_row needs at least one column")
        row = {col: plain_value(name, v) for col, v in kwargs.items()}
        self._writer.add_record(self._writer.records(name, MetricKind.ROW, description or ""), row)

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        """Log a table given as a dict of equal-length column lists."""
        check_metric_name(name)
        _check_description(description)
        if not isinstance(value, dict) or not value:
            raise TypeError(f"metric {name!r}: log_table needs a non-empty dict of column lists")
        table: dict[str, list[Any]] = {}
        for col, column in value.items():
            if not isinstance(col, str):
                raise TypeError(f"metric {name!r}: column names must be strings, not {type(col).__name__}")
            if isinstance(column, (str, bytes, dict)) or not hasattr(column, "__iter__"):
                raise TypeError(f"metric {name!r}: column {col!r} must be a list")
            if hasattr(column, "tolist"):
                column = column.tolist()
            table[col] = [plain_value(name, v) for v in column]
        lengths = {len(c) for c in table.values()}
        if len(lengths) > 1:
            raise ValueError(f"metric {name!r}: columns have different lengths {sorted(lengths)}")
        self._writer.add_record(self._writer.records(name, MetricKind.TABLE, description), table)

    def log_image(
        self, name: str, path: str | os.PathLike[str] | None = None, plot: Any = None, description: str = ""
    ) -> None:
        """Log an image file, or a matplotlib figure (``plot``), under ``name``."""
        check_metric_name(name)
        _check_description(description)
        if (path is None) == (plot is None):
            raise ValueError(f"metric {name!r}: give exactly one of path or plot")
        if path is not None:
            source = Path(path)
            if not source.is_file():
                raise FileNotFoundError(f"metric {name!r}: image file {source} does not exist")
            suffix = source.suffix.lower()
            if suffix not in _IMAGE_SUFFIXES:
                raise ValueError(
                    f"metric {name!r}: {source.name} is not an image ({', '.join(sorted(_IMAGE_SUFFIXES))})"
                )
            stream: Any = source.open("rb")
        else:
            if not hasattr(plot, "savefig"):
                raise TypeError(
                    f"metric {name!r}: plot must be a matplotlib figure or pyplot, not {type(plot).__name__}"
                )
            stream = io.BytesIO()
            plot.savefig(stream, format="png")
            stream.seek(0)
            suffix = ".png"
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:100].strip("._") or "image"
        file_name = f"images/{safe}_{int(time.time() * 1000)}{suffix}"
        with stream:
            while self._tracking.file_exists(self.id, file_name):
                file_name = f"images/{safe}_{time.time_ns()}{suffix}"
            self._tracking.upload_file(self.id, file_name, stream)
        self._writer.add_record(self._writer.records(name, MetricKind.IMAGE, description), file_name)

    def get_metrics(self, name: str | None = None, recursive: bool = False, **_ignored: Any) -> dict[str, Any]:
        """Logged metrics: one value, or the list of values in order; ``recursive`` adds descendants by run id."""
        self._writer.flush()
        backend = self._ws.backend
        if recursive:
            ids = [self.id, *self._tracking.list_descendants(self.id)]
            return {run_id: _metrics_of(backend, run_id, name) for run_id in ids}
        return _metrics_of(backend, self.id, name)


def _metrics_of(backend: WorkspaceBackend, run_id: str, name: str | None) -> dict[str, Any]:
    return {
        m.name: metric_value(backend, run_id, m) for m in backend.list_metrics(run_id) if name is None or m.name == name
    }


def _widest(a: str, b: str) -> str:
    """The wider of two value types: float over int over bool ("" is none yet)."""
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


_RANK = {"": 0, "bool": 1, "int": 2, "float": 3}


def _check_description(description: object) -> None:
    if not isinstance(description, str):
        raise TypeError(f"description must be a string, not {type(description).__name__}")


def _check_step(step: object) -> int | None:
    if step is None:
        return None
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise TypeError(f"step must be an integer, not {type(step).__name__}")
    value = int(step)  # type: ignore[call-overload]
    if not -_I64 <= value < _I64:
        raise ValueError(f"step {value} is outside the 64-bit range")
    return value
