"""Turning a workspace of this Studio into one of an older Studio, for the migration tests.

The older schema is checked against the migrations themselves (applied to an empty database up to that
version), so a downgrade that forgot an object fails loudly instead of testing a schema no Studio made.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from studio.workspaces.local.schema import MIGRATIONS, _statements

# What each version added that a plain DROP removes (a table's indexes and triggers go with it).
_ADDED_BY = {
    3: ["DROP TABLE metric_summaries"],
    4: [
        *(
            f"DROP TRIGGER {table}_{event}"
            for table in ("metric_summaries", "run_tags", "run_properties")
            for event in ("counted", "uncounted")
        ),
        "DROP TABLE run_key_counts",
    ],
    5: ["DROP INDEX run_tags_by_value", "DROP INDEX run_properties_by_value", "DROP INDEX runs_by_created"],
    6: ["UPDATE compute_instances SET idle_shutdown_minutes = NULL WHERE name = 'local'"],  # data only
}


def schema(conn: sqlite3.Connection) -> set[tuple[str, str, str]]:
    """Every table, index and trigger with its SQL."""
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    return {(t, n, s) for t, n, s in rows}


def schema_of_version(version: int) -> set[tuple[str, str, str]]:
    """The schema the migrations build up to ``version``."""
    conn = sqlite3.connect(":memory:")
    for step in MIGRATIONS[:version]:
        if isinstance(step, str):
            for statement in _statements(step):
                conn.execute(statement)
        else:
            step(conn)
    try:
        return schema(conn)
    finally:
        conn.close()


def downgrade(db_path: Path, version: int) -> None:
    """Drop what the versions after ``version`` added, set user_version, and check the schema is that version's."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for later in sorted(_ADDED_BY, reverse=True):
            if later > version:
                for statement in _ADDED_BY[later]:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
        assert schema(conn) == schema_of_version(version)
    finally:
        conn.close()
