"""One studio per workspace: the local-socket server, the client in a real subprocess, and RunDetails.

On real local workspaces: the studio is found by workspace folder, and RunDetails shows an SDK run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.ui.shell.single_instance import (
    MAX_MESSAGE_BYTES,
    InstanceServer,
    SocketFolderError,
    open_run_message,
    raise_message,
    send_to_running_instance,
    socket_path,
)

WAIT_MS = 20_000  # a subprocess that imports PySide6 on a busy 2-core machine


@pytest.fixture(autouse=True)
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private $XDG_RUNTIME_DIR (tmp_path is too long for socket paths); subprocesses inherit it."""
    folder = Path(tempfile.mkdtemp(prefix="srt-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def make_server(qtbot: QtBot) -> Iterator[Callable[[Path], InstanceServer]]:
    """Creates InstanceServers that are closed at teardown."""
    servers: list[InstanceServer] = []

    def make(location: Path) -> InstanceServer:
        server = InstanceServer(str(location))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
        server.deleteLater()


def start_python(code: str) -> subprocess.Popen[str]:
    """A real client process running ``code``."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def start_client(location: Path, message: dict[str, Any]) -> subprocess.Popen[str]:
    """A process that sends ``message`` with send_to_running_instance and prints the result."""
    return start_python(
        "from studio.ui.shell.single_instance import send_to_running_instance\n"
        f"print(send_to_running_instance({str(location)!r}, {message!r}, timeout_ms=10_000))\n"
    )


def finish(qtbot: QtBot, proc: subprocess.Popen[str]) -> str:
    """Wait (running the event loop) until ``proc`` exits 0; its stdout."""
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=WAIT_MS)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return out


def round_trip(qtbot: QtBot, server: InstanceServer, location: Path, message: dict[str, Any]) -> None:
    """A subprocess sends ``message``; the server emits it and the sender prints True."""
    with qtbot.waitSignal(server.sig_message, timeout=WAIT_MS) as blocker:
        proc = start_client(location, message)
    assert blocker.args == [message]
    assert finish(qtbot, proc).strip() == "True"


def test_open_run_from_another_process(qtbot: QtBot, make_server: Callable[[Path], InstanceServer], tmp_path: Path):
    server = make_server(tmp_path / "ws")
    assert server.listen()
    round_trip(qtbot, server, tmp_path / "ws", open_run_message("e_1700000000_abc123"))
    round_trip(qtbot, server, tmp_path / "ws", raise_message())


def test_nobody_listening_is_false_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    assert send_to_running_instance(str(tmp_path / "ws"), raise_message()) is False
    assert time.monotonic() - started < 0.5


def test_stale_socket_is_removed(qtbot: QtBot, make_server: Callable[[Path], InstanceServer], tmp_path: Path) -> None:
    path = socket_path(str(tmp_path / "ws"))
    crashed = socket.socket(socket.AF_UNIX)
    crashed.bind(path)  # a studio that died without removing its socket
    crashed.close()
    assert os.path.exists(path)
    started = time.monotonic()
    assert send_to_running_instance(str(tmp_path / "ws"), raise_message()) is False
    assert time.monotonic() - started < 0.5

    server = make_server(tmp_path / "ws")
    assert server.listen()
    round_trip(qtbot, server, tmp_path / "ws", raise_message())


def test_second_server_for_a_workspace_refuses(make_server: Callable[[Path], InstanceServer], tmp_path: Path) -> None:
    first = make_server(tmp_path / "ws")
    second = make_server(tmp_path / "ws")
    assert first.listen()
    assert not second.listen()
    assert first.is_listening() and os.path.exists(first.path)
    first.close()
    assert not os.path.exists(first.path)
    assert second.listen()


def test_each_workspace_has_its_own_socket(make_server: Callable[[Path], InstanceServer], tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    path_a = socket_path(str(tmp_path / "a"))
    assert path_a != socket_path(str(tmp_path / "b"))
    assert path_a == socket_path(str(tmp_path / "a") + "/") == socket_path(str(tmp_path / "b" / ".." / "a"))
    assert path_a == socket_path(str(tmp_path / "link"))
    assert len(path_a) < 100
    assert make_server(tmp_path / "a").listen()
    assert make_server(tmp_path / "b").listen()


GARBAGE_CLIENT = """
import json, socket, sys
path, limit = sys.argv[1], int(sys.argv[2])

def reply(conn):
    data = b""
    while not data.endswith(b"\\n"):
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)

results = {}
with socket.socket(socket.AF_UNIX) as conn:
    conn.connect(path)
    conn.sendall(b"\\xff\\xfe not json\\n")
    results["bytes"] = reply(conn)
    conn.sendall(b"[1, 2]\\n")
    results["list"] = reply(conn)
    conn.sendall(b'{"action": "open_run", "run_id": ')
    conn.sendall(b'"half"}\\n')  # a message in two pieces is still one message
    results["split"] = reply(conn)
with socket.socket(socket.AF_UNIX) as conn:
    conn.connect(path)  # connects and leaves at once
with socket.socket(socket.AF_UNIX) as conn:
    conn.connect(path)
    try:
        conn.sendall(b"x" * (limit + 50_000))
        results["huge"] = reply(conn)
        results["huge_closed"] = conn.recv(10) == b""
    except ConnectionError:
        results["huge"], results["huge_closed"] = None, True
print(json.dumps(results))
"""


def test_garbage_and_huge_input_are_dropped(
    qtbot: QtBot, make_server: Callable[[Path], InstanceServer], tmp_path: Path
) -> None:
    server = make_server(tmp_path / "ws")
    assert server.listen()
    received: list[dict[str, Any]] = []
    server.sig_message.connect(received.append)
    code = f"import sys; sys.argv[1:] = [{server.path!r}, '{MAX_MESSAGE_BYTES}']\n{GARBAGE_CLIENT}"
    results = json.loads(finish(qtbot, start_python(code)))
    assert results["bytes"] == {"ok": False, "error": "not a JSON object"}
    assert results["list"] == {"ok": False, "error": "not a JSON object"}
    assert results["split"] == {"ok": True}
    assert results["huge"] in (None, {"ok": False, "error": "message too large"})
    assert results["huge_closed"]
    qtbot.waitUntil(lambda: len(received) == 1, timeout=WAIT_MS)
    assert received == [{"action": "open_run", "run_id": "half"}]

    round_trip(qtbot, server, tmp_path / "ws", open_run_message("after_garbage"))
    assert server.is_listening()


def test_socket_folder_is_private(runtime_dir: Path, tmp_path: Path) -> None:
    folder = Path(socket_path(str(tmp_path / "ws"))).parent
    assert folder == runtime_dir / "studio"
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o755)
    with pytest.raises(SocketFolderError, match="other users"):
        socket_path(str(tmp_path / "ws"))


def test_too_long_runtime_dir_falls_back_to_temp(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path, tmp_path: Path
) -> None:
    long_dir = runtime_dir / ("x" * 80)
    long_dir.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(runtime_dir))
    path = socket_path(str(tmp_path / "ws"))
    assert Path(path).parent == runtime_dir / f"studio-{os.getuid()}"
    assert Path(path).parent.stat().st_mode & 0o777 == 0o700
    assert len(path) < 100


def test_run_details_starts_the_studio_on_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from studio.sdk import Experiment, Workspace, widgets
    from studio.sdk.offline import OfflineRun

    calls: list[tuple[list[str], dict[str, Any]]] = []

    class Started:
        def poll(self) -> int | None:
            return None

    def launcher(command: list[str], **options: Any) -> Started:
        calls.append((command, options))
        return Started()

    monkeypatch.setattr(widgets, "_launch", launcher)
    monkeypatch.setattr(widgets, "_children", [])
    workspace = Workspace(tmp_path / "ws")
    try:
        run = Experiment(workspace, "e").start_logging()
        widgets.RunDetails(run).show()
        run.complete()
    finally:
        workspace.backend.workspace.close()
    assert calls == [
        (
            [sys.executable, "-m", "studio", "--workspace", str(tmp_path / "ws"), "--open-run", run.id],
            {
                "stdin": subprocess.DEVNULL,
                "stdout": subprocess.DEVNULL,
                "stderr": subprocess.DEVNULL,
                "close_fds": True,
                "start_new_session": True,
            },
        )
    ]
    with pytest.raises(Exception, match="offline run"):
        widgets.RunDetails(OfflineRun())  # type: ignore[arg-type]


def test_run_details_says_so_in_a_notebook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from studio.sdk import Experiment, Workspace, widgets

    shown: list[tuple[dict[str, str], dict[str, Any]]] = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()  # type: ignore[attr-defined]
    display = types.ModuleType("IPython.display")
    display.display = lambda data, **options: shown.append((data, options))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setattr(widgets, "_launch", lambda command, **options: None)
    monkeypatch.setattr(widgets, "_children", [])
    workspace = Workspace(tmp_path / "ws")
    try:
        run = Experiment(workspace, "e").start_logging()
        widgets.RunDetails(run).show()
        run.complete()
    finally:
        workspace.backend.workspace.close()
    assert shown == [
        (
            {"text/plain": f"Opened run {run.id} in Studio.", "text/html": f"<p>Opened run {run.id} in Studio.</p>"},
            {"raw": True},
        )
    ]


class FakeWindow(QWidget):
    """What HandOverFollower needs of the main window: the workspace-opened signal and handle_message."""

    sig_workspace_opened = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    def handle_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def test_the_hand_over_follows_the_workspace_the_window_opens(qtbot: QtBot, tmp_path: Path) -> None:
    from studio.ui.shell.open_request import HandOverFollower

    first, second = tmp_path / "first", tmp_path / "second"
    window = FakeWindow()
    qtbot.addWidget(window)
    server = InstanceServer(str(first))
    assert server.listen()
    follower = HandOverFollower(window, server, str(first))  # type: ignore[arg-type]
    try:
        assert finish(qtbot, start_client(first, raise_message())).strip() == "True"
        window.sig_workspace_opened.emit(str(second))  # the user opened another workspace in the window
        assert follower.location == str(second)
        assert finish(qtbot, start_client(first, raise_message())).strip() == "False"  # gets a window of its own
        assert finish(qtbot, start_client(second, open_run_message("e_1700000000_abc123"))).strip() == "True"
        assert window.messages == [raise_message(), open_run_message("e_1700000000_abc123")]
    finally:
        follower.close()


def test_a_workspace_another_studio_shows_stays_with_that_studio(
    qtbot: QtBot, make_server: Callable[[Path], InstanceServer], tmp_path: Path
) -> None:
    from studio.ui.shell.open_request import HandOverFollower

    other = make_server(tmp_path / "other")  # another studio's window on it
    assert other.listen()
    window = FakeWindow()
    qtbot.addWidget(window)
    server = InstanceServer(str(tmp_path / "mine"))
    assert server.listen()
    follower = HandOverFollower(window, server, str(tmp_path / "mine"))  # type: ignore[arg-type]
    try:
        window.sig_workspace_opened.emit(str(tmp_path / "other"))
        assert follower.server is None  # ours listens nowhere
        with qtbot.waitSignal(other.sig_message, timeout=WAIT_MS):
            proc = start_client(tmp_path / "other", raise_message())
        assert finish(qtbot, proc).strip() == "True" and window.messages == []
    finally:
        follower.close()
