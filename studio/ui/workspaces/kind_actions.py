"""What each workspace kind offers in its section of the Workspaces pane, as data (no Qt).

A kind's actions are rows of (label, action id); the window maps action ids to what they do.
A kind listed in ``OPENED_LATER`` has an opener but no backend in this version: its section
shows its recent entries and a note instead of actions. The actions of a kind that signs in
("Sign in…", "Add from config.json…") are handled by its accounts rows (azure_section.py), not the window.
Kinds this table does not name (plug-ins) show their recent entries only. The recent entries of a
kind in ``KEEPS_PASSWORDS`` offer "Forget password", and forget it when removed from the list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindAction:
    """One action row of a kind's section."""

    label: str
    """The row's text, e.g. "Open folder…"."""
    action_id: str
    """What the window does when the row is activated, e.g. "open-folder"."""
    tooltip: str = ""


NEW_FOLDER = "new-folder"
OPEN_FOLDER = "open-folder"
ADD_SERVER = "add-server"
AZURE_SIGN_IN = "azure-sign-in"
AZURE_ADD_FROM_CONFIG = "azure-add-config"

KIND_ACTIONS: dict[str, tuple[KindAction, ...]] = {
    "local": (
        KindAction("New workspace…", NEW_FOLDER, "Make a workspace in an empty or new folder"),
        KindAction("Open folder…", OPEN_FOLDER, "Open a workspace folder (or make one there)"),
    ),
    "mlflow": (
        KindAction("Add server…", ADD_SERVER, "Open an MLflow tracking server by its URL, with or without a password"),
    ),
    "azure": (
        KindAction("Sign in…", AZURE_SIGN_IN, "Sign in to Azure to list your subscriptions and their workspaces"),
        KindAction(
            "Add from config.json…",
            AZURE_ADD_FROM_CONFIG,
            "Open the workspace a config.json names (the file downloaded from the Azure ML studio)",
        ),
    ),
}

OPENED_LATER: frozenset[str] = frozenset()
KEEPS_PASSWORDS: frozenset[str] = frozenset({"mlflow"})
"""Kinds whose passwords or tokens Studio keeps in the system keyring (studio.core.credentials)."""


def actions_for(kind: str) -> tuple[KindAction, ...]:
    """The action rows of ``kind``'s section (none for a kind opened in a later version or unknown here)."""
    return KIND_ACTIONS.get(kind, ())


def later_note(kind: str, label: str) -> tuple[str, str] | None:
    """The disabled note (text, tooltip) shown instead of actions for a kind not openable yet, else None."""
    if kind not in OPENED_LATER:
        return None
    return "Coming in a later version", f"Opening {label} comes in a later version of Studio."
