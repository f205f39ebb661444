"""A run's metrics: MLflow's numeric histories as series, logged tables and images as records.

Every MLflow metric is numeric. ``list_metrics`` fetches the histories of a run's metrics at once (concurrent
requests, see the REST client) when there are at most ``COUNTED_METRICS`` of them, which gives exact point
counts and leaves the histories cached for the charts that ask next: opening a run costs ``runs/get``, then one
concurrent round of ``metrics/get-history`` beside the two rounds of ``artifacts/list`` that find its images.
A finished run's histories stay cached (LRU by points). A running run's go stale after ``LIVE_HISTORY_S``; a
stale one is then extended with the points after it (an OSS server pages histories by offset, so a page token
for that offset asks for only the new points), and a server that pages another way sends whole histories again.

Tables are the JSON files ``mlflow.log_table`` writes (listed in the tag ``mlflow.loggedArtifacts``). Images are
the run's image files (png, jpg, gif, svg) in the root of its artifacts and the folders there (``IMAGE_DEPTH``):
``mlflow.log_image`` writes ``images/<key>%step%<step>%timestamp%<ms>%<uuid>.png``, one metric per key with a
record per step; ``images/<name>.png`` is metric "<name>", and any other image "<folder>/<name>".
"""

from __future__ import annotations

import json
import math
import posixpath
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.core.errors import NotFoundError, WorkspaceError
from studio.core.types import MetricInfo, MetricKind, MetricRecord, MetricSeries
from studio.workspaces.mlflow.mapping import LOGGED_ARTIFACTS_TAG
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.parse import join_history
from studio.workspaces.mlflow.rest.types import MetricHistory, Run
from studio.workspaces.mlflow.run_files import ArtifactFiles
from studio.workspaces.mlflow.single_flight import SingleFlight

