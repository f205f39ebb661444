"""Per-run summaries of numeric metrics (last, min, max, count) kept beside the series.

The runs table filters and sorts on a metric's last value; reading series for that would
scan millions of points, so every flush folds its new points into one summary row per
(run, metric) in the same transaction that appends them.

Definitions (what ``RunInfo.metrics`` and MLflow's ``run.data.metrics`` mean by a run's metric):

- ``last``: the value at the highest step; among points sharing that step, the one logged
  last. NaN is a value like any other here (the latest value may be NaN); SQLite stores a
  NaN as NULL, so a row with ``last IS NULL`` means "last value is NaN", and a missing row
  means the run never logged the metric.
- ``min`` / ``max``: over every point that is not NaN (NULL when all are NaN); infinities
  count, so a series that logged ``inf`` has ``max = inf``.
- ``count``: every point, NaN included (equals ``metrics.count``).
- ``last_step``: the step of ``last``, so that a later flush can tell whether it holds a newer point.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from studio.core.types import MetricKind
from studio.workspaces.local import series_store

#: The table and its indexes; schema.py applies it in the migration to version 3.
DDL = """
CREATE TABLE metric_summaries (
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name TEXT NOT NULL,
    last REAL,
    last_step INTEGER NOT NULL,
    min REAL,
    max REAL,
    count INTEGER NOT NULL,
    PRIMARY KEY (run_seq, name)
) WITHOUT ROWID;
CREATE INDEX metric_summaries_by_last ON metric_summaries(experiment_id, name, last)
"""


@dataclass(frozen=True)
class Summary:
    """The summary of some points of one series (see the module docstring)."""

    last: float
    last_step: int
    min: float | None
    max: float | None
    count: int


def summarize(steps: np.ndarray, values: np.ndarray) -> Summary:
    """The summary of points given in the order they were logged (at least one)."""
    n = len(values)
    # The last occurrence of the highest step: argmax on the reversed steps finds the first.
    at = n - 1 - int(np.argmax(steps[::-1]))
    finite = values[~np.isnan(values)]
    if len(finite):
        low, high = float(finite.min()), float(finite.max())
        return Summary(float(values[at]), int(steps[at]), low, high, n)
    return Summary(float(values[at]), int(steps[at]), None, None, n)


# SQLite's two-argument min()/max() return NULL if either side is NULL; coalesce keeps the known side.
# In an upsert every right-hand side reads the row as it was, so ``last`` compares the old last_step.
_MERGE = """
INSERT INTO metric_summaries(run_seq, experiment_id, name, last, last_step, min, max, count)
VALUES (?, (SELECT experiment_id FROM runs WHERE seq = ?), ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_seq, name) DO UPDATE SET
    last = CASE WHEN excluded.last_step >= last_step THEN excluded.last ELSE last END,
    last_step = max(last_step, excluded.last_step),
    min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)),
    max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)),
    count = count + excluded.count
"""


def merge(conn: sqlite3.Connection, run_seq: int, name: str, summary: Summary) -> None:
    """Fold the summary of newly appended points into the stored one; call in the append's transaction."""
    s = summary
    conn.execute(_MERGE, (run_seq, run_seq, name, s.last, s.last_step, s.min, s.max, s.count))


def build_all(conn: sqlite3.Connection) -> None:
    """(Re)compute every summary from the stored series; call inside a write transaction.

    Reads the chunks of all series in one ordered pass rather than one query per series:
    a workspace of 100,000 runs holds about a million of them.
    """
    conn.execute("DELETE FROM metric_summaries")
    rows = conn.execute(
        "SELECT m.id, m.run_seq, m.name, c.steps, c.vals FROM metrics m "
        "JOIN metric_chunks c ON c.metric_id = m.id WHERE m.kind = ? ORDER BY c.metric_id, c.first_index",
        (MetricKind.SCALAR.value,),
    )
    current: tuple[int, int, str] | None = None
    steps: list[bytes] = []
    values: list[bytes] = []

    def finish() -> None:
        if current is not None:
            summary = summarize(*series_store.decode(steps, values))
            merge(conn, current[1], current[2], summary)

    for metric_id, run_seq, name, step_blob, value_blob in rows.fetchall():
        if current is None or current[0] != metric_id:
            finish()
            current, steps, values = (metric_id, run_seq, name), [], []
        steps.append(step_blob)
        values.append(value_blob)
    finish()


def summaries(conn: sqlite3.Connection, run_seqs: Iterable[int]) -> dict[int, dict[str, float]]:
    """The last value of each numeric metric of the given runs (``{seq: {name: last}}``).

    A run that logged no numeric metric is absent; a last value that is NaN reads as NaN.
    """
    seqs = list(run_seqs)
    out: dict[int, dict[str, float]] = {}
    # Stay well under SQLite's limit on bound parameters.
    for lo in range(0, len(seqs), 500):
        part = seqs[lo : lo + 500]
        marks = ",".join("?" * len(part))
        for seq, name, last in conn.execute(
            f"SELECT run_seq, name, last FROM metric_summaries WHERE run_seq IN ({marks}) ORDER BY run_seq, name",
            part,
        ):
            out.setdefault(seq, {})[name] = math.nan if last is None else float(last)
    return out


def summary_rows(conn: sqlite3.Connection, run_seq: int) -> dict[str, Summary]:
    """Every stored summary of one run, by metric name (NaN for a last value that is NaN)."""
    rows = conn.execute(
        "SELECT name, last, last_step, min, max, count FROM metric_summaries WHERE run_seq = ?", (run_seq,)
    ).fetchall()
    return {
        name: Summary(math.nan if last is None else float(last), int(step), low, high, int(count))
        for name, last, step, low, high, count in rows
    }
