"""Experiment: a named group of runs in a workspace."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from studio.core.studio_links import experiment_link
from studio.core.types import RunQuery
from studio.core.validation import check_experiment_name
from studio.sdk.run import Run
from studio.sdk.script_run_config import ScriptRunConfig

if TYPE_CHECKING:
    from studio.sdk.workspace import Workspace


class Experiment:
    """``Experiment(workspace=ws, name=...)`` gets the experiment, creating it if it is new."""

    def __init__(self, workspace: Workspace, name: str, _create: bool = True, **_ignored: Any) -> None:
        self.workspace = workspace
        self.name = check_experiment_name(name)
        if _create:
            workspace.tracking.create_experiment(self.name)

    def start_logging(
        self,
        *,
        display_name: str | None = None,
        outputs: str | os.PathLike[str] | None = None,
        snapshot_directory: str | os.PathLike[str] | None = None,
        **_ignored: Any,
    ) -> Run:
        """Start an interactive (inline) run in this process; it is Running at once.

        ``outputs``: a folder uploaded into the run's ``outputs/`` when it completes.
        ``snapshot_directory``: a folder copied into the run's ``snapshot/`` now.
        """
        return Run._start(self, display_name=display_name, outputs=outputs, snapshot_directory=snapshot_directory)

    def submit(self, config: ScriptRunConfig, tags: dict[str, str] | None = None, **_ignored: Any) -> Run:
        """Queue a script job on its compute target and return its Run at once."""
        if not isinstance(config, ScriptRunConfig):
            raise TypeError(f"submit needs a ScriptRunConfig, not {type(config).__name__}")
        run_id = self.workspace.compute.submit_script(
            self.name,
            str(config.source_directory),
            config.script,
            config.arguments,
            config.target_name,
            environment=config.environment.spec() if config.environment is not None else None,
            tags=tags,
        )
        return Run(self, run_id)

    def get_runs(
        self,
        type: str | None = None,
        tags: str | dict[str, str] | None = None,
        include_children: bool = False,
        **_ignored: Any,
    ) -> Iterator[Run]:
        """The experiment's runs, newest first, fetched lazily page by page."""
        backend = self.workspace.backend
        query = RunQuery(tag=_tag_filter(tags))
        token: str | None = None
        while True:
            page = backend.list_runs(self.name, query, token)
            for info in page.runs:
                yield Run(self, info.id)
                if include_children:
                    yield from Run(self, info.id).get_children(recursive=True)
            if page.next_token is None:
                return
            token = page.next_token

    def open_run(self, run_id: str) -> Run:
        """(Internal) The existing run ``run_id`` of this experiment."""
        return Run(self, run_id)

    def get_portal_url(self) -> str:
        """The ``studio://experiment/<name>?workspace=<location>`` link of this experiment.

        ``studio <link>`` opens (or raises) the studio on its workspace; the experiment itself is not selected yet.
        """
        return experiment_link(self.workspace.location, self.name)

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))


def _tag_filter(tags: str | dict[str, str] | None) -> str:
    if not tags:
        return ""
    if isinstance(tags, str):
        return tags
    key, value = next(iter(tags.items()))
    return f"{key}={value}"
