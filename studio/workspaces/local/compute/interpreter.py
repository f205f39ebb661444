"""Which Python interpreter runs local jobs' scripts, and whether it can.

A job's script is the user's code: it needs a Python interpreter with ``studio.sdk`` importable. Installed as a
package, the studio's own interpreter is that (the default). A frozen bundle is not a Python interpreter for
user code, so there the default is ``python3`` on PATH. Either way one setting names another one:
``STUDIO_JOB_PYTHON`` in the environment, else ``python`` in ``<user config dir>/local-compute.json``, which
``studio --python PATH`` writes (``studio --python default`` clears it).

An interpreter other than the studio's own sees the studio's ``studio`` package (only it, none of the studio's
other packages, which are built for the studio's own Python) through ``PYTHONPATH``; ``studio.sdk`` then needs
only NumPy of it. ``check_python`` runs the interpreter once and says in one sentence what is wrong: missing,
not a Python, older than ``MIN_VERSION``, or ``studio.sdk`` not importable (with the ``pip install`` that fixes it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.self_command import is_frozen

MIN_VERSION = (3, 11)
ENV_VAR = "STUDIO_JOB_PYTHON"
SETTING_FILE = "local-compute.json"
CHECK_TIMEOUT_S = 30.0
DEFAULT_WORDS = ("default", "")

_PROBE = (
    "import json, site, sys, sysconfig\n"
    "problem = ''\n"
    "if sys.version_info >= (3, 11):\n"
    "    try:\n"
    "        import studio.sdk\n"
    "    except Exception as exc:\n"
    "        problem = f'{type(exc).__name__}: {exc}'\n"
    "sites = [*site.getsitepackages(), sysconfig.get_paths()['purelib']]\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': sys.executable, 'prefix': sys.prefix,"
    " 'sites': sites, 'problem': problem}))\n"
)


class InterpreterError(StudioError):
    """The interpreter named for local jobs cannot run them; the message says what to do."""


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter that can run local jobs."""

    path: str
    version: tuple[int, int, int]
    prefix: str
    site_dirs: tuple[str, ...]
    is_own: bool
    """The studio's own interpreter (no ``PYTHONPATH`` needed, its environments see the studio's packages)."""

    @property
    def version_text(self) -> str:
        """``3.12.1``."""
        return ".".join(str(part) for part in self.version)


def _setting_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("studio", appauthor=False)) / SETTING_FILE


def configured_python() -> str | None:
    """The interpreter the user named (the environment first, then the setting), or None."""
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        return named
    try:
        data = json.loads(_setting_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("python") if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def save_python(named: str) -> Interpreter | None:
    """Check ``named`` and keep it as the interpreter for local jobs (``default`` clears the setting); returns it,
    or None when cleared. Raises ``InterpreterError`` and keeps the old setting when it cannot run jobs."""
    path = _setting_path()
    if named.strip().lower() in DEFAULT_WORDS:
        path.unlink(missing_ok=True)
        return None
    interpreter = check_python(_resolve(named.strip()))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"python": interpreter.path}, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return interpreter


def default_python() -> str:
    """The interpreter local jobs use when none is named: the studio's own, or in a bundle ``python3`` on PATH."""
    if not is_frozen():
        return sys.executable
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise InterpreterError(
            "No Python interpreter for local jobs: python3 is not on PATH. Install Python 3.11 or newer, "
            "or name one with: studio --python /path/to/python3"
        )
    return found


def job_python_path() -> str:
    """The path of the interpreter for local jobs (the named one, else the default), not checked."""
    named = configured_python()
    return _resolve(named) if named else default_python()


def job_python() -> Interpreter:
    """The interpreter for local jobs, checked (``InterpreterError`` says what is wrong)."""
    return check_python(job_python_path())


def _resolve(named: str) -> str:
    """An absolute path: a bare name is looked up on PATH."""
    if os.sep not in named and not (os.altsep and os.altsep in named):
        found = shutil.which(named)
        if found is None:
            raise InterpreterError(f"{named} is not on PATH: name the interpreter for local jobs by its full path.")
        return found
    return os.path.abspath(os.path.expanduser(named))


