"""`studio compute ...` and `studio job ...` end to end, as a user runs them.

Every command is a real ``python -m studio`` process against a workspace in
``tmp_path``; jobs are real scripts executed by real (detached) compute daemons.
Daemons outlive the command that started them, so the ``cli`` fixture stops every
instance at teardown and then makes sure no daemon or job process of the test's
workspace is left (killing a leftover by its pid, and failing the test if it had to).
Every wait polls against a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from tests.waiting import wait_until

T = TypeVar("T")

#: Longest any single wait may take before it counts as a hang.
DEADLINE_S = 30.0
#: Longest any single `studio` command may take.
COMMAND_TIMEOUT_S = 60.0

TRAIN = """
    import sys
    from pathlib import Path

    from studio.sdk import Run

    print("args:", " ".join(sys.argv[1:]), flush=True)
    run = Run.get_context()
    run.log("lr", float(sys.argv[sys.argv.index("--lr") + 1]))
    Path("outputs").mkdir(exist_ok=True)
    Path("outputs", "result.txt").write_text("result: ok\\n", encoding="utf-8")
    print("training done", flush=True)
"""

SLEEPER = """
    import os
    import time

    print("sleeper pid", os.getpid(), flush=True)
    while True:
        time.sleep(0.05)
"""

FAILING = """
    import sys

    print("about to fail", flush=True)
    print("the data file is corrupt", file=sys.stderr, flush=True)
    sys.exit(3)
"""

STUBBORN = """
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    while True:
        time.sleep(0.05)
"""

#: One byte short of the 1 MiB that `job logs` reads at a time, then a two-byte character.
WIDE = r"""
    import sys

    sys.stdout.write("a" * ((1 << 20) - 1) + "\u00e9\n")
    sys.stdout.write("na\u00efve\n")
