"""Previews of a run's files: the chooser picks a kind, the host builds the matching widget.

Every preview reads through ``WorkspaceBackend.read_file_range`` on worker threads, reads
only what it shows, and never executes or fetches anything (no scripts, no remote content).
"""
