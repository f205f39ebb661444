"""The workspace database schema and its migrations, versioned with PRAGMA user_version."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from studio.workspaces.local import key_counts, summaries_store

#: Marks a database as a Studio workspace (PRAGMA application_id); "STDO".
APPLICATION_ID = 0x5354444F

_V1 = """
CREATE TABLE workspace_state (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    next_run_number INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    parent_seq INTEGER REFERENCES runs(seq),
    number INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    error TEXT,
    run_type TEXT NOT NULL DEFAULT 'inline',
    details TEXT NOT NULL DEFAULT '{}',
    pid INTEGER,
    host TEXT,
    pid_started_at REAL,
    heartbeat_at REAL,
    child_count INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, parent_seq, seq);
CREATE INDEX runs_by_parent ON runs(parent_seq, seq);
CREATE INDEX runs_active ON runs(status) WHERE status NOT IN ('Completed', 'Failed', 'Canceled');
CREATE INDEX runs_changed ON runs(changed);
CREATE TABLE run_tags (
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_seq, key)
) WITHOUT ROWID;
CREATE TABLE run_properties (
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_seq, key)
) WITHOUT ROWID;
CREATE TABLE run_status_history (
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    status TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX run_status_history_by_run ON run_status_history(run_seq);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY,
    run_seq INTEGER NOT NULL REFERENCES runs(seq),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    value_type TEXT NOT NULL DEFAULT '',
    count INTEGER NOT NULL DEFAULT 0,
    last_value TEXT,
    UNIQUE (run_seq, name)
);
CREATE TABLE metric_chunks (
    metric_id INTEGER NOT NULL REFERENCES metrics(id),
    first_index INTEGER NOT NULL,
    count INTEGER NOT NULL,
    steps BLOB NOT NULL,
    vals BLOB NOT NULL,
    times BLOB NOT NULL
);
CREATE UNIQUE INDEX metric_chunks_by_metric ON metric_chunks(metric_id, first_index);
CREATE TABLE metric_records (
    metric_id INTEGER NOT NULL REFERENCES metrics(id),
    idx INTEGER NOT NULL,
    step INTEGER NOT NULL,
    time REAL NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (metric_id, idx)
) WITHOUT ROWID;
"""

_V2 = """
CREATE TABLE compute_instances (
    name TEXT PRIMARY KEY,
    max_concurrent_jobs INTEGER NOT NULL DEFAULT 1,
    idle_shutdown_minutes REAL,
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    host TEXT,
    pid_started_at REAL,
    heartbeat_at REAL,
    created_at REAL NOT NULL,
    started_at REAL,
    running_jobs INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE runs ADD COLUMN compute TEXT;
ALTER TABLE runs ADD COLUMN job_pid INTEGER;
CREATE INDEX runs_by_compute ON runs(compute, status) WHERE compute IS NOT NULL;
INSERT INTO compute_instances(name, state, created_at) VALUES ('local', 'Stopped', (julianday('now') - 2440587.5) * 86400.0)
"""


def _v3(conn: sqlite3.Connection) -> None:
    """Per-run metric summaries, built from the series already stored."""
    for statement in _statements(summaries_store.DDL):
        conn.execute(statement)
    summaries_store.build_all(conn)


def _v4(conn: sqlite3.Connection) -> None:
    """Run counts per metric, tag and property name, kept by triggers (list_run_keys), counted once here."""
    for statement in key_counts.STATEMENTS:
        conn.execute(statement)
    key_counts.build_all(conn)


# Indexes the run search needs (measured on 100,000 runs, see query_sql.py): a tag or property filter or order
# reads one key's rows in value order; an order's ties (newest created first, then id) and the runs lacking its
# first key come from the runs of an experiment in that order, without a sort.
_V5 = """
CREATE INDEX run_tags_by_value ON run_tags(key, value);
CREATE INDEX run_properties_by_value ON run_properties(key, value);
CREATE INDEX runs_by_created ON runs(experiment_id, parent_seq, created_at DESC, id)
"""

# The `local` instance stops after an hour without jobs (a sample run must not leave a process for ever);
# an instance whose setting the user chose keeps it.
_V6 = """
UPDATE compute_instances SET idle_shutdown_minutes = 60 WHERE name = 'local' AND idle_shutdown_minutes IS NULL
"""


#: MIGRATIONS[n] brings a database from user_version n to n + 1: SQL text, or a function
#: for a step that must compute in Python (it runs inside the same transaction).
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [_V1, _V2, _v3, _v4, _V5, _V6]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Apply the migrations after ``from_version``; the caller holds a write transaction."""
    for version in range(from_version, SCHEMA_VERSION):
        step = MIGRATIONS[version]
        if isinstance(step, str):
            for statement in _statements(step):
                conn.execute(statement)
        else:
            step(conn)
        conn.execute(f"PRAGMA user_version={version + 1}")
    if from_version == 0:
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.executemany(
            "INSERT INTO workspace_state(key, value) VALUES (?, ?)",
            [("changes", 0), ("created_at", time.time())],
        )


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT the caller's transaction; run statements one by one instead.
    return [s.strip() for s in script.split(";") if s.strip()]
