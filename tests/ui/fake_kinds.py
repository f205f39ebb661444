"""Workspace kinds made up for GUI tests: a second kind, a backend without compute, MLflow servers in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.backend import WorkspaceBackend
from studio.core.errors import WorkspaceError
from studio.workspaces.local.opener import LocalWorkspaceOpener
from studio.workspaces.mlflow.opener import MlflowServerOpener

WORKSPACE_METHODS = frozenset(n for n, v in vars(WorkspaceBackend).items() if callable(v) and not n.startswith("_"))


class FakeKindOpener:
    """Kind "fake": locations ``fake://<server>/<name>``. Those listed in ``backing`` open a real
    local workspace folder (so a test can show the window works for any location); others fail."""

    kind = "fake"
    label = "Fake servers"
    location_form = "fake://<server>/<name>"

    def __init__(self, backing: dict[str, Path] | None = None, gone: tuple[str, ...] = ()) -> None:
        self.backing = dict(backing or {})
        self.gone = gone

    def owns(self, location: str) -> bool:
        return location.strip().startswith("fake://")

    def default_location(self) -> None:
        return None

    def display_name(self, location: str) -> str:
        return location.rstrip("/").rsplit("/", 1)[-1]

    def is_workspace(self, location: str) -> bool:
        return True

    def is_missing(self, location: str) -> bool:
        return location in self.gone

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        if location not in self.backing:
            raise WorkspaceError(f"Cannot reach the fake server of {location}.")
        return LocalWorkspaceOpener().open(str(self.backing[location]))


class WorkspaceOnly:
    """A backend that exposes only the WorkspaceBackend methods (like an MLflow server: no compute)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name not in WORKSPACE_METHODS:
            raise AttributeError(name)
        return getattr(self._inner, name)


class NoComputeOpener:
    """Wraps an opener so that the backends it opens have no compute."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.kind, self.label, self.location_form = inner.kind, inner.label, inner.location_form

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def open(self, location: str, create: bool = False) -> WorkspaceOnly:
        return WorkspaceOnly(self._inner.open(location, create))


class FakeMlflowOpener(MlflowServerOpener):
    """The real MLflow opener (kind, label, locations, names) whose ``open`` serves in-memory backends
    (e.g. a FakeServerBackend) by location instead of reaching a server; unknown locations fail in one line."""

    def __init__(self, servers: dict[str, Any] | None = None) -> None:
        self.servers = dict(servers or {})
        self.opened: list[str] = []

    def open(self, location: str, create: bool = False) -> Any:
        self.opened.append(location)
        if location not in self.servers:
            raise WorkspaceError(f"Cannot reach the MLflow server {self.short_name(location)}.")
        return self.servers[location]