"""


def process_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Cli:
    """Runs `studio` commands against one workspace, the way a user types them."""

    def __init__(self, workspace: Path, cwd: Path) -> None:
        self.workspace = workspace
        self.cwd = cwd
        self.env = {
            **os.environ,
            "STUDIO_CANCEL_GRACE_S": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
        }
        self.env.pop("STUDIO_WORKSPACE", None)
        self.env.pop("STUDIO_RUN_ID", None)

    def run(
        self, *args: str, ws: str = "after", timeout: float = COMMAND_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """Run ``studio ARGS``; ``ws`` puts --workspace before the subcommand or after it."""
        if ws == "before":
            argv = ["--workspace", str(self.workspace), *args]
        else:  # after `studio GROUP ACTION`, before any positional (job submit takes a remainder)
            argv = [*args[:2], "--workspace", str(self.workspace), *args[2:]]
        return subprocess.run(
            [sys.executable, "-m", "studio", *argv],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )

    def ok(self, *args: str, ws: str = "after", timeout: float = COMMAND_TIMEOUT_S) -> str:
        """Run a command that must succeed silently on stderr; returns its stdout."""
        out = self.run(*args, ws=ws, timeout=timeout)
        assert out.returncode == 0, f"studio {' '.join(args)} failed ({out.returncode}): {out.stderr}"
        assert "Traceback" not in out.stderr, out.stderr
        return out.stdout

    def json(self, *args: str, ws: str = "after") -> Any:
        """Run a command with ``--output json`` and parse what it prints."""
        return json.loads(self.ok(*args[:2], "--output", "json", *args[2:], ws=ws))

    def error(self, *args: str, ws: str = "after") -> str:
        """Run a command that must fail with one ``studio: error:`` line; returns that line."""
        out = self.run(*args, ws=ws)
        assert out.returncode != 0, f"studio {' '.join(args)} succeeded: {out.stdout}"
        assert "Traceback" not in out.stderr, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, f"studio {' '.join(args)}: expected one error line, got {out.stderr!r}"
        assert lines[0].startswith("studio: error: "), lines[0]
        assert out.stdout == "", out.stdout
        return lines[0]

    # -- shortcuts -----------------------------------------------------------------------------

    def instances(self) -> dict[str, dict[str, Any]]:
        """`compute list`, by name."""
        return {c["name"]: c for c in self.json("compute", "list")}

    def show(self, run_id: str) -> dict[str, Any]:
        """`job show RUN` as JSON."""
        return self.json("job", "show", run_id)

    def wait_status(self, run_id: str, *statuses: str) -> dict[str, Any]:
        """Poll `job show` until the run is in one of ``statuses``."""
        seen: list[str] = []

        def probe() -> dict[str, Any] | None:
            info = self.show(run_id)
            seen.append(info["status"])
            return info if info["status"] in statuses else None

        try:
            return wait_until(probe, f"run {run_id} in {statuses}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; statuses seen {sorted(set(seen))}") from None

    def submit(self, experiment: str, script: str, *script_args: str, compute: str | None = None) -> dict[str, Any]:
        """`job submit` (with --workspace before the subcommand) as JSON."""
        opts = ["--experiment", experiment, "--source-dir", str(self.cwd / "src"), "--output", "json"]
        if compute:
            opts += ["--compute", compute]
        args = [script, "--", *script_args] if script_args else [script]
        return json.loads(self.ok("job", "submit", *opts, *args, ws="before"))

    def daemon_pid(self, name: str) -> int | None:
        """The daemon pid the workspace records for an instance (read with plain SQL)."""
        conn = sqlite3.connect(str(self.workspace / "workspace.db"), timeout=30)
        try:
            row = conn.execute("SELECT pid FROM compute_instances WHERE name = ?", (name,)).fetchone()
        finally:
            conn.close()
        return None if row is None else row[0]

    # -- teardown ------------------------------------------------------------------------------

    def _our_processes(self) -> list[psutil.Process]:
        """Daemons of this workspace, and scripts running for it."""
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                cmd = proc.info["cmdline"] or []
                daemon = "studio.workspaces.local.compute.daemon" in cmd and str(self.workspace) in cmd
                if daemon or (
                    proc.pid != os.getpid() and proc.environ().get("STUDIO_WORKSPACE") == str(self.workspace)
                ):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def cleanup(self) -> list[str]:
        """Stop every instance; kill (by pid) whatever still runs; returns what had to be killed."""
        try:
            if (self.workspace / "workspace.db").exists():
                for name, inst in self.instances().items():
                    if inst["state"] != "Stopped":
                        self.run("compute", "stop", name)
        finally:
            leftovers: list[str] = []
            deadline = time.monotonic() + 10
            while (procs := self._our_processes()) and time.monotonic() < deadline:
                time.sleep(0.05)  # a stopped daemon exits a moment after it records Stopped
            for proc in procs:
                try:
                    leftovers.append(f"{proc.pid} {' '.join(proc.cmdline())}")
                    proc.kill()
                except psutil.Error:
                    pass
        return leftovers


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """A `studio` runner on a new workspace, with script sources in ``tmp_path/src``."""
    src = tmp_path / "src"
    src.mkdir()
    scripts = {
        "train.py": TRAIN,
        "sleeper.py": SLEEPER,
        "failing.py": FAILING,
        "stubborn.py": STUBBORN,
        "wide.py": WIDE,
    }
    for name, text in scripts.items():
        (src / name).write_text(textwrap.dedent(text), encoding="utf-8")
    runner = Cli(tmp_path / "ws", tmp_path)
    try:
        yield runner
    finally:
        leftovers = runner.cleanup()
    assert not leftovers, f"processes still running after every instance was stopped: {leftovers}"


# -- compute -------------------------------------------------------------------------------------


def test_compute_lifecycle(cli: Cli) -> None:
    listed = cli.json("compute", "list")
    assert [c["name"] for c in listed] == ["local"]
    assert listed[0]["state"] == "Stopped" and listed[0]["running_jobs"] == 0 and listed[0]["queued_jobs"] == 0
    # --workspace and --output work before the subcommand too.
    out = cli.run("--output", "json", "compute", "list", ws="before")
    assert out.returncode == 0, out.stderr
    assert [c["name"] for c in json.loads(out.stdout)] == ["local"]

    created = cli.json("compute", "create", "ci1", "--max-concurrent-jobs", "2")
    assert created["name"] == "ci1" and created["state"] == "Running" and created["max_concurrent_jobs"] == 2
    instances = cli.instances()
    assert list(instances) == ["local", "ci1"]
    assert instances["ci1"]["state"] == "Running" and instances["local"]["state"] == "Stopped"
    table = cli.ok("compute", "list", ws="before")
    assert table.splitlines()[0].split()[:2] == ["NAME", "STATE"]
    assert any(line.split()[:2] == ["ci1", "Running"] for line in table.splitlines())
    first_daemon = cli.daemon_pid("ci1")
    assert first_daemon is not None and not process_gone(first_daemon)

    assert cli.json("compute", "stop", "ci1")["state"] == "Stopped"
    assert cli.instances()["ci1"]["state"] == "Stopped"
    wait_until(lambda: process_gone(first_daemon), "the stopped daemon exits")

    assert cli.json("compute", "start", "ci1", ws="before")["state"] == "Running"
    started_daemon = cli.daemon_pid("ci1")
    assert started_daemon is not None and not process_gone(started_daemon)

    assert cli.json("compute", "restart", "ci1")["state"] == "Running"
    assert cli.instances()["ci1"]["state"] == "Running"
    restarted_daemon = cli.daemon_pid("ci1")
    assert restarted_daemon not in (None, started_daemon)
    wait_until(lambda: process_gone(started_daemon), "the replaced daemon exits")

    assert cli.json("compute", "delete", "ci1") == {"name": "ci1", "deleted": True}
    assert list(cli.instances()) == ["local"]
    assert restarted_daemon is not None
    wait_until(lambda: process_gone(restarted_daemon), "the deleted instance's daemon exits")
    # Deleting it again: it is gone.
    assert "ci1" in cli.error("compute", "delete", "ci1")


def test_compute_errors_are_one_line(cli: Cli) -> None:
    refused = cli.error("compute", "delete", "local")
    assert "local" in refused and "cannot be deleted" in refused
    assert cli.instances()["local"]["state"] == "Stopped"

    for action in ("start", "stop", "restart", "delete"):
        assert "no compute instance named 'nope'" in cli.error("compute", action, "nope")
    assert "no compute instance named 'nope'" in cli.error("compute", "start", "nope", ws="before")

    for bad in ("1bad", "x", "has_underscore", "a" * 25, "-dash"):
        assert "invalid compute name" in cli.error("compute", "create", "--", bad)
    assert "already exists" in cli.error("compute", "create", "local")
    assert "max_concurrent_jobs" in cli.error("compute", "create", "ci3", "--max-concurrent-jobs", "0")
    assert list(cli.instances()) == ["local"]
    assert cli.instances()["local"]["state"] == "Stopped"

    # Mistyped commands: one error line too (with a pointer to --help), exit status 2.
    usage = cli.run("compute", "create")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert usage.stderr.strip().splitlines() == [
        "studio: error: the following arguments are required: name (see 'studio compute create --help')"
    ]


# -- jobs ----------------------------------------------------------------------------------------


def test_submit_follow_show_list_download(cli: Cli, tmp_path: Path) -> None:
    submitted = cli.submit("exp1", "train.py", "--lr", "0.5")
    run_id = submitted["id"]
    assert submitted["experiment"] == "exp1" and submitted["status"] in ("Queued", "Preparing", "Starting", "Running")

    # --follow prints the script's output and ends when the run ends.
    followed = cli.ok("job", "logs", run_id, "--follow")
    assert "args: --lr 0.5\n" in followed and "training done\n" in followed

    shown = cli.show(run_id)  # the follow ended, so the run has ended
    assert shown["status"] == "Completed", shown
    assert shown["error"] is None and shown["ended_at"] is not None
    assert "outputs/result.txt" in shown["files"] and "user_logs/std_log.txt" in shown["files"]
    assert cli.instances()["local"]["state"] in ("Running", "JobRunning")  # started by the submit

    # The metric the script logged through the SDK is in the workspace.
    from studio.workspaces.local.backend import LocalBackend

    backend = LocalBackend(cli.workspace)
    try:
        assert list(backend.get_series(run_id, "lr").values) == [0.5]
    finally:
        backend.close()

    assert cli.ok("job", "logs", run_id) == followed
    listed = cli.json("job", "list", "--experiment", "exp1")
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "Completed")]
    assert run_id in cli.ok("job", "list", ws="before")

    # Download keeps the run's layout under the output folder: D/outputs/result.txt.
    dest = tmp_path / "D"
    paths = cli.json("job", "download", run_id, "--prefix", "outputs", "--output-dir", str(dest))
    assert paths == [{"path": str(dest / "outputs" / "result.txt")}]
    assert (dest / "outputs" / "result.txt").read_text(encoding="utf-8") == "result: ok\n"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["outputs", "outputs/result.txt"]

    # A second download into the same folder refuses to overwrite.
    (dest / "outputs" / "result.txt").write_text("edited by the user\n", encoding="utf-8")
    message = cli.error("job", "download", run_id, "--prefix", "outputs", "--output-dir", str(dest))
    assert "result.txt" in message and "already exists" in message
    assert (dest / "outputs" / "result.txt").read_text(encoding="utf-8") == "edited by the user\n"


def test_job_waits_for_a_stopped_instance(cli: Cli) -> None:
    assert cli.json("compute", "create", "ci2")["state"] == "Running"
    assert cli.json("compute", "stop", "ci2")["state"] == "Stopped"

    waiting = cli.submit("exp2", "train.py", "--lr", "0.1", compute="ci2")
    assert waiting["status"] == "Queued"
    assert "waiting for compute instance ci2" in waiting["status_reason"].lower()
    dropped = cli.submit("exp2", "train.py", "--lr", "0.2", compute="ci2")
    assert cli.json("job", "cancel", dropped["id"]) == {"id": dropped["id"], "status": "Canceled"}

    shown = cli.show(waiting["id"])
    assert shown["status"] == "Queued" and "waiting for compute instance ci2" in shown["status_reason"].lower()
    instances = cli.instances()
    assert instances["ci2"]["state"] == "Stopped" and instances["ci2"]["queued_jobs"] == 1
    assert instances["local"]["state"] == "Stopped"  # a job for ci2 does not start local

    assert cli.json("compute", "start", "ci2")["state"] == "Running"
    assert "args: --lr 0.1" in cli.ok("job", "logs", waiting["id"], "--follow")
    done = cli.show(waiting["id"])
    assert done["status"] == "Completed" and "outputs/result.txt" in done["files"]

    canceled = cli.show(dropped["id"])
    assert canceled["status"] == "Canceled"
    assert not any(f.startswith(("outputs/", "user_logs/")) for f in canceled["files"])  # it never ran
    assert cli.instances()["local"]["state"] == "Stopped"

    # Deleting an instance cancels the runs still waiting for it.
    assert cli.json("compute", "stop", "ci2")["state"] == "Stopped"
    orphan = cli.submit("exp2", "train.py", "--lr", "0.3", compute="ci2")["id"]
    assert cli.json("compute", "delete", "ci2") == {"name": "ci2", "deleted": True}
    gone = cli.show(orphan)
    assert gone["status"] == "Canceled" and "deleted" in gone["status_reason"], gone
    assert "ci2" in cli.error(
        "job", "submit", "--experiment", "exp2", "--compute", "ci2", "--source-dir", str(cli.cwd / "src"), "train.py"
    )


def test_cancel_long_running_jobs(cli: Cli) -> None:
    assert cli.json("compute", "create", "ci1", "--max-concurrent-jobs", "2")["state"] == "Running"
    first = cli.submit("exp3", "sleeper.py", compute="ci1")["id"]
    second = cli.submit("exp3", "sleeper.py", compute="ci1")["id"]

    def sleeper_pid(run_id: str) -> int | None:
        for line in cli.ok("job", "logs", run_id).splitlines():
            if line.startswith("sleeper pid "):
                return int(line.split()[-1])
        return None

    # Both run at once: the instance takes two jobs.
    first_pid = wait_until(lambda: sleeper_pid(first), "the first sleeper prints its pid")
    second_pid = wait_until(lambda: sleeper_pid(second), "the second sleeper prints its pid")
    cli.wait_status(first, "Running")  # it printed, so it runs: this is only the status write catching up
    cli.wait_status(second, "Running")
    ci1 = cli.instances()["ci1"]
    assert ci1["state"] == "JobRunning" and ci1["running_jobs"] == 2

    assert cli.json("job", "cancel", first)["status"] in ("CancelRequested", "Canceled")
    canceled = cli.wait_status(first, "Canceled", "Failed", "Completed")
    assert canceled["status"] == "Canceled", canceled
    assert "cancel" in canceled["status_reason"].lower()
    wait_until(lambda: process_gone(first_pid), "the canceled script's process ends")
    assert cli.show(second)["status"] == "Running" and not process_gone(second_pid)

    cli.ok("job", "cancel", second, ws="before")
    assert cli.wait_status(second, "Canceled", "Failed", "Completed")["status"] == "Canceled"
    wait_until(lambda: process_gone(second_pid), "the second canceled script's process ends")

    # Stopping the instance cancels the job it runs.
    third = cli.submit("exp3", "sleeper.py", compute="ci1")["id"]
    third_pid = wait_until(lambda: sleeper_pid(third), "the third sleeper prints its pid")
    assert cli.json("compute", "stop", "ci1")["state"] == "Stopped"
    stopped = cli.show(third)
    assert stopped["status"] == "Canceled" and "stopped" in stopped["status_reason"], stopped
    assert process_gone(third_pid)
    statuses = {r["id"]: r["status"] for r in cli.json("job", "list", "--experiment", "exp3")}
    assert statuses == {first: "Canceled", second: "Canceled", third: "Canceled"}


def test_failing_script_is_reported(cli: Cli) -> None:
    run_id = cli.submit("exp4", "failing.py")["id"]
    log = cli.ok("job", "logs", run_id, "--follow")
    assert "about to fail" in log and "the data file is corrupt" in log
    shown = cli.show(run_id)
    assert shown["status"] == "Failed", shown
    assert "the data file is corrupt" in shown["error"]["message"]
    assert re.search(r"\b3\b", shown["status_reason"]), shown["status_reason"]  # the exit code
    assert [r["status"] for r in cli.json("job", "list", "--experiment", "exp4")] == ["Failed"]


def test_job_errors_are_one_line_and_create_nothing(cli: Cli) -> None:
    src = str(cli.cwd / "src")
    message = cli.error("job", "submit", "--experiment", "exp5", "--source-dir", src, "missing.py")
    assert "missing.py" in message
    message = cli.error("job", "submit", "--experiment", "exp5", "--compute", "nope", "--source-dir", src, "train.py")
    assert "nope" in message
    message = cli.error("job", "submit", "--experiment", "exp5", "--source-dir", str(cli.cwd / "nowhere"), "train.py")
    assert "nowhere" in message
    assert "exp/5" in cli.error("job", "submit", "--experiment", "exp/5", "--source-dir", src, "train.py")
    assert cli.json("job", "list") == []
    assert not (cli.workspace / "runs").exists() or not any((cli.workspace / "runs").iterdir())
    assert cli.instances()["local"]["state"] == "Stopped"  # nothing was submitted, nothing started

    unknown = "exp5_1700000000_abcdef12"
    for action in ("show", "logs", "cancel", "download"):
        assert unknown in cli.error("job", action, unknown)
    assert "no experiment named 'exp5'" in cli.error("job", "list", "--experiment", "exp5")


# -- regressions: bugs these tests found, now fixed ----------------------------------------------


def test_submit_restarts_local_after_its_daemon_died(cli: Cli) -> None:
    first = cli.submit("exp6", "train.py", "--lr", "1")["id"]
    cli.ok("job", "logs", first, "--follow")
    daemon = cli.daemon_pid("local")
    assert daemon is not None and "studio.workspaces.local.compute.daemon" in psutil.Process(daemon).cmdline()
    os.kill(daemon, signal.SIGKILL)  # the daemon this test started crashes
    wait_until(lambda: process_gone(daemon), "the killed daemon is gone")

    second = cli.submit("exp6", "train.py", "--lr", "2")["id"]
    state = cli.instances()["local"]["state"]
    assert state in ("Starting", "Running", "JobRunning"), f"local is {state} right after a submit to it"
    assert cli.wait_status(second, "Completed", "Failed", "Canceled")["status"] == "Completed"


def test_submit_to_local_while_it_is_stopping(cli: Cli) -> None:
    cli.env["STUDIO_CANCEL_GRACE_S"] = "4"  # the daemon this submit starts waits 4 s for a SIGTERM-deaf job
    stubborn = cli.submit("exp8", "stubborn.py")["id"]
    cli.env["STUDIO_CANCEL_GRACE_S"] = "1"
    wait_until(lambda: "ignoring SIGTERM" in cli.ok("job", "logs", stubborn), "the stubborn job runs")
    assert cli.json("compute", "stop", "local", "--no-wait")["state"] == "Stopping"

    src = str(cli.cwd / "src")
    out = cli.run(
        "job", "submit", "--experiment", "exp8", "--source-dir", src, "--output", "json", "train.py", "--", "--lr", "3"
    )
    runs = [r["id"] for r in cli.json("job", "list", "--experiment", "exp8")]
    if out.returncode != 0:  # refusing is fine, but then nothing may be left behind
        assert runs == [stubborn], f"the submit failed ({out.stderr.strip()}) yet created a run: {runs}"
    else:  # accepting is fine, but then local must run it once the stop is over
        new = json.loads(out.stdout)["id"]
        final = cli.wait_status(new, "Completed", "Failed", "Canceled")
        assert final["status"] == "Completed", final


def test_logs_keep_characters_split_across_reads(cli: Cli) -> None:
    run_id = cli.submit("exp7", "wide.py")["id"]
    log = cli.ok("job", "logs", run_id, "--follow")
    assert cli.show(run_id)["status"] == "Completed"
    assert "\ufffd" not in log
    assert log.endswith("a\u00e9\nna\u00efve\n")
