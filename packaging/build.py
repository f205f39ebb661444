"""Build Studio's one-folder bundle: ``python packaging/build.py`` → ``dist/studio/studio`` and an archive of it.

Needs PyInstaller (``pip install -e ".[bundle]"``). Prints the folder's and the archive's sizes, which
``benchmarks/README.md`` records against the budget (folder ≤ 220 MB, archive ≤ 90 MB).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "studio.spec"


def folder_size(folder: Path) -> int:
    """Bytes of all files under ``folder`` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def strip_debug_info(folder: Path) -> None:
    """Strip the symbols of the shared libraries that carry them (libpython of a source-built Python: 23 MB with
    them, 5 MB without; extension modules). Not the libraries of a wheel's ``*.libs`` folder: auditwheel patched
    those, and ``strip`` breaks them (NumPy's OpenBLAS then fails to load), so PyInstaller's own strip stays off."""
    tool = shutil.which("strip")
    if tool is None or not sys.platform.startswith("linux"):
        return
    files = [
        path
        for path in (folder / "_internal").rglob("*.so*")
        if path.is_file() and not path.is_symlink() and not any(part.endswith(".libs") for part in path.parts)
    ]
    for start in range(0, len(files), 200):
        subprocess.run([tool, *map(str, files[start : start + 200])], check=False, stderr=subprocess.DEVNULL)


def archive_name(version: str) -> str:
    """``studio-0.1.0-linux-x86_64.tar.gz`` (the system and machine the bundle was built on)."""
    return f"studio-{version}-{platform.system().lower()}-{platform.machine().lower()}.tar.gz"


def build(dist: Path, work: Path, *, archive: bool = True, quiet: bool = False) -> Path:
    """Run PyInstaller on the spec; returns the bundle's folder (``dist/studio``)."""
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        "--log-level",
        "WARN" if quiet else "INFO",
        str(SPEC),
    ]
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=ROOT)
    folder = dist / "studio"
    strip_debug_info(folder)
    seconds = time.monotonic() - started
    print(f"bundle: {folder} ({folder_size(folder) / 1e6:.1f} MB) built in {seconds:.0f} s")
    if archive:
        from studio import __version__

        target = dist / archive_name(__version__)
        with tarfile.open(target, "w:gz", compresslevel=9) as tar:
            tar.add(folder, arcname="studio")
        print(f"archive: {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return folder


def main(argv: list[str] | None = None) -> int:
    """The command line of the build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder")
    parser.add_argument("--no-archive", action="store_true", help="skip the .tar.gz")
    parser.add_argument("--clean", action="store_true", help="remove the work folder first (a full rebuild)")
    parser.add_argument("--quiet", action="store_true", help="only PyInstaller's warnings")
    args = parser.parse_args(argv)
    if args.clean:
        shutil.rmtree(args.work, ignore_errors=True)
    build(args.dist.resolve(), args.work.resolve(), archive=not args.no_archive, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
