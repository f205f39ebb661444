"""How the studio starts more of itself: its compute daemon, the launcher that detaches it, the Qt probe.

Installed as a package, that is ``python -m <module>`` with the studio's own interpreter. In a frozen bundle
(PyInstaller) ``sys.executable`` is the ``studio`` program itself and there is no ``-m``: the program takes
``studio --run-module <module> ARGS…`` for the few modules named in ``ROLE_MODULES`` (``studio.cli`` runs them
before parsing anything else), so a bundle runs its daemon from the same files it was started from.
"""

from __future__ import annotations

import sys

ROLE_FLAG = "--run-module"
"""The first argument that makes the ``studio`` program run one of its own modules instead of the studio."""

ROLE_MODULES = (
    "studio.workspaces.local.compute.daemon",
    "studio.workspaces.local.compute.detach",
    "studio.ui.shell.qt_probe",
)
"""The modules a frozen studio runs as roles: nothing else is run this way."""


def is_frozen() -> bool:
    """Whether this is a frozen bundle (``sys.executable`` is the studio program, not a Python interpreter)."""
    return bool(getattr(sys, "frozen", False))


def module_command(module: str) -> list[str]:
    """The command that runs ``module`` as ``__main__`` with the studio's own code (append its arguments)."""
    if module not in ROLE_MODULES:
        raise ValueError(f"{module} is not one of the studio's own roles: {', '.join(ROLE_MODULES)}")
    if is_frozen():
        return [sys.executable, ROLE_FLAG, module]
    return [sys.executable, "-m", module]


def run_role(args: list[str]) -> int:
    """Run ``args[0]`` (one of ``ROLE_MODULES``) as ``__main__`` with ``args[1:]``; returns its exit code."""
    import runpy

    if not args or args[0] not in ROLE_MODULES:
        named = args[0] if args else "nothing"
        print(f"studio: error: {ROLE_FLAG} runs one of {', '.join(ROLE_MODULES)}, not {named}", file=sys.stderr)
        return 2
    sys.argv = [args[0], *args[1:]]
    try:
        runpy.run_module(args[0], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
