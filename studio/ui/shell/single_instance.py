"""One studio per workspace: the first studio listens on a local socket; later `studio` commands hand over.

Protocol: one JSON object per line (UTF-8) from the client; the server answers each with one JSON line,
``{"ok": true}`` when it took the message, ``{"ok": false, "error": "..."}`` when it did not. Messages:
``{"action": "raise"}``, ``{"action": "open_run", "run_id": "..."}`` and
``{"action": "open_experiment", "experiment": "..."}``.

The socket lives in a folder only the user can enter, named by a hash of the workspace's location.
The client side (:func:`send_to_running_instance`) uses blocking calls and needs no QCoreApplication,
so the CLI can ask before it creates its QApplication.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import time
import warnings
from typing import Any

from PySide6.QtCore import QLockFile, QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from studio.core.errors import StudioError

MAX_MESSAGE_BYTES = 64 * 1024
"""A longer line is dropped and its connection closed."""
IDLE_TIMEOUT_MS = 10_000
"""A client that sends nothing for this long is disconnected."""
PROBE_TIMEOUT_MS = 500
ACTION_RAISE = "raise"
ACTION_OPEN_RUN = "open_run"
ACTION_OPEN_EXPERIMENT = "open_experiment"
_MAX_PATH = 100  # sun_path is 104 bytes on macOS, 108 on Linux
_NAME_LEN = 24  # hex digits of the location's hash: 96 bits


class SocketFolderError(StudioError):
    """The folder for the studio's socket is not private to the user."""


def raise_message() -> dict[str, Any]:
    """The message that brings the running studio's window to the front."""
    return {"action": ACTION_RAISE}


def open_run_message(run_id: str) -> dict[str, Any]:
    """The message that makes the running studio show a run."""
    return {"action": ACTION_OPEN_RUN, "run_id": run_id}


def open_experiment_message(experiment: str) -> dict[str, Any]:
    """The message that makes the running studio show an experiment's runs."""
    return {"action": ACTION_OPEN_EXPERIMENT, "experiment": experiment}


def normalized_location(workspace_location: str) -> str:
    """The location as one string per workspace: a resolved absolute folder, or a lower-cased Azure id."""
    text = workspace_location.strip()
    if "://" in text or text.lower().startswith("/subscriptions/"):
        return text.rstrip("/").lower()
    return os.path.normcase(os.path.realpath(os.path.expanduser(text)))


def socket_path(workspace_location: str) -> str:
    """The socket of the studio for ``workspace_location``; SocketFolderError if its folder is not private."""
    name = hashlib.sha256(normalized_location(workspace_location).encode("utf-8")).hexdigest()[:_NAME_LEN]
    # A named pipe (\\.\pipe\<name>); folders and modes do not apply.
    if sys.platform == "win32":
        return f"studio-{os.environ.get('USERNAME', 'user')}-{name}"
    return os.path.join(_socket_folder(), f"{name}.sock")


def _socket_folder() -> str:
    """The first private folder that can be made and keeps socket paths short enough."""
    uid = os.getuid()
    candidates = [os.path.join(tempfile.gettempdir(), f"studio-{uid}"), f"/tmp/studio-{uid}"]
    # platformdirs warns when $XDG_RUNTIME_DIR is unset or not private.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import platformdirs

        try:
            candidates.insert(0, platformdirs.user_runtime_dir("studio", appauthor=False))
        except OSError:  # no safe runtime folder
            pass
    for folder in candidates:
        if len(os.fsencode(folder)) + _NAME_LEN + len("/.sock.lock") > _MAX_PATH:
            continue
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError:
            continue
        _check_private(folder, uid)
        return folder
    raise SocketFolderError(f"No folder for the studio's socket can be created (tried {', '.join(candidates)}).")


def _check_private(folder: str, uid: int) -> None:
    """Refuse a folder that is a symlink, is not ours, or that others can enter, or whose parent another user owns."""
    info = os.lstat(folder)
    problem = ""
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder"
    elif info.st_uid != uid:
        problem = f"belongs to user id {info.st_uid}, not {uid}"
    elif info.st_mode & 0o077:
        problem = f"can be read by other users (mode {stat.S_IMODE(info.st_mode):o}, expected 700)"
    elif os.stat(os.path.dirname(folder)).st_uid not in (uid, 0):
        problem = "is inside a folder another user owns"
    if problem:
        raise SocketFolderError(
            f"The studio's socket folder {folder} {problem}; remove it (or fix it) and start the studio again."
        )


def _reply(ok: bool, error: str = "") -> bytes:
    return (json.dumps({"ok": True} if ok else {"ok": False, "error": error}) + "\n").encode("utf-8")


