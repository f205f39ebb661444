"""WorkspaceOpener: how the GUI finds and opens workspaces without knowing their kind's internals."""

from __future__ import annotations

from typing import Protocol

from studio.core.backend import WorkspaceBackend


class WorkspaceOpener(Protocol):
    """Opens workspaces of one kind (local folders here; Azure later)."""

    def default_location(self) -> str:
        """Where the default workspace lives."""
        ...

    def is_workspace(self, location: str) -> bool:
        """True if ``location`` already holds a workspace (cheap; no database is opened)."""
        ...

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        """Open the workspace at ``location`` (creating it when ``create``); WorkspaceError if it cannot."""
        ...
