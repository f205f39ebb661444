"""WorkspaceOpener: one per workspace kind; how tools and the GUI find and open workspaces of any kind.

A location is a string that names its kind: a folder path (local),
``mlflow+http(s)://host[:port][/prefix]`` (an MLflow tracking server), or
``azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<name>`` (Azure ML).
``studio.workspaces.kinds()`` lists the openers; ``open_workspace`` picks one by ``owns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from studio.core.backend import WorkspaceBackend
from studio.core.errors import UnknownLocationError


@runtime_checkable
class WorkspaceOpener(Protocol):
    """Opens workspaces of one kind. Every method but ``open`` is cheap: no network, no database."""

    kind: str
    """Short name of the kind: "local", "mlflow" or "azure"."""
    label: str
    """What the Workspaces pane calls the kind's section, e.g. "Local workspaces"."""
    location_form: str
    """The form of its locations, for error messages, e.g. "a folder path"."""

    def owns(self, location: str) -> bool:
        """True if ``location`` is of this kind (by its form only; nothing is opened)."""
        ...

    def default_location(self) -> str | None:
        """Where the kind's default workspace lives, or None if it has none."""
        ...

    def display_name(self, location: str) -> str:
        """A short name for lists: the folder's name, the server's host, the workspace's name."""
        ...

    def is_workspace(self, location: str) -> bool:
        """True if ``location`` already holds a workspace (cheap; for remote kinds, True when well formed)."""
        ...

    def is_missing(self, location: str) -> bool:
        """True if ``location`` is known to be gone (a deleted folder). Remote kinds answer False without a call."""
        ...

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        """Open the workspace at ``location`` (creating it when ``create`` and the kind can); WorkspaceError if not."""
        ...

    # Optional, looked up with getattr: ``canonical_location(location) -> str`` (one spelling per
    # workspace) and ``preload() -> None`` (import what ``open`` needs, before a window starts).


def pick_opener(openers: Sequence[WorkspaceOpener], location: str) -> WorkspaceOpener:
    """The first opener that owns ``location``; UnknownLocationError (one line, naming the accepted forms) if none."""
    text = location.strip()
    for opener in openers:
        if opener.owns(text):
            return opener
    forms = "; ".join(f"{o.location_form} ({o.kind})" for o in openers) or "none: no workspace kind is installed"
    raise UnknownLocationError(f"{text!r} is not a workspace location. Accepted forms: {forms}.")


class RemoteLocationOpener:
    """What the openers of remote kinds share: no default, nothing known missing without a call.

    A subclass gives ``short_name(location)``, which raises UnknownLocationError for a malformed
    location; ``display_name`` and ``is_workspace`` follow from it.
    """

    def short_name(self, location: str) -> str:
        """The name lists show (raises UnknownLocationError if ``location`` is malformed)."""
        raise NotImplementedError

    def default_location(self) -> None:
        """Remote kinds have no default workspace."""
        return None

    def display_name(self, location: str) -> str:
        """``short_name``, or the location as given when it is malformed."""
        try:
            return self.short_name(location)
        except UnknownLocationError:
            return location

    def is_workspace(self, location: str) -> bool:
        """True when the location is well formed (the service is only reached when opened)."""
        try:
            self.short_name(location)
        except UnknownLocationError:
            return False
        return True

    def is_missing(self, location: str) -> bool:
        """Never known without a call."""
        return False
