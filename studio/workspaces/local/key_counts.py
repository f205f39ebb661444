"""How many top-level runs of each experiment use each metric, tag and property name (``list_run_keys``).

Counting at read time joined every summary and tag of an experiment to its run: 250-1000 ms on 100,000 runs with
ten metrics each. Triggers keep the counts instead, in the transaction of the write that changes them, so that
reading them is one short range of a small table.

Counted: a top-level run (``parent_seq IS NULL``) counts once per name: a ``metric_summaries`` row (numeric
metrics only, as ``RunKeys.metrics`` says), a ``run_tags`` row, a ``run_properties`` row. Rows are inserted and
deleted, never renamed or moved to another run, and a run never changes experiment or parent; an upsert that
updates an existing row fires no INSERT trigger, so it counts nothing twice.
"""

from __future__ import annotations

import sqlite3

_TABLES = {
    "metrics": ("metric_summaries", "name"),
    "tags": ("run_tags", "key"),
    "properties": ("run_properties", "key"),
}


def _triggers(kind: str, table: str, column: str) -> list[str]:
    """The two triggers that keep the counts of one kind: one statement each (their bodies hold ";")."""
    top = "(SELECT parent_seq FROM runs WHERE seq = {row}.run_seq) IS NULL"
    experiment = "(SELECT experiment_id FROM runs WHERE seq = {row}.run_seq)"
    return [
        f"""CREATE TRIGGER {table}_counted AFTER INSERT ON {table} WHEN {top.format(row="NEW")}
BEGIN
    INSERT INTO run_key_counts(experiment_id, kind, name, runs)
    VALUES ({experiment.format(row="NEW")}, '{kind}', NEW.{column}, 1)
    ON CONFLICT (experiment_id, kind, name) DO UPDATE SET runs = runs + 1;
END""",
        f"""CREATE TRIGGER {table}_uncounted AFTER DELETE ON {table} WHEN {top.format(row="OLD")}
BEGIN
    UPDATE run_key_counts SET runs = runs - 1
    WHERE experiment_id = {experiment.format(row="OLD")} AND kind = '{kind}' AND name = OLD.{column};
END""",
    ]


#: The table and its triggers, one statement each; schema.py applies them in the migration to version 4.
STATEMENTS = [
    """CREATE TABLE run_key_counts (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, kind, name)
) WITHOUT ROWID""",
    *(statement for kind, (table, column) in _TABLES.items() for statement in _triggers(kind, table, column)),
]


def build_all(conn: sqlite3.Connection) -> None:
    """Count what is stored (the migration to version 4); call inside a write transaction."""
    conn.execute("DELETE FROM run_key_counts")
    for kind, (table, column) in _TABLES.items():
        conn.execute(
            f"INSERT INTO run_key_counts(experiment_id, kind, name, runs) "
            f"SELECT r.experiment_id, ?, x.{column}, count(*) FROM {table} x JOIN runs r ON r.seq = x.run_seq "
            f"WHERE r.parent_seq IS NULL GROUP BY r.experiment_id, x.{column}",
            (kind,),
        )


def counts(conn: sqlite3.Connection, experiment_id: int) -> dict[str, dict[str, int]]:
    """``{kind: {name: runs}}`` for metrics, tags and properties, names sorted, names no run uses left out."""
    found: dict[str, dict[str, int]] = {kind: {} for kind in _TABLES}
    for kind, name, runs in conn.execute(
        "SELECT kind, name, runs FROM run_key_counts WHERE experiment_id = ? AND runs > 0 ORDER BY kind, name",
        (experiment_id,),
    ):
        found[kind][name] = int(runs)
    return found
