"""The run a submitted job's script runs in, found from the environment the job was started with.

``Run.get_context()`` calls ``job_run``. It builds a Workspace, an Experiment and a Run, so it
sits above all three; ``run`` imports this module, and this module imports ``workspace``
inside ``job_run`` only (the one lazy import of the SDK, listed in the import contracts).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from studio.workspaces import WORKSPACE_ENV

if TYPE_CHECKING:
    from studio.sdk.run import Run

RUN_ID_ENV = "STUDIO_RUN_ID"
__all__ = ["RUN_ID_ENV", "WORKSPACE_ENV", "job_run"]


def job_run(run_id: str) -> Run:
    """The Run ``run_id`` of the workspace named by ``$STUDIO_WORKSPACE`` (which must exist)."""
    from studio.sdk.workspace import Workspace  # workspace -> experiment -> run -> here: a cycle if at the top

    workspace = Workspace(os.environ.get(WORKSPACE_ENV), create=False)
    experiment = workspace.open_experiment(workspace.tracking.find_run(run_id))
    return experiment.open_run(run_id)
