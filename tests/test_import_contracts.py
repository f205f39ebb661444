"""The layering rules of DESIGN.md, checked on every test run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept() -> None:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: ([3-9]|\d\d+) kept, 0 broken", result.stdout), result.stdout


def test_sdk_and_cli_load_neither_qt_nor_azure() -> None:
    code = (
        "import sys, studio.sdk, studio.cli, studio.local.backend\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'azure'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_qt_binding_keeps_none_alive() -> None:
    """PySide6 6.12.0 dropped a reference to None per void call and aborted Python 3.11; we pin below it."""
    code = (
        "import sys\nfrom PySide6.QtCore import QCoreApplication, QTimer\n"
        "app = QCoreApplication([])\ntimer = QTimer()\nbefore = sys.getrefcount(None)\n"
        "for _ in range(2000):\n    timer.start(1)\n"
        "print(before - sys.getrefcount(None))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert abs(int(out.stdout.strip())) < 50