COUNTED_METRICS = 50
LIVE_HISTORY_S = 1.0
CACHED_POINTS = 20_000_000
IMAGE_FOLDER = "images"
IMAGE_DEPTH = 1
"""Images are looked for in the root and its folders (``images/``, ``plots/``), not deeper: each level is a round
trip on the way to the first chart (a logged model alone is two or three levels deep)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
MAX_TABLE_BYTES = 64 << 20
_LOGGED_IMAGE = re.compile(r"(?P<key>.+)%step%(?P<step>-?\d+)%timestamp%(?P<ms>\d+)%[^/]*")


@dataclass(frozen=True)
class RunMedia:
    """The non-numeric metrics of a run: tables by name (artifact path) and images by name (records)."""

    tables: dict[str, str]
    images: dict[str, list[MetricRecord]]


class RunMetrics:
    """Metrics of the runs of one MLflow server, with a cache of histories."""

    def __init__(self, client: MlflowRestClient, files: ArtifactFiles, pool: Executor, flights: SingleFlight) -> None:
        self.client = client
        self.files = files
        self.pool = pool
        self.flights = flights
        self._lock = threading.Lock()
        self._histories: OrderedDict[tuple[str, str], tuple[float, bool, MetricHistory]] = OrderedDict()
        self.offsets_work = True  # whether the server pages histories by offset (OSS MLflow does)
        self._points = 0

    # -- numeric series -----------------------------------------------------------------------

    def histories(self, run: Run, names: list[str], final: bool) -> dict[str, MetricHistory]:
        """The histories of ``names``; cached ones are reused, the others fetched concurrently."""
        found = self._cached(run.run_id, names)
        stale = [n for n in names if n not in found and self._kept(run.run_id, n) is not None]
        if stale and self.offsets_work:
            extended = self.pool.map(lambda n: self._extended(run.run_id, n, final), stale)
            found.update((n, h) for n, h in zip(stale, extended, strict=True) if h is not None)
        missing = [n for n in names if n not in found]
        if missing:
            key = ("histories", run.run_id, tuple(missing))
            found.update(self.flights.run(key, lambda: self._fetch(run.run_id, missing, final)))
        return found

    def _cached(self, run_id: str, names: list[str]) -> dict[str, MetricHistory]:
        found: dict[str, MetricHistory] = {}
        now = time.monotonic()
        with self._lock:
            for name in names:
                cached = self._histories.get((run_id, name))
                if cached is not None and (cached[1] or now - cached[0] < LIVE_HISTORY_S):
                    found[name] = cached[2]
        return found

    def _fetch(self, run_id: str, names: list[str], final: bool) -> dict[str, MetricHistory]:
        found = self._cached(run_id, names)  # again, inside the flight: another caller may have just filled it
        missing = [n for n in names if n not in found]
        if missing:
            fetched = self.client.get_histories(run_id, missing)
            with self._lock:
                for name, history in fetched.items():
                    self._remember(run_id, name, final, history)
            found.update(fetched)
        return found

    def _kept(self, run_id: str, name: str) -> MetricHistory | None:
        with self._lock:
            kept = self._histories.get((run_id, name))
        return None if kept is None else kept[2]

    def _extended(self, run_id: str, name: str, final: bool) -> MetricHistory | None:
        """A kept history that went stale (a running run's), with the points logged since appended; None if none."""
        old = self._kept(run_id, name)
        if old is None or not self.offsets_work:
            return None
        new = self.flights.run(
            ("after", run_id, name, len(old)), lambda: self.client.get_history_after(run_id, name, len(old))
        )
        if new is None:
            self.offsets_work = False  # this server pages another way: fetch whole histories from now on
            return None
        joined = join_history(name, [(h.steps, h.values, h.timestamps_ms) for h in (old, new) if len(h)])
        with self._lock:
            self._remember(run_id, name, final, joined)
        return joined

    def _remember(self, run_id: str, name: str, final: bool, history: MetricHistory) -> None:
        old = self._histories.pop((run_id, name), None)
        if old is not None:
            self._points -= len(old[2])
        self._histories[(run_id, name)] = (time.monotonic(), final, history)
        self._points += len(history)
        while self._points > CACHED_POINTS and len(self._histories) > 1:
            _, (_, _, dropped) = self._histories.popitem(last=False)
            self._points -= len(dropped)

    def series(self, run: Run, name: str, start: int, final: bool) -> MetricSeries:
        """A numeric metric from point ``start`` on."""
        if name not in run.metrics:
            self._refuse_non_numeric(run, name)
        history = self.histories(run, [name], final)[name]
        begin = max(0, start)
        return MetricSeries(
            name=name,
            steps=history.steps[begin:].astype(np.int64, copy=False),
            values=history.values[begin:].astype(np.float64, copy=False),
            times=history.timestamps_ms[begin:].astype(np.float64) / 1000.0,
            start=start,
        )

    def _refuse_non_numeric(self, run: Run, name: str) -> None:
        media = self.media(run, final=True)
        if name in media.tables or name in media.images:
            raise ValueError(f"{name!r} is a table or an image, not a numeric series: read it as records.")
        raise NotFoundError(f"The run has no metric {name!r}.")

    # -- listing ------------------------------------------------------------------------------

    def infos(self, run: Run, final: bool) -> list[MetricInfo]:
        """The run's metrics: numeric ones (counted when there are few), then its tables and images."""
        names = sorted(run.metrics)
        media_future = self.pool.submit(self.media, run, final)
        histories = self.histories(run, names, final) if len(names) <= COUNTED_METRICS else {}
        infos = [_numeric_info(run, name, histories.get(name)) for name in names]
        media = media_future.result()
        infos += [MetricInfo(name, MetricKind.TABLE, 1) for name in sorted(media.tables)]
        for name in sorted(media.images):
            records = media.images[name]
            infos.append(MetricInfo(name, MetricKind.IMAGE, len(records), last_value=records[-1].value))
        return infos

    def media(self, run: Run, final: bool) -> RunMedia:
        """The run's logged tables (from its tags) and image files (anywhere in its artifacts)."""
        tables = _logged_tables(run)
        images: dict[str, list[MetricRecord]] = {}
        for file in self.files.listing(run.run_id, "", final, 0.0, depth=IMAGE_DEPTH):
            if not file.path.lower().endswith(IMAGE_SUFFIXES):
                continue
            folder, base = posixpath.split(file.path)
            stem = posixpath.splitext(base)[0]
            logged = _LOGGED_IMAGE.fullmatch(stem) if folder == IMAGE_FOLDER else None
            if logged:
                record = MetricRecord(file.path, int(logged["step"]), int(logged["ms"]) / 1000.0)
                images.setdefault(logged["key"], []).append(record)
            else:  # images/<name>.png is "<name>", any other image "<folder>/<name>"
                name = stem if folder == IMAGE_FOLDER else posixpath.splitext(file.path)[0]
                images.setdefault(name, []).append(MetricRecord(file.path, 0, 0.0))
        for records in images.values():
            records.sort(key=lambda r: (r.step, r.time, str(r.value)))
        return RunMedia(tables, images)

    def records(self, run: Run, name: str, start: int, final: bool) -> list[MetricRecord]:
        """A table's one record (its columns) or an image metric's files, from index ``start``."""
        if name in run.metrics:
            raise ValueError(f"{name!r} is a numeric series: read it with get_series.")
        media = self.media(run, final)
        if name in media.images:
            return media.images[name][max(0, start) :]
        if name not in media.tables:
            raise NotFoundError(f"The run has no metric {name!r}.")
        if start > 0:
            return []
        path = media.tables[name]
        raw = self.files.read(run.run_id, path, 0, MAX_TABLE_BYTES, final)
        when = (run.end_time_ms or run.start_time_ms or 0) / 1000.0
        return [MetricRecord(_table_columns(raw, path), 0, when)]


def _numeric_info(run: Run, name: str, history: MetricHistory | None) -> MetricInfo:
    last = run.metrics[name].value
    if history is None:
        return MetricInfo(name, MetricKind.SCALAR, 0, last_value=last, value_type="float")
    values = history.values
    integral = bool(values.size) and bool(np.all(np.isfinite(values))) and bool(np.all(values == np.round(values)))
    shown: Any = int(last) if integral and math.isfinite(last) else last
    return MetricInfo(
        name, MetricKind.SCALAR, len(history), last_value=shown, value_type="int" if integral else "float"
    )


def _logged_tables(run: Run) -> dict[str, str]:
    """Tables ``mlflow.log_table`` recorded in the tag ``mlflow.loggedArtifacts``: {name: artifact path}."""
    raw = run.tags.get(LOGGED_ARTIFACTS_TAG)
    if not raw:
        return {}
    try:
        logged = json.loads(raw)
    except ValueError:
        return {}
    tables = {}
    for item in logged if isinstance(logged, list) else ():
        if isinstance(item, dict) and item.get("type") == "table" and isinstance(item.get("path"), str):
            path = item["path"]
            tables[posixpath.splitext(posixpath.basename(path))[0]] = path
    return tables


def _table_columns(raw: bytes, path: str) -> dict[str, list[Any]]:
    """``log_table``'s JSON (pandas' "split" layout: columns and rows) as {column: values}."""
    try:
        document = json.loads(raw)
        columns = [str(c) for c in document["columns"]]
        rows = document["data"]
        return {column: [row[i] for row in rows] for i, column in enumerate(columns)}
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise WorkspaceError(f"The table {path} is not in the layout mlflow.log_table writes: {exc}.") from exc
