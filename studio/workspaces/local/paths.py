"""Where local workspaces live."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_ENV = "STUDIO_WORKSPACE"


def default_workspace_path() -> Path:
    """``<user data dir>/workspaces/default``, per platform conventions."""
    import platformdirs

    return Path(platformdirs.user_data_dir("studio", appauthor=False)) / "workspaces" / "default"


def resolve_workspace_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the workspace to open: the explicit one, else $STUDIO_WORKSPACE, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return default_workspace_path()
