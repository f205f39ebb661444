"""The desktop bundle: its size on disk and as an archive, and its cold start to a painted window beside the
installed package's.

    python benchmarks/bench_bundle.py [--bundle dist/studio/studio] [--starts 7] [--workspace PATH]

Without ``--bundle`` it builds one first (``packaging/build.py`` into a temporary folder, with the archive). A
frozen program cannot take the probe ``bench_gui.py`` wraps around the window, so both programs are timed the
same way: the window logs "Window painted N s after the process started" (``studio/ui/shell/first_paint.py``,
from the kernel's start time of the process, to 10 ms), the benchmark reads that line from the log file of a
fresh set of user folders, then ends the process with SIGTERM. Starts alternate between the two programs.
Offscreen unless ``DISPLAY`` is set. The workspace defaults to an empty new one (``--workspace`` for another).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import Row, print_table

ROOT = Path(__file__).resolve().parent.parent
FOLDER_MB, ARCHIVE_MB, START_S = 220.0, 90.0, 1.5
PAINTED = re.compile(r"Window painted (\d+\.\d+) s after the process started")


def folder_mb(folder: Path) -> float:
    """Megabytes (10^6 bytes) of the files under ``folder``."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def build(into: Path) -> tuple[Path, Path | None]:
    """Build the bundle with its archive; (the program, the archive)."""
    subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"), "--dist", str(into / "dist"), "--work", str(into / "w")],
        check=True,
        cwd=ROOT,
    )
    archives = sorted((into / "dist").glob("studio-*.tar.gz"))
    return into / "dist" / "studio" / "studio", archives[0] if archives else None


def start_once(command: list[str], workspace: Path) -> float:
    """Seconds from the process's start to its painted window, as its log says."""
    with tempfile.TemporaryDirectory(prefix="studio-bench-bundle-") as home:
        env = dict(os.environ)
        for name in ("CONFIG", "DATA", "CACHE", "STATE"):
            env[f"XDG_{name}_HOME"] = os.path.join(home, name.lower())
        if not env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        log = Path(home, "state", "studio", "log", "studio.log")
        process = subprocess.Popen(
            [*command, "--workspace", str(workspace)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                found = PAINTED.search(log.read_text()) if log.is_file() else None
                if found:
                    return float(found.group(1))
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} ended with {process.returncode} before painting")
                time.sleep(0.05)  # polling the log only: the time measured is the one the process logged
            raise RuntimeError(f"{command[0]} painted nothing within 60 s")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="the bundle's program (default: build one)")
    parser.add_argument("--archive", type=Path, help="its archive, to report its size")
    parser.add_argument("--starts", type=int, default=7, help="starts of each program for the medians")
    parser.add_argument("--workspace", type=Path, help="the workspace both open (default: a new empty one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="studio-bench-bundle-build-") as scratch:
        program, archive = (args.bundle, args.archive) if args.bundle else build(Path(scratch))
        workspace = args.workspace or Path(scratch, "ws")
        installed = [sys.executable, "-m", "studio"]
        frozen = [str(program)]
        start_once(installed, workspace)  # makes the workspace, and warms what both read from disk alike
        times: dict[str, list[float]] = {"bundle": [], "installed": []}
        for _ in range(args.starts):
            times["bundle"].append(start_once(frozen, workspace))
            times["installed"].append(start_once(installed, workspace))
        rows = [Row("bundle folder", folder_mb(program.parent), FOLDER_MB, "MB", str(program.parent))]
        if archive is not None:
            rows.append(Row("bundle archive (.tar.gz)", archive.stat().st_size / 1e6, ARCHIVE_MB, "MB", archive.name))
        for name, values in times.items():
            rows.append(
                Row(
                    f"cold start -> window painted, {name}, median of {len(values)}",
                    statistics.median(values),
                    START_S,
                    "s",
                    f"min {min(values):.2f}, max {max(values):.2f} s; each a new process",
                )
            )
        print_table("Desktop bundle (issue 14)", rows)


if __name__ == "__main__":
    main()
