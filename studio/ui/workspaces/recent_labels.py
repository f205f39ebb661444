"""How recent workspaces read in the pane when several share a name (no Qt).

Editors tell same-named folders apart by the shortest part of the parent path that differs:
``ws — a`` and ``ws — b`` for ``~/projects/a/ws`` and ``~/projects/b/ws``. Locations are any
kind's strings, so they are split on "/" as text: ``Path()`` would turn ``mlflow+http://h``
into ``mlflow+http:/h``.
"""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR = " — "


def context_segments(location: str, name: str) -> list[str]:
    """The location's "/"-separated parts before its name (the name itself dropped when it ends it)."""
    parts = [p for p in location.replace("\\", "/").split("/") if p]
    if parts and parts[-1] == name:
        parts.pop()
    return parts


def distinguishing_suffixes(entries: Sequence[tuple[str, str]]) -> dict[str, str]:
    """For (location, name) pairs: location -> the shortest parent path that tells it from same-named ones.

    Entries whose name is unique get no suffix (absent from the result). When no parent path
    tells two apart, the whole location is the suffix.
    """
    by_name: dict[str, list[str]] = {}
    for location, name in entries:
        by_name.setdefault(name, []).append(location)
    suffixes: dict[str, str] = {}
    for name, locations in by_name.items():
        if len(locations) < 2:
            continue
        segments = {loc: context_segments(loc, name) for loc in locations}
        for loc in locations:
            suffixes[loc] = _shortest_unique_suffix(segments[loc], [segments[o] for o in locations if o != loc]) or loc
    return suffixes


def _shortest_unique_suffix(mine: list[str], others: list[list[str]]) -> str:
    for k in range(1, len(mine) + 1):
        tail = mine[-k:]
        if all(other[-k:] != tail for other in others):
            return "/".join(tail)
    return ""
