"""Workspace kinds: one folder each (local, mlflow, azure), found through kinds() and open_workspace()."""
