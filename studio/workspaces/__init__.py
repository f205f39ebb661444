"""Workspace kinds: one folder each, found through ``kinds()`` and opened with ``open_workspace()``.

The built-in kinds are named here by module path and loaded with ``importlib`` when first
asked for, so importing this package imports no kind (and no ``azure``). Other packages add
kinds through the entry-point group ``studio.workspace_kinds``: each entry point names a
zero-argument callable (usually the opener class) that returns a ``WorkspaceOpener``.
The first opener whose ``owns`` accepts a location opens it; plug-ins are asked before the
local kind, which owns every plain path.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence

from studio.core.backend import WorkspaceBackend
from studio.core.errors import UnknownLocationError
from studio.core.opener import WorkspaceOpener, pick_opener

ENTRY_POINT_GROUP = "studio.workspace_kinds"
WORKSPACE_ENV = "STUDIO_WORKSPACE"

# Order matters: the local kind owns any plain path, so it is asked last.
BUILT_IN_KINDS: tuple[str, ...] = (
    "studio.workspaces.mlflow.opener:MlflowServerOpener",
    "studio.workspaces.azure.opener:AzureWorkspaceOpener",
    "studio.workspaces.local.opener:LocalWorkspaceOpener",
)

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_kinds: tuple[WorkspaceOpener, ...] | None = None


def kinds() -> Sequence[WorkspaceOpener]:
    """One opener per workspace kind: the plug-ins' first, then the built-ins (local last)."""
    global _kinds
    with _lock:
        if _kinds is None:
            _kinds = (*_plugin_openers(), *(_load(target)() for target in BUILT_IN_KINDS))
        return _kinds


def opener_for(location: str) -> WorkspaceOpener:
    """The opener of the kind that owns ``location``; UnknownLocationError (one line) if none does."""
    return pick_opener(kinds(), location)


def open_workspace(location: str, create: bool = False) -> WorkspaceBackend:
    """Open the workspace at ``location``, of whichever kind owns it."""
    return opener_for(location).open(location.strip(), create=create)


def resolve_location(explicit: str | os.PathLike[str] | None = None) -> str:
    """The workspace to use: ``explicit``, else ``$STUDIO_WORKSPACE``, else the default workspace.

    The default is the first kind's that has one (the local kind's ``<user data dir>/workspaces/default``).
    The answer is canonical (``canonical_location``), so the same workspace is always the same string.
    """
    text = os.fspath(explicit) if explicit else os.environ.get(WORKSPACE_ENV, "").strip()
    if not text:
        text = next((d for o in kinds() if (d := o.default_location()) is not None), "")
    if not text:
        raise UnknownLocationError(f"No workspace given: pass --workspace or set ${WORKSPACE_ENV}.")
    return canonical_location(text)


def canonical_location(location: str) -> str:
    """One spelling per workspace (an absolute folder path for local ones), for recent lists and hand-over.

    A kind may offer ``canonical_location(location)``; it is optional in the opener protocol.
    """
    opener = opener_for(location)
    canonical: Callable[[str], str] | None = getattr(opener, "canonical_location", None)
    return canonical(location.strip()) if canonical is not None else location.strip()


def _load(target: str) -> Callable[[], WorkspaceOpener]:
    module, _, attr = target.partition(":")
    factory: Callable[[], WorkspaceOpener] = getattr(importlib.import_module(module), attr)
    return factory


def _plugin_openers() -> list[WorkspaceOpener]:
    found: list[WorkspaceOpener] = []
    for name, target in _entry_points(ENTRY_POINT_GROUP):
        try:
            opener = _load(target)()
        except Exception as exc:  # a broken plug-in must not stop the studio
            _log.warning("workspace kind %r could not be loaded: %s", name, exc)
            continue
        if isinstance(opener, WorkspaceOpener):
            found.append(opener)
        else:
            _log.warning("workspace kind %r is not a WorkspaceOpener; ignored", name)
    return found


def _entry_points(group: str) -> list[tuple[str, str]]:
    """``(name, "module:attr")`` of every installed distribution's entry points in ``group``.

    ``importlib.metadata.entry_points`` gives the same answer but costs about 50 ms on the
    window's start path (its import, and a METADATA parse per distribution); this reads only
    the ``entry_points.txt`` files, about 1 ms for a hundred distributions. A distribution
    found on an earlier ``sys.path`` entry hides the same one further on, as in importlib.
    """
    header = f"[{group}]"
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for folder in sys.path:
        try:
            entries = sorted(os.scandir(folder or "."), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith((".dist-info", ".egg-info")):
                continue
            distribution = entry.name.rsplit(".", 1)[0].split("-", 1)[0].lower().replace("_", "-")
            if distribution in seen:
                continue
            seen.add(distribution)
            try:
                with open(os.path.join(entry.path, "entry_points.txt"), encoding="utf-8") as file:
                    text = file.read()
            except OSError:
                continue
            if header in text:
                found += _section(text, header)
    return found


def _section(text: str, header: str) -> list[tuple[str, str]]:
    """The ``name = module:attr`` lines of one ``[section]`` of an entry_points.txt."""
    lines: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line == header
        elif inside and "=" in line and not line.startswith(("#", ";")):
            name, _, target = line.partition("=")
            lines.append((name.strip(), target.split("[", 1)[0].strip()))  # "[extras]" are not ours to check
    return lines


def _reset_for_tests() -> None:
    """Forget the loaded kinds (tests that install a plug-in call this)."""
    global _kinds
    with _lock:
        _kinds = None
