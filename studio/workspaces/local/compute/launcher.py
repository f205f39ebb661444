"""Starting a compute daemon fully detached from whoever asked for it.

A short-lived launcher process starts the daemon in a session of its own and exits,
so the daemon is nobody's child: closing the window or notebook does not stop it and
no zombie is left behind in a long-lived GUI process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from studio.workspaces.local.liveness import process_start_time

_LAUNCH = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "p = subprocess.Popen(sys.argv[2:], start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log,"
    " close_fds=True)\n"
    "print(p.pid, flush=True)\n"
)


def daemon_log_path(ws_root: Path, name: str) -> Path:
    """Where a compute daemon writes its own log."""
    return ws_root / "compute" / name / "daemon.log"


def spawn_daemon(ws_root: Path, name: str) -> tuple[int, float]:
    """Start the daemon of instance ``name``; returns its (pid, start time)."""
    log = daemon_log_path(ws_root, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-c",
        _LAUNCH,
        str(log),
        sys.executable,
        "-m",
        "studio.workspaces.local.compute.daemon",
        str(ws_root),
        name,
    ]
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
