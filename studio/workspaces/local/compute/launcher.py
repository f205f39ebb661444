"""Starting a compute daemon fully detached from whoever asked for it.

A short-lived launcher process (``detach.py``) starts the daemon in a session of its own and exits,
so the daemon is nobody's child: closing the window or notebook does not stop it and
no zombie is left behind in a long-lived GUI process.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from studio.core.self_command import module_command
from studio.workspaces.local.liveness import process_start_time


def daemon_log_path(ws_root: Path, name: str) -> Path:
    """Where a compute daemon writes its own log."""
    return ws_root / "compute" / name / "daemon.log"


def spawn_daemon(ws_root: Path, name: str) -> tuple[int, float]:
    """Start the daemon of instance ``name``; returns its (pid, start time)."""
    log = daemon_log_path(ws_root, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    daemon = [*module_command("studio.workspaces.local.compute.daemon"), str(ws_root), name]
    cmd = [*module_command("studio.workspaces.local.compute.detach"), str(log), *daemon]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        raise RuntimeError(f"could not start the compute daemon: {out.stderr.strip() or out.stdout.strip()}")
    pid = int(out.stdout.strip())
    return pid, process_start_time(pid) or 0.0


def log_tail(ws_root: Path, name: str, lines: int = 10) -> str:
    """The last lines of a daemon's log, for error messages."""
    try:
        text = daemon_log_path(ws_root, name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
