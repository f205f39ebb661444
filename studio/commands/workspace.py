"""Opening the workspace a command names, of any kind, and asking it for what only some kinds have."""

from __future__ import annotations

import argparse
import os

from studio.core.backend import ComputeBackend, WorkspaceBackend
from studio.core.errors import UnsupportedOperation
from studio.workspaces import WORKSPACE_ENV, open_workspace, opener_for, resolve_location


def open_from_args(args: argparse.Namespace, *, writes: bool = False) -> WorkspaceBackend:
    """The workspace of ``--workspace`` (else $STUDIO_WORKSPACE, else the default).

    The default workspace is created on first use. A named folder that holds no workspace is created only by a
    command that ``writes`` (submitting a job, creating compute): a mistyped path given to ``job list`` is an
    error naming the path, not a new empty workspace.
    """
    named = getattr(args, "workspace", None) or os.environ.get(WORKSPACE_ENV, "").strip()
    return open_workspace(resolve_location(named or None), create=writes or not named)


def compute_of(backend: WorkspaceBackend) -> ComputeBackend:
    """The backend as a ComputeBackend, or one line saying this kind of workspace has no compute."""
    if isinstance(backend, ComputeBackend):
        return backend
    info = backend.info()
    label = opener_for(info.location).label if info.location else info.kind
    raise UnsupportedOperation(
        f"{info.name} ({label}) has no compute instances or jobs; use a local or Azure ML workspace for those."
    )
