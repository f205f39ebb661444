"""LocalWorkspaceOpener: the local kind's opener; any plain folder path is its location."""

from __future__ import annotations

import os
import re
from pathlib import Path

from studio.core.backend import WorkspaceBackend
from studio.core.errors import WorkspaceError
from studio.workspaces.local.paths import default_workspace_path

DB_NAME = "workspace.db"  # kept equal to studio.workspaces.local.workspace.DB_NAME (a test checks it)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


class LocalWorkspaceOpener:
    """Opens local workspace folders. Importing it imports no database code."""

    kind = "local"
    label = "Local workspaces"
    location_form = "a folder path"

    def owns(self, location: str) -> bool:
        """Any location that is not a URI (``scheme://``); ``file://`` is not accepted either."""
        return bool(location.strip()) and not _URI.match(location.strip())

    def preload(self) -> None:
        """Import what ``open`` and ``default_location`` need, before a window starts (see the CLI).

        Imported later, on the worker that opens the workspace, these modules hold the
        interpreter while the window paints its first frame.
        """
        import platformdirs  # noqa: F401  (default_location)

        import studio.workspaces.local.backend  # noqa: F401

    def canonical_location(self, location: str) -> str:
        """The absolute folder path, ``~`` expanded (symbolic links are kept: they are the user's names)."""
        return os.path.abspath(Path(location).expanduser())

    def default_location(self) -> str:
        """``<user data dir>/workspaces/default``."""
        return str(default_workspace_path())

    def display_name(self, location: str) -> str:
        """The folder's name."""
        path = Path(location).expanduser()
        return path.name or str(path)

    def is_workspace(self, location: str) -> bool:
        """True if the folder has a workspace database."""
        return (Path(location).expanduser() / DB_NAME).is_file()

    def is_missing(self, location: str) -> bool:
        """True if the folder or its database is gone."""
        return not self.is_workspace(location)

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        """Open (or create) the workspace folder."""
        from studio.workspaces.local.backend import LocalBackend  # sqlite and numpy only when a workspace opens
        from studio.workspaces.local.workspace import LocalWorkspace

        path = Path(location).expanduser()
        if not create and not path.exists():
            raise WorkspaceError(f"There is no folder {path}: check the path, or create the workspace first.")
        if not create and not (path / DB_NAME).is_file():
            raise WorkspaceError(f"{path} is not a Studio workspace (it holds no {DB_NAME}).")
        return LocalBackend(LocalWorkspace(path, create=create))
