"""Start and stop Azurite's blob service (npm package ``azurite``) on a free loopback port, with TLS.

Installed by ``.ci/run`` and the README's test command into ``/work/main/.azurite`` (git-ignored):
``npm install --no-audit --no-fund --prefix .azurite azurite@3.37.0``. Found there or on PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.azure_emulator.certs import ServerCert

REPO = Path(__file__).resolve().parents[2]
INSTALL_COMMAND = "npm install --no-audit --no-fund --prefix .azurite azurite@3.37.0"
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key (public, documented by Azurite)."""
START_TIMEOUT_S = 30.0


class AzuriteMissing(RuntimeError):
    """Azurite is not installed where the tests look for it."""


def azurite_executable() -> str:
    """The ``azurite-blob`` launcher: the repository's ``.azurite`` install first, then PATH."""
    local = REPO / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise AzuriteMissing(
        f"Azurite is not installed: run `{INSTALL_COMMAND}` in {REPO} (needs Node.js and npm), as .ci/run does"
    )


@dataclass
class Azurite:
    """A running Azurite blob service: its port, process and log."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    launched_at: float

    @property
    def path_style_url(self) -> str:
        """The account's path-style URL on loopback (the public host name goes through the proxy instead)."""
        return f"https://127.0.0.1:{self.port}/{ACCOUNT_NAME}"

    def wait_until_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Return once the port accepts connections; stop and raise if the process dies or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Azurite exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Azurite did not listen within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """End Azurite (its whole process group)."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines Azurite wrote, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def launch_azurite(folder: Path, cert: ServerCert) -> Azurite:
    """Start Azurite's blob service with TLS on a free port and return at once (``wait_until_ready`` waits)."""
    executable = azurite_executable()
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = folder / "azurite.log"
    args = [
        executable,
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
        "--cert",
        str(cert.cert_path),
        "--key",
        str(cert.key_path),
    ]
    env = {k: v for k, v in os.environ.items() if k.upper() not in {"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"}}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args,
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Azurite(port, process, log_path, time.monotonic())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
