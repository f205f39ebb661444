"""LocalWorkspaceOpener: opens local workspace folders for the GUI."""

from __future__ import annotations

from pathlib import Path

from studio.core.errors import WorkspaceError
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.paths import default_workspace_path
from studio.workspaces.local.workspace import DB_NAME, LocalWorkspace


class LocalWorkspaceOpener:
    """The WorkspaceOpener of local folders."""

    def default_location(self) -> str:
        """``<user data dir>/workspaces/default``."""
        return str(default_workspace_path())

    def is_workspace(self, location: str) -> bool:
        """True if the folder has a workspace database."""
        return (Path(location) / DB_NAME).is_file()

    def open(self, location: str, create: bool = False) -> LocalBackend:
        """Open (or create) the workspace folder."""
        path = Path(location).expanduser()
        if not create and not (path / DB_NAME).is_file():
            raise WorkspaceError(f"{path} is not a Studio workspace.")
        return LocalBackend(LocalWorkspace(path, create=create))
