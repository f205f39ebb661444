"""Helpers for reliability tests that run real Python processes against a real workspace.

Every wait is a poll against a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: How long any single wait in these tests may take before it counts as a hang.
DEFAULT_DEADLINE_S = 60.0


def child_env(workspace: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a child script: this one plus the workspace, unbuffered output."""
    env = dict(os.environ)
    env.pop("STUDIO_RUN_ID", None)  # a child must start its own runs, never join an outer one
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if workspace is not None:
        env["STUDIO_WORKSPACE"] = str(workspace)
    env.update(extra)
    return env


def write_script(folder: Path, name: str, source: str) -> Path:
    """Write a (dedented) Python script into ``folder`` and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


class Child:
    """A child Python process whose stdout lines arrive on a queue and whose stderr is collected.

    Both pipes are drained by threads, so a chatty child can never block on a full pipe.
    """

    def __init__(self, script: Path, *args: str, env: dict[str, str], cwd: Path | None = None) -> None:
        self.script = script
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(cwd) if cwd else None,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout_lines: list[str] = []
        self._stderr_parts: list[str] = []
        self._out_thread = threading.Thread(target=self._pump_stdout, daemon=True)
        self._err_thread = threading.Thread(target=self._pump_stderr, daemon=True)
        self._out_thread.start()
        self._err_thread.start()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.stdout_lines.append(line)
            self.lines.put(line)
        self.proc.stdout.close()
        self.lines.put(None)  # end of output

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in self.proc.stderr:
            self._stderr_parts.append(chunk)
        self.proc.stderr.close()

    def expect(self, prefix: str, timeout: float = DEFAULT_DEADLINE_S) -> str:
        """Wait for the next stdout line starting with ``prefix``; returns it (earlier lines are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.script.name}: no line starting with {prefix!r} within {timeout} s; "
                    f"stdout so far {self.stdout_lines[-5:]!r}, stderr {self.stderr_so_far()!r}"
                )
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)  # keep the end mark for later calls
                self.proc.wait(timeout=DEFAULT_DEADLINE_S)
                self._err_thread.join(timeout=DEFAULT_DEADLINE_S)
                raise AssertionError(
                    f"{self.script.name} ended (exit {self.proc.returncode}) before printing {prefix!r}; "
                    f"stdout {self.stdout_lines[-5:]!r}, stderr {self.stderr_so_far()!r}"
                )
            if line.startswith(prefix):
                return line

    def send(self, text: str) -> None:
        """Write a line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        """Close the child's stdin (a child blocked in ``readline`` then sees end of input)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def wait(self, timeout: float = DEFAULT_DEADLINE_S) -> int:
        """Wait for the child to exit (and its output to be read); returns the exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.script.name} did not exit within {timeout} s; stderr {self.stderr_so_far()!r}"
            ) from None
        self._out_thread.join(timeout=timeout)
        self._err_thread.join(timeout=timeout)
        return code

    def kill(self) -> int:
        """SIGKILL the child (if it still runs) and reap it; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=DEFAULT_DEADLINE_S)
        self.close_stdin()
        self._out_thread.join(timeout=DEFAULT_DEADLINE_S)
        self._err_thread.join(timeout=DEFAULT_DEADLINE_S)
        return code

    def stderr_so_far(self) -> str:
        """What the child wrote to stderr up to now."""
        return "".join(self._stderr_parts)

    @property
    def stderr(self) -> str:
        """Everything the child wrote to stderr (call after wait/kill)."""
        return self.stderr_so_far()


class ChildPool:
    """Starts children and makes sure none outlives the test (killed by pid at teardown)."""

    def __init__(self, folder: Path, workspace: Path | None) -> None:
        self.folder = folder
        self.workspace = workspace
        self.children: list[Child] = []

    def start(self, script: Path, *args: str, **extra_env: str) -> Child:
        """Start ``script`` with ``args`` in the workspace's environment."""
        child = Child(script, *args, env=child_env(self.workspace, **extra_env), cwd=self.folder)
        self.children.append(child)
        return child

    def cleanup(self) -> None:
        """Kill every child that is still running."""
        for child in self.children:
            if child.proc.poll() is None:
                child.kill()
            child.close_stdin()


def integrity_check(db_path: Path) -> str:
    """``PRAGMA integrity_check`` through a fresh connection of its own."""
    conn = sqlite3.connect(str(db_path), timeout=60)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    result = "\n".join(str(r[0]) for r in rows)
    if fk:
        result += f"\nforeign key violations: {fk[:5]!r}"
    return result


def raw_run_row(db_path: Path, run_id: str) -> tuple[str, int | None]:
    """(status, pid) of a run read with plain SQL, so no reaping happens as a side effect."""
    conn = sqlite3.connect(str(db_path), timeout=60)
    try:
        row = conn.execute("SELECT status, pid FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        conn.close()
    assert row is not None, f"run {run_id} is not in {db_path}"
    return str(row[0]), row[1]


def assert_clean_stderr(name: str, stderr: str) -> None:
    """No traceback, no lock error and no studio warning in a child's stderr (which should be empty)."""
    low = stderr.lower()
    assert "database is locked" not in low, f"{name}: 'database is locked' in stderr:\n{stderr}"
    assert "traceback" not in low, f"{name}: traceback in stderr:\n{stderr}"
    assert stderr.strip() == "", f"{name}: unexpected stderr:\n{stderr}"


class WriteLockProbe:
    """Tells whether some connection is inside a write transaction right now, without waiting.

    Each probe takes the write lock for an instant when it is free and releases it at once.
    """

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(str(db_path), timeout=0, isolation_level=None)

    def held(self) -> bool:
        """True if another connection holds the write lock."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return True
            raise
        self.conn.execute("ROLLBACK")
        return False

    def close(self) -> None:
        """Close the probe's connection."""
        self.conn.close()