class _Connection:
    """One client: reads lines, answers each, passes the good ones on.

    A plain Python object: the socket stays a child of the QLocalServer (as Qt made it) and is
    released with deleteLater once it disconnects; the server keeps us alive until then.
    """

    def __init__(self, sock: QLocalSocket, server: InstanceServer) -> None:
        self._server = server
        self._sock = sock
        self._buffer = bytearray()
        self._closing = False
        sock.readyRead.connect(self._read)
        sock.disconnected.connect(self._gone)
        self._idle = QTimer(sock)
        self._idle.setSingleShot(True)
        self._idle.setInterval(IDLE_TIMEOUT_MS)
        self._idle.timeout.connect(self.close)
        self._idle.start()

    def _gone(self) -> None:
        self._idle.stop()
        self._server._connections.discard(self)
        self._sock.deleteLater()

    def _read(self) -> None:
        if self._closing:
            self._sock.readAll()
            return
        self._idle.start()
        self._buffer += bytes(self._sock.readAll().data())
        while (end := self._buffer.find(b"\n")) >= 0 and not self._closing:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._handle(line)
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            self._sock.write(_reply(False, "message too large"))
            self.close()

    def _handle(self, line: bytes) -> None:
        if len(line) > MAX_MESSAGE_BYTES:
            self._sock.write(_reply(False, "message too large"))
            self.close()
            return
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            message = None
        if not isinstance(message, dict):
            self._sock.write(_reply(False, "not a JSON object"))
            return
        self._sock.write(_reply(True))
        self._sock.flush()
        self._server._received.emit(message)

    def close(self) -> None:
        """Stop reading; send what is pending and disconnect."""
        self._closing = True
        self._buffer.clear()
        self._sock.disconnectFromServer()


class InstanceServer(QObject):
    """Listens for other `studio` commands on the workspace's socket; create it on the GUI thread.

    The constructor raises SocketFolderError when the socket folder is not private to the user.
    """

    sig_message = Signal(dict)
    """A JSON object another studio command sent, e.g. ``{"action": "open_run", "run_id": "..."}``.

    Emitted on the thread the server lives in (the GUI thread), after the sender got its acknowledgement.
    The content is unchecked beyond being a JSON object: validate ``action`` and its fields before use."""

    # Queued into sig_message, so a slot never runs inside a socket's readyRead.
    _received = Signal(dict)

    def __init__(self, workspace_location: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = socket_path(workspace_location)
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._accept)
        self._connections: set[_Connection] = set()
        self._received.connect(self.sig_message, Qt.ConnectionType.QueuedConnection)

    def listen(self) -> bool:
        """Start listening; False if a live studio already listens for this workspace.

        A socket file that nobody answers on (left by a crashed studio) is removed first. A lock file
        around the check keeps two studios starting at once from both listening.
        """
        if self._server.isListening():
            return True
        lock = QLockFile(self.path + ".lock")
        if not lock.tryLock(2 * PROBE_TIMEOUT_MS):
            return False
        try:
            if self._server.listen(self.path):
                return True
            if self._server.serverError() != QAbstractSocket.SocketError.AddressInUseError or _answers(self.path):
                return False
            QLocalServer.removeServer(self.path)
            return self._server.listen(self.path)
        finally:
            lock.unlock()

    def is_listening(self) -> bool:
        """True between a successful listen() and close()."""
        return self._server.isListening()

    def close(self) -> None:
        """Stop listening (removing the socket file) and drop open connections."""
        self._server.close()
        for connection in list(self._connections):
            connection.close()

    def _accept(self) -> None:
        while (sock := self._server.nextPendingConnection()) is not None:
            self._connections.add(_Connection(sock, self))


def _answers(path: str) -> bool:
    """True if a server accepts connections on ``path``."""
    probe = QLocalSocket()
    probe.connectToServer(path)
    alive = probe.waitForConnected(PROBE_TIMEOUT_MS)
    probe.abort()
    return alive


def send_to_running_instance(workspace_location: str, message: dict[str, Any], timeout_ms: int = 1000) -> bool:
    """Send ``message`` to the studio running for ``workspace_location``; True once it acknowledged it.

    False if no studio listens, or it does not answer within ``timeout_ms``. Blocking and without an event
    loop: call it from the CLI (no QCoreApplication needed), never on the thread of that workspace's server.
    """
    payload = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"The message is longer than {MAX_MESSAGE_BYTES} bytes.")
    deadline = time.monotonic() + timeout_ms / 1000

    def left_ms() -> int:
        return max(0, int((deadline - time.monotonic()) * 1000))

    sock = QLocalSocket()
    sock.connectToServer(socket_path(workspace_location))
    try:
        if not sock.waitForConnected(left_ms()):
            return False
        sock.write(payload)
        while sock.bytesToWrite() > 0:
            if not sock.waitForBytesWritten(left_ms()):
                return False
        while not sock.canReadLine():
            if not sock.waitForReadyRead(left_ms()):
                return False
        try:
            reply = json.loads(bytes(sock.readLine().data()).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return False
        return isinstance(reply, dict) and reply.get("ok") is True
    finally:
        sock.abort()
