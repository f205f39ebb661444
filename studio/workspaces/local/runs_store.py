"""Experiments and runs in the workspace database: create, update, query."""

from __future__ import annotations

import getpass
import json
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from studio.core.errors import NotFoundError
from studio.core.search import compile_query
from studio.core.status import TERMINAL_STATUSES, RunStatus
from studio.core.types import ExperimentInfo, RunInfo, RunKeys, RunQuery, StatusChange
from studio.workspaces.local import key_counts, query_sql, summaries_store
from studio.workspaces.local.display_names import random_display_name

RUN_COLUMNS = (
    "r.seq, r.id, e.name, r.number, r.display_name, r.status, r.created_at, r.started_at, "
    "r.ended_at, p.id, r.description, r.error, r.child_count, r.status_reason"
)
_FROM = "runs r JOIN experiments e ON e.id = r.experiment_id LEFT JOIN runs p ON p.seq = r.parent_seq"
_TERMINAL = tuple(s.value for s in TERMINAL_STATUSES)


def ensure_experiment(conn: sqlite3.Connection, name: str) -> int:
    """The id of experiment ``name``, creating it; call inside a write transaction."""
    conn.execute(
        "INSERT INTO experiments(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
        (name, time.time()),
    )
    return int(conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()[0])


def experiment_id(conn: sqlite3.Connection, name: str) -> int:
    """The id of an existing experiment, or NotFoundError."""
    row = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no experiment named {name!r}.")
    return int(row[0])


def list_experiments(conn: sqlite3.Connection) -> list[ExperimentInfo]:
    """Every experiment with its number of top-level runs and latest run time."""
    rows = conn.execute(
        "SELECT e.name, e.created_at, "
        "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.parent_seq IS NULL), "
        "(SELECT r.created_at FROM runs r WHERE r.experiment_id = e.id AND r.parent_seq IS NULL "
        "ORDER BY r.seq DESC LIMIT 1) "
        "FROM experiments e ORDER BY e.name COLLATE NOCASE"
    ).fetchall()
    return [ExperimentInfo(name=r[0], created_at=r[1], run_count=r[2], last_run_at=r[3]) for r in rows]


def create_run(
    conn: sqlite3.Connection,
    experiment: str,
    *,
    status: RunStatus,
    change: int,
    parent_seq: int | None = None,
    parent_id: str | None = None,
    display_name: str | None = None,
    run_type: str = "inline",
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> tuple[int, str]:
    """Insert a run and its first status; returns (seq, id). Call inside a write transaction."""
    now = time.time()
    exp_id = ensure_experiment(conn, experiment)
    number = conn.execute(
        "UPDATE experiments SET next_run_number = next_run_number + 1 WHERE id = ? RETURNING next_run_number - 1",
        (exp_id,),
    ).fetchone()[0]
    if run_id is None:
        run_id = _new_run_id(conn, experiment, parent_seq, parent_id, now)
    started = now if status == RunStatus.RUNNING else None
    cur = conn.execute(
        "INSERT INTO runs(id, experiment_id, parent_seq, number, display_name, status, created_at, "
        "started_at, run_type, details, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            exp_id,
            parent_seq,
            number,
            display_name or random_display_name(),
            status.value,
            now,
            started,
            run_type,
            json.dumps(details or {}),
            change,
        ),
    )
    seq = int(cur.lastrowid or 0)
    conn.execute("INSERT INTO run_status_history(run_seq, status, at) VALUES (?, ?, ?)", (seq, status.value, now))
    if parent_seq is not None:
        conn.execute("UPDATE runs SET child_count = child_count + 1, changed = ? WHERE seq = ?", (change, parent_seq))
    return seq, run_id


