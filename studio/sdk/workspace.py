"""Workspace: opens a workspace for logging, directly or through a config.json.

Opening goes through the workspace registry (``studio.workspaces.open_workspace``); the
backend it returns must be a ``TrackingBackend`` (today: local folders). The rest of the SDK
reaches the workspace through ``Workspace.backend``, ``.tracking`` and ``.compute`` only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.core.backend import ComputeBackend, WorkspaceBackend
from studio.core.errors import StudioError, UnsupportedOperation, WorkspaceError
from studio.core.tracking import TrackingBackend
from studio.sdk.compute import ComputeInstance
from studio.sdk.experiment import Experiment
from studio.workspaces import open_workspace, resolve_location

CONFIG_NAMES = ("config.json", os.path.join(".azureml", "config.json"))
_AZURE_KEYS = ("subscription_id", "resource_group", "workspace_name")


class AzureWorkspaceNotSupported(StudioError):
    """The logging API writes to local workspaces only; Azure workspaces are browsed in the studio."""


class Workspace:
    """A local workspace: ``Workspace(path)`` opens or creates the folder at ``path``.

    With no path it opens ``$STUDIO_WORKSPACE``, else the default workspace.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *args: Any, **kwargs: Any) -> None:
        if args or any(k in kwargs for k in _AZURE_KEYS):
            raise AzureWorkspaceNotSupported(
                "Azure ML workspaces (subscription_id, resource_group, workspace_name) are not supported "
                "by the logging API; pass the folder of a local workspace instead."
            )
        create = bool(kwargs.pop("create", True))
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(kwargs)}")
        location = resolve_location(path)
        backend = open_workspace(location, create=create)
        if not isinstance(backend, TrackingBackend):
            kind = backend.info().kind
            backend.close()
            raise UnsupportedOperation(
                f"{location} is a {kind} workspace; the logging API writes to local workspaces "
                "(Azure ML and MLflow workspaces are browsed in the studio)."
            )
        self._backend: WorkspaceBackend = backend
        self._tracking: TrackingBackend = backend
        info = backend.info()
        self._name = info.name
        self._location = info.location

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **_ignored: Any) -> Workspace:
        """Find ``config.json`` or ``.azureml/config.json`` in ``path`` (or the current folder) or a parent.

        ``{"workspace_path": "..."}`` names a local workspace (relative to the file's folder).
        Without a file, opens ``$STUDIO_WORKSPACE`` or the default workspace.
        """
        config = _find_config(Path(path) if path is not None else Path.cwd())
        if config is None:
            return cls()
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"Cannot read workspace configuration {config}: {exc}") from exc
        if not isinstance(data, dict):
            raise WorkspaceError(f"{config} must hold a JSON object.")
        if "workspace_path" in data:
            target = Path(os.path.expanduser(str(data["workspace_path"])))
            if not target.is_absolute():
                base = config.parent.parent if config.parent.name == ".azureml" else config.parent
                target = base / target
            return cls(target)
        if any(k in data for k in _AZURE_KEYS):
            raise AzureWorkspaceNotSupported(
                f"{config} names the Azure ML workspace {data.get('workspace_name', '?')!r}; Azure workspaces "
                'are not supported by the logging API. Use {"workspace_path": "..."} for a local workspace.'
            )
        raise WorkspaceError(f'{config} names no workspace: add "workspace_path".')

    @property
    def name(self) -> str:
        """The workspace's name (its folder's name)."""
        return self._name

    @property
    def path(self) -> Path:
        """The workspace folder."""
        return Path(self._location)

    @property
    def location(self) -> str:
        """The workspace's location as ``studio --workspace`` takes it (for a local workspace, its absolute folder)."""
        return self._location

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Every experiment of the workspace, by name."""
        return {e.name: Experiment(self, e.name, _create=False) for e in self._backend.list_experiments()}

    @property
    def compute_targets(self) -> dict[str, ComputeInstance]:
        """Every compute instance of the workspace, by name."""
        return {c.name: ComputeInstance(self, c.name) for c in self.compute.list_compute()}

    def get_details(self) -> dict[str, Any]:
        """Name, kind and location of the workspace."""
        info = self._backend.info()
        return {"name": info.name, "kind": info.kind, "location": info.location, "readOnly": info.read_only}

    # -- internal API of the SDK: the other SDK modules reach the workspace through these ----------

    @property
    def backend(self) -> WorkspaceBackend:
        """(Internal) The workspace's backend, for reading."""
        return self._backend

    @property
    def tracking(self) -> TrackingBackend:
        """(Internal) The same backend, for logging."""
        return self._tracking

    @property
    def compute(self) -> ComputeBackend:
        """(Internal) The backend's compute side; UnsupportedOperation if its kind has no compute."""
        if not isinstance(self._backend, ComputeBackend):
            raise UnsupportedOperation(f"The workspace {self.name!r} has no compute instances.")
        return self._backend

    def open_experiment(self, name: str) -> Experiment:
        """(Internal) The existing experiment ``name``, without creating it."""
        return Experiment(self, name, _create=False)

    def close(self) -> None:
        """Close the workspace's connections (they reopen when it is used again)."""
        self._backend.close()

    def __repr__(self) -> str:
        return f"Workspace(name={self.name!r}, path={str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._location == self._location

    def __hash__(self) -> int:
        return hash(self._location)


def _find_config(start: Path) -> Path | None:
    start = start.expanduser().absolute()
    if start.is_file():
        return start
    for folder in (start, *start.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None
