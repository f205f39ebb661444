"""The Compute pane's "Python…" action: which Python interpreter runs local jobs' scripts.

Offered where the workspace's kind has such a setting (``set_job_python``: the local kind; the GUI imports no
kind, so it asks the backend for the capability). The file chosen is checked and kept by the backend on a worker
(it runs the interpreter once); a refusal is said in the service's words and the old setting stays. It is the
setting ``studio --python`` writes, shared by every local workspace of the user.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QFileDialog, QWidget

from studio.ui.background.notifier import Notifier
from studio.ui.background.tasks import TaskRunner

TITLE = "Python for local jobs"


def job_python_setter(backend: Any) -> Callable[[str], str] | None:
    """The backend's ``set_job_python``, if its kind has the setting."""
    setter = getattr(backend, "set_job_python", None)
    return setter if callable(setter) else None


def start_folder(runtime: str) -> str:
    """Where the file dialog opens: the folder of the interpreter in use, else of ``python3`` on PATH."""
    path = runtime.rpartition(" at ")[2].split(" (")[0] if " at " in runtime else ""
    found = path or shutil.which("python3") or ""
    return os.path.dirname(found) if found else os.path.expanduser("~")


def choose_job_python(
    parent: QWidget,
    backend: Any,
    runner: TaskRunner,
    notifier: Notifier,
    runtime: str,
    done: Callable[[], None],
    *,
    pick: Callable[[QWidget, str, str], str] | None = None,
) -> None:
    """Ask for an interpreter file, then have the backend check and keep it; ``done`` runs after it did."""
    setter = job_python_setter(backend)
    if setter is None:
        return
    path = (pick or _pick_file)(parent, TITLE, start_folder(runtime))
    if not path:
        return

    def kept(words: str) -> None:
        notifier.info(f"Local jobs now run with {words.removeprefix('Python ')}", 8000)
        done()

    runner.submit(
        setter,
        path,
        success=kept,
        failure=lambda exc: notifier.error(exc, context="Choosing the Python for local jobs"),
        label="Checking the Python interpreter",
        owner=parent,
    )


def _pick_file(parent: QWidget, title: str, folder: str) -> str:
    """The file dialog (an executable file; no filter, since interpreters have no extension on Linux)."""
    path, _ = QFileDialog.getOpenFileName(parent, title, folder)
    return path
