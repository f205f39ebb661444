"""Helpers for tests that start real compute daemons: polling, scripts, and cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
from pathlib import Path

from studio.core.compute import ComputeState
from studio.workspaces.local.compute import control
from studio.workspaces.local.compute import instances_store as compute_store
from studio.workspaces.local.workspace import LocalWorkspace


def write_script(folder: Path, name: str, body: str) -> Path:
    """Write a dedented script into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def stop_everything(ws_root: Path) -> None:
    """Stop every instance of a workspace and kill any daemon left (test teardown)."""
    if not (ws_root / "workspace.db").exists():
        return
    ws = LocalWorkspace(ws_root, create=False)
    try:
        for info in compute_store.list_instances(ws.connection()):
            if info.state != ComputeState.STOPPED:
                with contextlib.suppress(Exception):
                    control.stop(ws, info.name, wait=True, timeout=30)
            pid, *_ = compute_store.daemon_of(ws.connection(), info.name)
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
    finally:
        ws.close()


def python_with_numpy_only(folder: Path) -> Path:
    """A Python interpreter with NumPy and nothing of the studio (a new virtual environment that sees only NumPy's
    folders): what a user's own ``python3`` for jobs looks like."""
    import subprocess
    import venv

    import numpy

    env = folder / "jobpy"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    shelf = folder / "numpy-only"
    shelf.mkdir()
    site_packages = Path(numpy.__file__).parent.parent
    for name in ("numpy", "numpy.libs"):
        if (site_packages / name).exists():
            (shelf / name).symlink_to(site_packages / name)
    (next((env / "lib").glob("python3.*")) / "site-packages" / "numpy_only.pth").write_text(f"{shelf}\n")
    python = env / "bin" / "python"
    plain = subprocess.run([python, "-c", "import studio"], capture_output=True, cwd=folder)
    assert plain.returncode != 0, "the interpreter for the test sees a studio package"
    return python