def _new_run_id(
    conn: sqlite3.Connection, experiment: str, parent_seq: int | None, parent_id: str | None, now: float
) -> str:
    if parent_seq is not None and parent_id is not None:
        index = conn.execute("SELECT child_count FROM runs WHERE seq = ?", (parent_seq,)).fetchone()[0]
        candidate = f"{parent_id}_{index}"
        if len(candidate) <= 250:
            return candidate
    return f"{experiment}_{int(now)}_{secrets.token_hex(4)}"


def run_seq(conn: sqlite3.Connection, run_id: str) -> int:
    """The internal key of a run, or NotFoundError."""
    row = conn.execute("SELECT seq FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no run with id {run_id!r}.")
    return int(row[0])


def set_status(
    conn: sqlite3.Connection,
    seq: int,
    status: RunStatus,
    *,
    change: int,
    reason: str = "",
    error: dict[str, Any] | None = None,
) -> bool:
    """Move a run to ``status`` unless it already ended; returns whether it changed."""
    now = time.time()
    row = conn.execute("SELECT status, started_at FROM runs WHERE seq = ?", (seq,)).fetchone()
    if row is None or row[0] in _TERMINAL or row[0] == status.value:
        return False
    if row[0] == RunStatus.CANCEL_REQUESTED.value and status not in TERMINAL_STATUSES:
        return False  # a cancel request is only ever followed by an end
    started = row[1]
    if started is None and status == RunStatus.RUNNING:
        started = now
    ended = now if status in TERMINAL_STATUSES else None
    conn.execute(
        "UPDATE runs SET status = ?, status_reason = ?, started_at = ?, ended_at = ?, "
        "error = COALESCE(?, error), changed = ? WHERE seq = ?",
        (status.value, reason, started, ended, json.dumps(error) if error else None, change, seq),
    )
    conn.execute("INSERT INTO run_status_history(run_seq, status, at) VALUES (?, ?, ?)", (seq, status.value, now))
    return True


def set_process(conn: sqlite3.Connection, seq: int, pid: int, host: str, pid_started_at: float) -> None:
    """Record which process is logging a run, for crash detection."""
    conn.execute(
        "UPDATE runs SET pid = ?, host = ?, pid_started_at = ?, heartbeat_at = ? WHERE seq = ?",
        (pid, host, pid_started_at, time.time(), seq),
    )


def set_text(conn: sqlite3.Connection, seq: int, column: str, value: str, change: int) -> None:
    """Set the display name or the description of a run."""
    if column not in ("display_name", "description"):
        raise ValueError(column)
    conn.execute(f"UPDATE runs SET {column} = ?, changed = ? WHERE seq = ?", (value, change, seq))


def set_pairs(conn: sqlite3.Connection, table: str, seq: int, pairs: Iterable[tuple[str, str]], change: int) -> None:
    """Upsert tags (``run_tags``) or properties (``run_properties``) of a run."""
    if table not in ("run_tags", "run_properties"):
        raise ValueError(table)
    conn.executemany(
        f"INSERT INTO {table}(run_seq, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT(run_seq, key) DO UPDATE SET value = excluded.value",
        [(seq, k, v) for k, v in pairs],
    )
    conn.execute("UPDATE runs SET changed = ? WHERE seq = ?", (change, seq))


def get_pairs(conn: sqlite3.Connection, table: str, seq: int) -> dict[str, str]:
    """Tags or properties of a run."""
    if table not in ("run_tags", "run_properties"):
        raise ValueError(table)
    return dict(conn.execute(f"SELECT key, value FROM {table} WHERE run_seq = ? ORDER BY key", (seq,)).fetchall())