_checked: dict[tuple[str, int], Interpreter] = {}
_checked_lock = threading.Lock()


def check_python(path: str) -> Interpreter:
    """Run ``path`` once and check it can run jobs with ``studio.sdk``; kept while the file is unchanged."""
    own = not is_frozen() and os.path.abspath(path) == os.path.abspath(sys.executable)
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        raise InterpreterError(
            f"The Python interpreter for local jobs, {path}, does not exist. Install it, or name another with: "
            "studio --python /path/to/python3"
        ) from None
    with _checked_lock:
        kept = _checked.get((path, stamp))
    if kept is not None:
        return kept
    env = dict(os.environ) if own else _with_sdk_path(dict(os.environ))
    try:
        out = subprocess.run(
            [path, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        data = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        raise InterpreterError(f"{path} is not a Python interpreter that runs ({exc}).") from exc
    if not isinstance(data, dict):
        said = next((line.strip() for line in out.stderr.splitlines() if line.strip()), "no output")
        raise InterpreterError(f"{path} is not a Python interpreter that runs: {said}")
    version = tuple(int(part) for part in data["version"])
    wanted = ".".join(map(str, MIN_VERSION))
    if version[:2] < MIN_VERSION:
        raise InterpreterError(
            f"{path} is Python {'.'.join(map(str, version))}; local jobs need Python {wanted} or newer "
            "(studio.sdk does). Name a newer one with: studio --python /path/to/python3"
        )
    if data.get("problem"):
        raise InterpreterError(
            f"{path} cannot import studio.sdk ({data['problem']}). Install what it needs into that interpreter: "
            f"{path} -m pip install numpy"
            + (" (for the system's Python: sudo apt-get install python3-numpy)" if path.startswith("/usr/bin/") else "")
        )
    interpreter = Interpreter(
        path=path,
        version=(version[0], version[1], version[2]),
        prefix=str(data.get("prefix", "")),
        site_dirs=tuple(str(p) for p in data.get("sites", []) if os.path.isdir(str(p))),
        is_own=own,
    )
    with _checked_lock:
        _checked[(path, stamp)] = interpreter
    return interpreter


def sdk_path() -> Path:
    """A folder holding only the studio's ``studio`` package, for ``PYTHONPATH`` of an interpreter not its own.

    In a bundle, the source the build put beside the program (``sdk/studio``); installed, a folder in the user
    cache dir with a link to the installed package (a copy where links cannot be made)."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))) / "sdk"
    import platformdirs

    import studio

    package = Path(studio.__file__).resolve().parent
    folder = Path(platformdirs.user_cache_dir("studio", appauthor=False)) / "sdk-path"
    link = folder / "studio"
    if link.is_symlink() and link.resolve() == package:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"studio.{os.getpid()}.tmp"
    try:
        temporary.symlink_to(package, target_is_directory=True)
    except OSError:  # no links here (Windows without the right): a copy, refreshed each time
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(package, temporary, ignore=shutil.ignore_patterns("__pycache__"))
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link, ignore_errors=True)
    os.replace(temporary, link)
    return folder


def job_environment(interpreter: Interpreter, env: dict[str, str]) -> dict[str, str]:
    """``env`` for a job run by ``interpreter``: the studio's package on ``PYTHONPATH`` when it is not its own."""
    return env if interpreter.is_own else _with_sdk_path(dict(env))


def _with_sdk_path(env: dict[str, str]) -> dict[str, str]:
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(sdk_path()), env.get("PYTHONPATH", ""))))
    return env


def job_python_text() -> str:
    """The interpreter for local jobs in words, for the Compute pane and ``compute list``: "Python 3.12.1 at
    /usr/bin/python3", or "Unusable: <why>"."""
    try:
        found = job_python()
    except InterpreterError as exc:
        return f"Unusable: {exc}"
    return f"Python {found.version_text} at {found.path}" + (" (the studio's own)" if found.is_own else "")
