"""Everything Qt: the main window, panes, item models and widgets. Reaches workspaces only
through the studio.core protocols (WorkspaceBackend, WorkspaceOpener)."""
