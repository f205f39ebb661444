"""One script job executed by a compute daemon, in a thread of its own.

The job's script runs in a working copy of the snapshot, in its own process group,
with the run context in its environment. stdout goes straight to
``user_logs/std_log.txt``; stderr is copied there line by line by a reader thread that
keeps the last lines for the error message. ``outputs`` and ``logs`` in the working
folder are links into the run's files, so they are visible while the job runs.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from studio.core.status import RunStatus
from studio.workspaces.local import runs_store
from studio.workspaces.local.compute import environments, interpreter, jobs_store
from studio.workspaces.local.workspace import LocalWorkspace

#: Seconds between SIGTERM and SIGKILL when a job is canceled ($STUDIO_CANCEL_GRACE_S overrides).
CANCEL_GRACE_S = float(os.environ.get("STUDIO_CANCEL_GRACE_S", "5"))
STD_LOG = "user_logs/std_log.txt"
BUILD_LOG = "system_logs/environment_build.log"


class Job:
    """A claimed run, from working copy to final status."""

    def __init__(self, ws: LocalWorkspace, compute: str, seq: int, run_id: str, work_root: Path) -> None:
        self.ws = ws
        self.compute = compute
        self.seq = seq
        self.run_id = run_id
        self.work_dir = work_root / run_id
        self.process: subprocess.Popen[bytes] | None = None
        self.cancel_reason = ""
        self._cancel = threading.Event()
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self.thread = threading.Thread(target=self._main, name=f"job-{run_id}", daemon=True)

    def start(self) -> None:
        """Begin preparing and running the job in the background."""
        self.thread.start()

    @property
    def done(self) -> bool:
        """True once the job reached its final status."""
        return not self.thread.is_alive()

    def cancel(self, reason: str) -> None:
        """Stop the job: SIGTERM to its process group, SIGKILL after a grace period."""
        if self._cancel.is_set():
            return
        self.cancel_reason = reason
        self._cancel.set()
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    # -- the job thread ------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            status, reason, error = self._execute()
        except Exception as exc:
            status, reason, error = RunStatus.FAILED, f"The job could not run: {exc}", {"message": str(exc)}
        if self._cancel.is_set() and status != RunStatus.COMPLETED:
            status, reason, error = RunStatus.CANCELED, self.cancel_reason, None
        self._set_status(status, reason, error)
        with self.ws.write() as conn:
            jobs_store.set_job_pid(conn, self.seq, None)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.ws.close_thread_connection()

    def _execute(self) -> tuple[RunStatus, str, dict[str, Any] | None]:
        conn = self.ws.connection()
        _, details = runs_store.run_details(conn, self.seq)
        run_root = self.ws.run_dir(self.run_id)
        (run_root / "system_logs").mkdir(parents=True, exist_ok=True)
        with (run_root / BUILD_LOG).open("a", encoding="utf-8") as log:
            try:
                base = interpreter.job_python()
            except interpreter.InterpreterError as exc:
                log.write(f"{exc}\n")
                return RunStatus.FAILED, str(exc), {"code": "InterpreterUnusable", "message": str(exc)}
            try:
                python = environments.python_for(self.ws.root / "envs", details.get("environment"), log, base)
            except environments.EnvironmentBuildError as exc:
                return (
                    RunStatus.FAILED,
                    "The environment build failed; see system_logs/environment_build.log.",
                    {
                        "code": "EnvironmentBuildFailed",
                        "message": str(exc),
                    },
                )
        if self._cancel.is_set():
            return RunStatus.CANCELED, self.cancel_reason, None
        self._prepare_work_dir(run_root)
        self._set_status(RunStatus.STARTING, "Starting the script.")
        code = self._run_script(python, details, run_root, base)
        self._set_status(RunStatus.FINALIZING, "Collecting outputs.")
        self._collect(run_root)
        if self._cancel.is_set():
            return RunStatus.CANCELED, self.cancel_reason, None
        if code == 0:
            return RunStatus.COMPLETED, "", None
        message = _exit_message(code, list(self._tail))
        return RunStatus.FAILED, message.splitlines()[0], {"code": "UserError", "message": message}

    def _prepare_work_dir(self, run_root: Path) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)
        snapshot = run_root / "snapshot"
        if snapshot.is_dir():
            shutil.copytree(snapshot, self.work_dir, symlinks=False)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for name in ("outputs", "logs"):
            target = run_root / name
            target.mkdir(parents=True, exist_ok=True)
            link = self.work_dir / name
            if link.is_dir() and not link.is_symlink():
                shutil.copytree(link, target, dirs_exist_ok=True)  # files shipped in the snapshot
                shutil.rmtree(link)
            try:
                link.symlink_to(target, target_is_directory=True)
            except OSError:
                link.mkdir(exist_ok=True)  # no symlinks here: collected at the end instead

    def _run_script(self, python: str, details: dict[str, Any], run_root: Path, base: interpreter.Interpreter) -> int:
        env = interpreter.job_environment(base, dict(os.environ))
        env.update(
            {
                "STUDIO_RUN_ID": self.run_id,
                "STUDIO_WORKSPACE": str(self.ws.root),
                "STUDIO_EXPERIMENT": str(details.get("experiment", "")),
                "AZUREML_RUN_ID": self.run_id,
                "PYTHONUNBUFFERED": "1",
            }
        )
        args = [python, details["script"], *details.get("arguments", [])]
        (run_root / "user_logs").mkdir(parents=True, exist_ok=True)
        with (run_root / STD_LOG).open("ab", buffering=0) as out:
            self.process = subprocess.Popen(
                args,
                cwd=self.work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            with self.ws.write() as conn:
                jobs_store.set_job_pid(conn, self.seq, self.process.pid)
            self._set_status(RunStatus.RUNNING, "")
            reader = threading.Thread(target=self._copy_stderr, args=(out,), daemon=True)
            reader.start()
            code = self._wait()
            reader.join(timeout=5)
        return code

    def _wait(self) -> int:
        proc = self.process
        assert proc is not None
        while True:
            try:
                return proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            if self._cancel.is_set():
                try:
                    return proc.wait(timeout=CANCEL_GRACE_S)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    return proc.wait()

    def _copy_stderr(self, out: Any) -> None:
        proc = self.process
        assert proc is not None and proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            out.write(line)
            self._tail.append(line.decode("utf-8", errors="replace").rstrip("\n"))

    def _collect(self, run_root: Path) -> None:
        for name in ("outputs", "logs"):
            local = self.work_dir / name
            if local.is_dir() and not local.is_symlink():
                shutil.copytree(local, run_root / name, dirs_exist_ok=True)

    def _set_status(self, status: RunStatus, reason: str, error: dict[str, Any] | None = None) -> None:
        with self.ws.write() as conn:
            runs_store.set_status(conn, self.seq, status, change=self.ws.bump_changes(conn), reason=reason, error=error)


def _exit_message(code: int, tail: list[str]) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        head = f"The script was killed by {name}."
    else:
        head = f"The script exited with code {code}."
    return head + ("\n" + "\n".join(tail) if tail else "")