def row_to_run(conn: sqlite3.Connection, row: tuple[Any, ...], with_pairs: bool = True) -> RunInfo:
    """Build a RunInfo from a row of RUN_COLUMNS."""
    seq = row[0]
    return RunInfo(
        id=row[1],
        experiment=row[2],
        number=row[3],
        display_name=row[4],
        status=RunStatus(row[5]),
        created_at=row[6],
        started_at=row[7],
        ended_at=row[8],
        parent_id=row[9],
        description=row[10],
        error=json.loads(row[11]) if row[11] else None,
        child_count=row[12],
        status_reason=row[13],
        tags=get_pairs(conn, "run_tags", seq) if with_pairs else {},
        properties=get_pairs(conn, "run_properties", seq) if with_pairs else {},
        metrics=summaries_store.summaries(conn, [seq]).get(seq, {}) if with_pairs else {},
    )


def get_run(conn: sqlite3.Connection, run_id: str) -> RunInfo:
    """One run by id, or NotFoundError."""
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM {_FROM} WHERE r.id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no run with id {run_id!r}.")
    return row_to_run(conn, row)


def run_details(conn: sqlite3.Connection, seq: int) -> tuple[str, dict[str, Any]]:
    """The run type and the free-form details (compute target, script, ...) of a run."""
    row = conn.execute("SELECT run_type, details FROM runs WHERE seq = ?", (seq,)).fetchone()
    return row[0], json.loads(row[1])


def list_children(conn: sqlite3.Connection, parent_id: str) -> list[RunInfo]:
    """Direct children of a run, oldest first."""
    seq = run_seq(conn, parent_id)
    rows = conn.execute(f"SELECT {RUN_COLUMNS} FROM {_FROM} WHERE r.parent_seq = ? ORDER BY r.seq", (seq,)).fetchall()
    return [row_to_run(conn, r) for r in rows]


def descendants(conn: sqlite3.Connection, run_id: str) -> list[str]:
    """Ids of a run's children, grandchildren, ... in creation order."""
    seq = run_seq(conn, run_id)
    rows = conn.execute(
        "WITH RECURSIVE d(seq) AS (SELECT seq FROM runs WHERE parent_seq = ? "
        "UNION ALL SELECT r.seq FROM runs r JOIN d ON r.parent_seq = d.seq) "
        "SELECT r.id FROM runs r JOIN d ON d.seq = r.seq ORDER BY r.seq",
        (seq,),
    ).fetchall()
    return [r[0] for r in rows]


def status_history(conn: sqlite3.Connection, run_id: str) -> list[StatusChange]:
    """Every status of a run with its time."""
    seq = run_seq(conn, run_id)
    rows = conn.execute("SELECT status, at FROM run_status_history WHERE run_seq = ? ORDER BY rowid", (seq,)).fetchall()
    return [StatusChange(RunStatus(s), at) for s, at in rows]


def page_runs(
    conn: sqlite3.Connection, experiment: str, query: RunQuery, token: str | None, limit: int
) -> tuple[list[RunInfo], str | None]:
    """One page of runs and the token of the next page (None after the last).

    With no ``order_by``: keyset paging on creation order, the token is the last run's seq (as it always
    was). With one: see ``query_sql.sorted_page``. A token this function did not make is a NotFoundError;
    a malformed filter or order is a QueryError.
    """
    compiled = compile_query(query)
    exp_id = experiment_id(conn, experiment)
    parent = run_seq(conn, query.parent_id) if query.parent_id else None
    if compiled.order:
        position = None if token is None else query_sql.SortedPosition.parse(token)
        seqs, following = query_sql.sorted_page(
            conn, exp_id, query, parent, compiled.filter, compiled.order, position, limit
        )
        return _with_pairs(conn, _rows_by_seq(conn, seqs)), (None if following is None else following.token())
    after = _seq_token(token)
    where = query_sql.base_where(exp_id, query, parent, compiled.filter.comparisons)
    order = "DESC" if query.newest_first else "ASC"
    if after is not None:
        where.add("r.seq < ?" if query.newest_first else "r.seq > ?", after)
    few = query_sql.few_runs(conn, exp_id, compiled.filter)
    if few is not None:  # a filter that keeps few runs: start from them, not from a walk of every run
        where.add(f"r.seq IN ({' '.join(few.text)})", *few.params)
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM {_FROM} WHERE {' AND '.join(where.text)} ORDER BY r.seq {order} LIMIT ?",
        (*where.params, limit + 1),  # one more tells whether another page exists
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return _with_pairs(conn, rows), (str(rows[-1][0]) if more else None)


