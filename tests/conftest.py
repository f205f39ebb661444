"""Shared fixtures: fresh workspaces in temporary folders, never the user's default one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_default_workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point $STUDIO_WORKSPACE and the user data dir at temporary folders for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))  # QSettings of the window
    monkeypatch.delenv("STUDIO_WORKSPACE", raising=False)
    monkeypatch.delenv("STUDIO_RUN_ID", raising=False)


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    """A folder for a new workspace."""
    return tmp_path / "ws"


@pytest.fixture
def ws(ws_path: Path) -> Iterator[object]:
    """A new SDK workspace."""
    from studio.sdk import Workspace

    workspace = Workspace(ws_path)
    yield workspace
    workspace._local.close()


@pytest.fixture
def exp(ws: object) -> object:
    """An experiment named "exp" in the new workspace."""
    from studio.sdk import Experiment

    return Experiment(workspace=ws, name="exp")
