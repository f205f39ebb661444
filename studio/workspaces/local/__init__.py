"""The local workspace: one folder with a SQLite database and run files."""
