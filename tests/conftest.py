"""Shared fixtures: fresh workspaces in temporary folders, never the user's default one."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared `mlflow server` and the Azure emulator (each started only for tests that ask).
pytest_plugins = ["tests.mlflow_fixtures", "tests.azure_fixtures"]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test reaches the user's keyring, in this process or in the ones it starts: without the
# memory_keyring fixture there is no keyring at all (keyring's fail backend), as on many CI machines.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
# Session- and module-scoped fixtures (the Azure workspace of the contract suite) run outside the per-test
# folders below: their settings and caches go to a folder of this run, never the user's.
_RUN_HOME = tempfile.mkdtemp(prefix="studio-tests-")
atexit.register(shutil.rmtree, _RUN_HOME, ignore_errors=True)
os.environ["XDG_CONFIG_HOME"] = os.path.join(_RUN_HOME, "config")
os.environ["XDG_CACHE_HOME"] = os.path.join(_RUN_HOME, "cache")
os.environ["XDG_STATE_HOME"] = os.path.join(_RUN_HOME, "state")


@pytest.fixture(autouse=True)
def _no_start_up_freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """The window freezes what is alive after start-up out of the garbage collector, once per
    process; in the test process that would keep whatever test was running alive for good.
    tests/test_import_contracts.py checks the freeze in a process of its own."""
    import studio.ui.background.gc_policy as gc_policy

    monkeypatch.setattr(gc_policy, "_frozen", True)


@pytest.fixture(autouse=True)
def _no_modal_close_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing a window with instances started in it asks whether to stop them (a modal box no test answers):
    by default the instances are left running. Tests of the prompt replace ``ask_close`` on their pane."""
    if "PySide6" not in sys.modules:
        return  # nothing in this process made a window
    from studio.ui.compute.close_prompt import CloseAnswer
    from studio.ui.compute.compute_pane import ComputePane

    monkeypatch.setattr(ComputePane, "ask_close", lambda self, parent, names: (CloseAnswer.LEAVE, False))


@pytest.fixture(autouse=True)
def _isolated_default_workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point $STUDIO_WORKSPACE and the user data dir at temporary folders for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))  # QSettings of the window
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))  # the Azure kind's offline cache
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))  # the log folder (studio.log, crash.log)
    monkeypatch.delenv("STUDIO_WORKSPACE", raising=False)
    monkeypatch.delenv("STUDIO_RUN_ID", raising=False)


@pytest.fixture
def memory_keyring() -> Iterator[object]:
    """A fresh in-memory keyring (tests/memory_keyring.py) for one test; the one before comes back after."""
    import keyring

    from tests.memory_keyring import MemoryKeyring

    before = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    try:
        yield memory
    finally:
        keyring.set_keyring(before)


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
    workspace.close()


@pytest.fixture
def cws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A workspace for compute tests: quick cancels, and every daemon stopped at the end."""
    from studio.sdk import Workspace
    from tests.compute_helpers import stop_everything

    monkeypatch.setenv("STUDIO_CANCEL_GRACE_S", "1")
    workspace = Workspace(tmp_path / "ws")
    try:
        yield workspace
    finally:
        stop_everything(tmp_path / "ws")
        workspace.close()


@pytest.fixture
def exp(ws: object) -> object:
    """An experiment named "exp" in the new workspace."""
    from studio.sdk import Experiment

    return Experiment(workspace=ws, name="exp")


def _stray_threads(before: set[int]) -> list[str]:
    import threading

    return [
        t.name
        for t in threading.enumerate()
        if t.ident not in before
        and t is not threading.main_thread()
        and not isinstance(t, threading._DummyThread)  # Qt pool threads that once asked for current_thread()
        and t.name != "studio-metric-flush"  # the SDK's writer lives as long as the process, by design
    ]


@pytest.fixture(autouse=True)
def _no_leaked_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """GUI tests must end every thread they started (waiting briefly for threads that are finishing)."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    import threading
    import time

    before = {t.ident for t in threading.enumerate() if t.ident is not None}
    yield
    deadline = time.monotonic() + 5
    for thread in threading.enumerate():
        if thread.name in _stray_threads(before):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))  # one that is finishing may end
    stray = _stray_threads(before)
    assert not stray, f"threads left running: {stray}"
