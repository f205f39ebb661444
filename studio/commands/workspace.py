"""Opening the workspace a command names, of any kind, and asking it for what only some kinds have."""

from __future__ import annotations

import argparse

from studio.core.backend import ComputeBackend, WorkspaceBackend
from studio.core.errors import UnsupportedOperation
from studio.workspaces import open_workspace, opener_for, resolve_location


def open_from_args(args: argparse.Namespace) -> WorkspaceBackend:
    """The workspace of ``--workspace`` (else $STUDIO_WORKSPACE, else the default), created if it is a new folder."""
    return open_workspace(resolve_location(getattr(args, "workspace", None)), create=True)


def compute_of(backend: WorkspaceBackend) -> ComputeBackend:
    """The backend as a ComputeBackend, or one line saying this kind of workspace has no compute."""
    if isinstance(backend, ComputeBackend):
        return backend
    info = backend.info()
    label = opener_for(info.location).label if info.location else info.kind
    raise UnsupportedOperation(
        f"{info.name} ({label}) has no compute instances or jobs; use a local or Azure ML workspace for those."
    )
