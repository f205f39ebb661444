"""Workspace: opens a local workspace folder, directly or through a config.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError, WorkspaceError
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.metric_writer import MetricWriter, writer_for
from studio.workspaces.local.paths import resolve_workspace_path
from studio.workspaces.local.workspace import LocalWorkspace

if TYPE_CHECKING:
    from studio.sdk.compute import ComputeInstance
    from studio.sdk.experiment import Experiment

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
        self._local = LocalWorkspace(resolve_workspace_path(path), create=create)
        self._backend = LocalBackend(self._local)

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
        return self._local.name

    @property
    def path(self) -> Path:
        """The workspace folder."""
        return self._local.root

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Every experiment of the workspace, by name."""
        from studio.sdk.experiment import Experiment

        return {e.name: Experiment(self, e.name, _create=False) for e in self._backend.list_experiments()}

    @property
    def compute_targets(self) -> dict[str, ComputeInstance]:
        """Every compute instance of the workspace, by name."""
        from studio.sdk.compute import ComputeInstance

        return {c.name: ComputeInstance(self, c.name) for c in self._backend.list_compute()}

    def get_details(self) -> dict[str, Any]:
        """Name, kind and location of the workspace."""
        info = self._backend.info()
        return {"name": info.name, "kind": info.kind, "location": info.location, "readOnly": info.read_only}

    @property
    def _writer(self) -> MetricWriter:
        return writer_for(self._local)

    def __repr__(self) -> str:
        return f"Workspace(name={self.name!r}, path={str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._local.db_path == self._local.db_path

    def __hash__(self) -> int:
        return hash(self._local.db_path)


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
