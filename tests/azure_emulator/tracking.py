"""The real ``mlflow server`` behind the emulator's MLflow endpoint, started in the background.

The SQLite schema is created first by one short process (the server's two workers would otherwise both run
the migrations: ~25 s instead of ~13 s on this machine), then the server starts; all of it on a thread, so
the session fixture returns at once and only tests that touch MLflow wait (``url()``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

from tests.mlflow_server import QUIET_ENV, MlflowServer, launch_mlflow_server, wait_until_healthy

SCHEMA_SCRIPT = "import sys; from mlflow import MlflowClient; MlflowClient(sys.argv[1]).search_experiments()"


class BackgroundMlflow:
    """Start ``mlflow server`` (SQLite store under ``root``) on a thread; ``url()`` waits for it."""

    def __init__(self, root: Path, workers: int = 2) -> None:
        self._root = root
        self._workers = workers
        self._future: Future[str] = Future()
        self._lock = threading.Lock()
        self._stopped = False
        self._schema: subprocess.Popen[bytes] | None = None
        self.server: MlflowServer | None = None
        threading.Thread(target=self._run, name="mlflow-server-start", daemon=True).start()

    def url(self) -> str:
        """The server's base URL once /health answers (raises what the start raised)."""
        return self._future.result()

    @property
    def database_path(self) -> Path:
        """The server's SQLite store (the submit emulator names a submitted job's run in it)."""
        return self._root / "mlflow.db"

    def stop(self) -> None:
        """Stop the server, or the start under way."""
        with self._lock:
            self._stopped = True
            schema, server = self._schema, self.server
        if schema is not None and schema.poll() is None:
            schema.kill()
            schema.wait()
        if server is not None:
            server.stop()

    def _run(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, **QUIET_ENV}
            with self._lock:
                if self._stopped:
                    raise RuntimeError("stopped before it started")
                self._schema = subprocess.Popen(
                    [sys.executable, "-c", SCHEMA_SCRIPT, f"sqlite:///{self._root / 'mlflow.db'}"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            _, error = self._schema.communicate()
            if self._schema.returncode != 0:
                raise RuntimeError(f"creating the mlflow schema failed:\n{error.decode(errors='replace')[-2000:]}")
            with self._lock:
                if self._stopped:
                    raise RuntimeError("stopped before it started")
                self.server = launch_mlflow_server(self._root, workers=self._workers)
            wait_until_healthy(self.server)
            self._future.set_result(self.server.url)
        except BaseException as error:  # handed to whoever waits in url()
            self._future.set_exception(error)
