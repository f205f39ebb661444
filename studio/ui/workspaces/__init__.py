"""The Workspaces pane: one section per workspace kind, recent workspaces and each kind's actions."""
