"""The runs table's columns and what their cells show (no Qt).

A run is kept as a tuple (``pack``): 100,000 RunInfo objects would be 100,000 objects the garbage
collector walks on every full collection; a tuple of strings, numbers and flat dicts is not tracked.

Four columns are always there (Name, Status, Started, Duration); the others are chosen keys of
MLflow's search grammar (``metrics.acc``, ``params.lr``, ``tags.model``, ``properties.x``). Every
column sorts on the server by its key, so a column *is* its key.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from functools import lru_cache
from typing import Any

from studio.core.search import Key, KeyKind, key_text, parse_order_by
from studio.core.status import RunStatus
from studio.core.types import RunInfo
from studio.ui.shell.status_style import format_duration

Packed = tuple[Any, ...]
(ID, EXPERIMENT, NAME, STATUS, CREATED, STARTED, ENDED, METRICS, PARAMS, TAGS, PROPERTIES, PARENT) = range(12)

FIXED: tuple[tuple[str, Key], ...] = (
    ("Name", Key("attributes", "run_name")),
    ("Status", Key("attributes", "status")),
    ("Started", Key("attributes", "start_time")),
    ("Duration", Key("attributes", "duration")),
)
FIXED_KEYS = tuple(key for _, key in FIXED)
CHOOSABLE_KINDS: tuple[KeyKind, ...] = ("metrics", "params", "tags", "properties")
_KIND_LABEL = {"params": "param", "tags": "tag", "properties": "property"}
_ACTIVE = frozenset(s.value for s in RunStatus if s.is_active)


def pack(run: RunInfo) -> Packed:
    """The run as the table keeps it (see the module's docstring)."""
    return (
        run.id,
        run.experiment,
        run.display_name,
        run.status.value,
        run.created_at,
        run.started_at,
        run.ended_at,
        run.metrics,  # not copied: every answer of a backend is a new RunInfo, and the table never changes them
        run.params,
        run.tags,
        run.properties,
        run.parent_id,
    )


def is_active(run: Packed) -> bool:
    """Whether the run is still going (its duration ticks)."""
    return run[STATUS] in _ACTIVE


def parse_key(text: str) -> Key | None:
    """``"metrics.`val loss`"`` -> Key, or None when the text is not a key the table can show."""
    try:
        key = parse_order_by(text).key
    except ValueError:
        return None
    return key if key.kind in CHOOSABLE_KINDS or key in FIXED_KEYS else None


def label(key: Key) -> str:
    """A header: a metric by its name (the common case), others with their kind (``param: lr``)."""
    for title, fixed in FIXED:
        if key == fixed:
            return title
    if key.kind == "metrics":
        return key.name
    return f"{_KIND_LABEL.get(key.kind, key.kind)}: {key.name}"


def order_item(key: Key, descending: bool) -> str:
    """One ``RunQuery.order_by`` item: ``"metrics.`val loss` DESC"``."""
    return f"{key_text(key)} {'DESC' if descending else 'ASC'}"


def is_numeric(key: Key) -> bool:
    """Numbers (right-aligned, charted): metrics, start time and duration."""
    return key.numeric


def run_seconds(run: Packed, now: float | None = None) -> float | None:
    """How long the run ran (so far, if it is still going)."""
    started, ended = run[STARTED], run[ENDED]
    end = ended or ((now or time.time()) if is_active(run) else None)
    return None if started is None or end is None else end - started


def number(run: Packed, key: Key) -> float:
    """A numeric column's value as a float, NaN when the run has none (what charts take)."""
    if key.kind == "metrics":
        value = run[METRICS].get(key.name)
        return math.nan if value is None else float(value)
    if key.name == "start_time":
        start = run[STARTED] or run[CREATED]
        return math.nan if start is None else float(start)
    if key.name == "duration":
        seconds = run_seconds(run)
        return math.nan if seconds is None else seconds
    return math.nan


def text(run: Packed, key: Key) -> str:
    """What a cell shows: a formatted number, a string, or "" when the run has no such value."""
    kind, name = key.kind, key.name
    if kind == "attributes":
        if name == "run_name":
            return str(run[NAME] or run[ID])
        if name == "status":
            return str(run[STATUS])
        if name == "start_time":
            return when(run[STARTED] or run[CREATED])
        if name == "duration":
            return format_duration(run_seconds(run))
        return ""
    if kind == "metrics":
        value = run[METRICS].get(name)
        return "" if value is None else format_number(float(value))
    values = run[{"params": PARAMS, "tags": TAGS, "properties": PROPERTIES}[kind]]
    return str(values.get(name, ""))


def format_number(value: float) -> str:
    """``0.9123``, ``1.235e-05``, ``12,345``: six significant digits, whole numbers without decimals."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.6g}"


@lru_cache(maxsize=8192)
def when(t: float | None) -> str:
    """``Nov 29 21:10`` this year, ``2024-11-29 21:10`` before (as in the Experiments pane, with the time).

    Cached: ``strftime`` took about half of the table's repaint (40 cells at ~0.1 ms each).
    """
    if not t:
        return ""
    moment = datetime.fromtimestamp(t)
    return moment.strftime("%b %d %H:%M" if moment.year == datetime.now().year else "%Y-%m-%d %H:%M")
