"""Subcommands of the `studio` command (no Qt here)."""