def _seq_token(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        return int(token)
    except ValueError:
        raise NotFoundError(f"invalid page token {token!r}") from None


def _rows_by_seq(conn: sqlite3.Connection, seqs: list[int]) -> list[tuple[Any, ...]]:
    """RUN_COLUMNS rows of the given runs, in the given order."""
    if not seqs:
        return []
    marks = ",".join("?" * len(seqs))
    by_seq = {row[0]: row for row in conn.execute(f"SELECT {RUN_COLUMNS} FROM {_FROM} WHERE r.seq IN ({marks})", seqs)}
    return [by_seq[s] for s in seqs]


def _with_pairs(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[RunInfo]:
    """RunInfos with tags and properties fetched in two queries for the whole page."""
    if not rows:
        return []
    seqs = [r[0] for r in rows]
    marks = ",".join("?" * len(seqs))
    pairs: dict[str, dict[int, dict[str, str]]] = {}
    for table in ("run_tags", "run_properties"):
        by_run: dict[int, dict[str, str]] = {}
        for s, k, v in conn.execute(
            f"SELECT run_seq, key, value FROM {table} WHERE run_seq IN ({marks}) ORDER BY key", seqs
        ):
            by_run.setdefault(s, {})[k] = v
        pairs[table] = by_run
    last_values = summaries_store.summaries(conn, seqs)
    out = []
    for r in rows:
        info = row_to_run(conn, r, with_pairs=False)
        out.append(
            replace(
                info,
                tags=pairs["run_tags"].get(r[0], {}),
                properties=pairs["run_properties"].get(r[0], {}),
                metrics=last_values.get(r[0], {}),
            )
        )
    return out


def changed_runs(conn: sqlite3.Connection, since: int, limit: int) -> tuple[list[RunInfo], int]:
    """Runs changed after counter value ``since`` (oldest change first) and the counter to ask from next."""
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS}, r.changed FROM {_FROM} WHERE r.changed > ? ORDER BY r.changed LIMIT ?",
        (since, limit),
    ).fetchall()
    if not rows:
        current = conn.execute("SELECT value FROM workspace_state WHERE key = 'changes'").fetchone()[0]
        return [], max(since, int(current))
    last = int(rows[-1][-1])
    if len(rows) == limit:  # never split the runs of one change between two answers
        whole = [r for r in rows if r[-1] < last]
        rows = (
            whole
            or conn.execute(f"SELECT {RUN_COLUMNS}, r.changed FROM {_FROM} WHERE r.changed = ?", (last,)).fetchall()
        )
        last = int(rows[-1][-1])
    return _with_pairs(conn, [r[:-1] for r in rows]), last


def count_runs(conn: sqlite3.Connection, experiment: str, query: RunQuery) -> int:
    """How many runs of an experiment match a query (QueryError for a malformed filter or order)."""
    compiled = compile_query(query)
    exp_id = experiment_id(conn, experiment)
    parent = run_seq(conn, query.parent_id) if query.parent_id else None
    return query_sql.count(conn, exp_id, query, parent, compiled.filter)


def current_user() -> str:
    """The name of the user running this process ("" if unknown)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def run_keys(conn: sqlite3.Connection, experiment: str) -> RunKeys:
    """Metric, tag and property names of an experiment's top-level runs with run counts (local runs have no params).

    The counts are kept by triggers (see key_counts): counting at read time took 250 ms and more on 100,000 runs.
    """
    found = key_counts.counts(conn, experiment_id(conn, experiment))
    return RunKeys(metrics=found["metrics"], tags=found["tags"], properties=found["properties"])
