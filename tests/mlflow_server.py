"""A real ``mlflow server`` on 127.0.0.1 for tests and benchmarks: start, wait until it answers, stop.

The server runs in a process group of its own (``start_new_session``), so stopping it ends the uvicorn
workers it forks too, and nothing is left behind. Telemetry is switched off: tests stay offline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 90.0
"""A cold start imports all of mlflow and runs the SQLite migrations: ~5-10 s here, more on a busy machine."""

QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",  # mlflow 3 reports usage over the network unless told not to
    "DO_NOT_TRACK": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # no "View run ... at: <url>" line per ended run
    # No job runner: by default mlflow 3 starts ~7 huey consumer processes that each import mlflow (seconds of
    # CPU and ~230 MB each on start-up); the studio runs no MLflow jobs.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiet_mlflow_environment() -> None:
    """Turn mlflow's telemetry off in this process, before ``mlflow`` is imported (MlflowClient in fillers)."""
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)


@dataclass
class MlflowServer:
    """A running ``mlflow server``: its URL, its folder and its process."""

    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    launched_at: float = 0.0
    started_in_s: float = field(default=0.0)
    """Seconds from launch until /health answered."""

    def stop(self) -> None:
        """End the server and its workers (the whole process group); kill what ignores SIGTERM."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        # Workers of the group that outlived their parent (each was sent the same signal): reap by group.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_mlflow_server(root: Path, *, workers: int = 2, extra_args: tuple[str, ...] = ()) -> MlflowServer:
    """Start ``mlflow server`` with a SQLite store and served artifacts under ``root``; return once /health answers.

    ``workers`` uvicorn processes answer requests (2 on this 2-core machine lets concurrent fetches overlap).
    """
    server = launch_mlflow_server(root, workers=workers, extra_args=extra_args)
    wait_until_healthy(server)
    return server


def launch_mlflow_server(root: Path, *, workers: int = 2, extra_args: tuple[str, ...] = ()) -> MlflowServer:
    """Start the server process and return at once (``wait_until_healthy`` waits for it)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    args = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(root / "artifacts"),
        *extra_args,
    ]
    env = {**os.environ, **QUIET_ENV}
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return MlflowServer(url, root, process, log_path, launched_at=started)


def wait_until_healthy(server: MlflowServer, timeout: float = START_TIMEOUT_S) -> None:
    """Poll GET /health every 50 ms until it answers 200; stop the server and raise if it dies or the time runs out."""
    try:
        _poll_health(server, time.monotonic() + timeout)
    except BaseException:
        server.stop()
        raise
    server.started_in_s = time.monotonic() - server.launched_at


def warm_workers(url: str) -> None:
    """A few concurrent searches, so each worker process has imported and opened its store before it is used."""

    def search(_: int) -> None:
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/experiments/search",
            data=b'{"max_results": 10}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(search, range(4)))


def _poll_health(server: MlflowServer, deadline: float) -> None:
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not answer /health within {START_TIMEOUT_S} s:\n{server.log_tail()}")
        time.sleep(0.05)
