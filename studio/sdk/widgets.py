"""Notebook widgets, after ``azureml.widgets``: ``RunDetails(run).show()`` opens the run in the desktop studio.

No Qt here: the studio runs in its own process (``python -m studio --workspace ... --open-run ...``),
which hands the run over to a studio already open on that workspace or opens a new window.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError

if TYPE_CHECKING:
    from studio.sdk.run import Run

_launch: Callable[..., Any] = subprocess.Popen
"""Starts the studio process; tests replace it to record the command instead."""
_children: list[Any] = []  # launched processes, kept so they are reaped (no zombies, no ResourceWarning)


class RunDetails:
    """Shows a run in the desktop studio: ``RunDetails(run).show()``."""

    def __init__(self, run: Run) -> None:
        experiment = getattr(run, "experiment", None)
        if experiment is None:
            raise StudioError(f"{run.id} is an offline run: it is not kept in a workspace, so Studio cannot show it.")
        self.run = run

    def command(self) -> list[str]:
        """The command line that opens the run: ``python -m studio --workspace <path> --open-run <id>``."""
        workspace = os.path.abspath(self.run.experiment.workspace.path)
        return [sys.executable, "-m", "studio", "--workspace", workspace, "--open-run", self.run.id]

    def show(self) -> None:
        """Start the studio on this run, detached, and return at once; in a notebook, say so below the cell."""
        _start_detached(self.command())
        _note(f"Opened run {self.run.id} in Studio.")

    def __repr__(self) -> str:
        return f"RunDetails(run_id={self.run.id!r})"


def _start_detached(command: Sequence[str]) -> None:
    """Start ``command`` in its own session with no terminal I/O; the notebook's kernel does not wait for it."""
    _children[:] = [p for p in _children if getattr(p, "poll", lambda: 0)() is None]
    options: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
    }
    if sys.platform == "win32":
        options["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    _children.append(_launch(list(command), **options))


def _note(text: str) -> None:
    """Display ``text`` under the cell when running in IPython/Jupyter; nothing elsewhere."""
    if "IPython" not in sys.modules:  # not in IPython: do not pay for importing it
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    display({"text/plain": text, "text/html": f"<p>{html.escape(text)}</p>"}, raw=True)
