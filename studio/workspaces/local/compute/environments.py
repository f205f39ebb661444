"""Job environments: one cached virtual environment per dependency set and base interpreter.

The base is the interpreter for local jobs (``interpreter.job_python``: the studio's own, or the one named).
Each environment sees the base's packages through a ``.pth`` file that adds the base's site-packages after
its own. Packages are installed by the base's pip (``pip --python``), so new environments need no pip of their
own. Builds of the same set are serialised with a file lock and reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from studio.core.errors import StudioError
from studio.workspaces.local.compute.interpreter import Interpreter


class EnvironmentBuildError(StudioError):
    """Building a job environment failed; the message ends with the build log's last lines."""


def environment_key(spec: dict[str, Any], base: Interpreter) -> str:
    """A stable name for a dependency set on this base interpreter."""
    data = {
        "pip": sorted(spec.get("pip_packages", [])),
        "conda": sorted(spec.get("conda_packages", [])),
        "python": sys.version if base.is_own else base.version_text,
        "base": sys.prefix if base.is_own else base.prefix,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def needs_build(spec: dict[str, Any] | None) -> bool:
    """True when the spec asks for packages beyond the compute's interpreter."""
    return bool(spec and (spec.get("pip_packages") or spec.get("conda_packages")))


def python_for(envs_root: Path, spec: dict[str, Any] | None, log: IO[str], base: Interpreter) -> str:
    """The interpreter to run a job with (``base``, or an environment on it built first if the spec needs one)."""
    if not needs_build(spec):
        log.write(f"Using the compute's interpreter {base.path} (Python {base.version_text})\n")
        return base.path
    assert spec is not None
    key = environment_key(spec, base)
    env_dir = envs_root / key
    envs_root.mkdir(parents=True, exist_ok=True)
    with _file_lock(envs_root / f"{key}.lock"):
        python = _env_python(env_dir)
        if (env_dir / ".ready").is_file() and python.exists():
            log.write(f"Reusing the cached environment {key} ({env_dir})\n")
            return str(python)
        shutil.rmtree(env_dir, ignore_errors=True)
        try:
            _build(env_dir, spec, log, base)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        (env_dir / ".ready").write_text(json.dumps(spec, sort_keys=True))
        return str(_env_python(env_dir))


def _build(env_dir: Path, spec: dict[str, Any], log: IO[str], base: Interpreter) -> None:
    started = time.monotonic()
    log.write(f"Building environment {spec.get('name', '')!r} in {env_dir} on {base.path}\n")
    _run([base.path, "-m", "venv", "--without-pip", str(env_dir)], log)
    if base.is_own:
        purelib = Path(sysconfig.get_paths(vars={"base": str(env_dir), "platbase": str(env_dir)})["purelib"])
        parents = [p for p in (*site.getsitepackages(), sysconfig.get_paths()["purelib"]) if os.path.isdir(p)]
    else:  # another Python's layout (its version names the folder)
        major, minor = base.version[:2]
        purelib = env_dir / ("Lib/site-packages" if os.name == "nt" else f"lib/python{major}.{minor}/site-packages")
        parents = list(base.site_dirs)
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(parents)]
    purelib.mkdir(parents=True, exist_ok=True)
    (purelib / "_studio_parent_site.pth").write_text("\n".join(lines) + "\n")
    packages = list(spec.get("pip_packages", []))
    conda = list(spec.get("conda_packages", []))
    if conda:
        if shutil.which("conda"):
            log.write("conda is installed, but local environments are virtual environments; ")
        log.write(f"conda is not used here: installing the conda packages {conda} with pip instead.\n")
        packages = conda + packages
    if packages:
        cmd = [
            base.path,
            "-m",
            "pip",
            "--python",
            str(_env_python(env_dir)),
            "install",
            "--disable-pip-version-check",
        ]
        _run([*cmd, *packages], log)
    log.write(f"Environment ready in {time.monotonic() - started:.1f} s\n")


def _run(cmd: list[str], log: IO[str]) -> None:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write(proc.stdout)
    log.flush()
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise EnvironmentBuildError(f"Building the job environment failed (exit {proc.returncode}):\n{tail}")


def _env_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            yield
            return
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
