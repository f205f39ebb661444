"""The layering rules of docs/ARCHITECTURE.md, checked on every test run."""

from __future__ import annotations

import json
import os
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
        "import sys, studio.sdk, studio.cli, studio.workspaces.local.backend\n"
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


WARM_UP = """
import json, sys, tempfile, threading, time
where = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "pyqtgraph":
            where["main_thread"] = threading.current_thread() is threading.main_thread()
        return None

sys.meta_path.insert(0, Spy())
from studio.workspaces.local.opener import LocalWorkspaceOpener
from studio.ui.shell.app import create_app
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
app = create_app([sys.argv[0]])
window = MainWindow([LocalWorkspaceOpener()], WindowSettings(tempfile.mkdtemp() + "/s.ini"))
window.show()
app.processEvents()
where["at_start"] = "pyqtgraph" in sys.modules
import gc
deadline = time.monotonic() + 30
while "main_thread" not in where or window.runner._tasks:
    app.processEvents()
    time.sleep(0.01)
    if time.monotonic() > deadline:
        break
where["frozen"] = gc.get_freeze_count() > 0  # start-up objects are out of the collector's sight
window.close()
print(json.dumps(where))
"""


def test_the_chart_library_is_imported_off_the_gui_thread_after_start(tmp_path: Path) -> None:
    """pyqtgraph takes ~180 ms to import: not at start-up, and not on the GUI thread when a chart is first shown."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", WARM_UP], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    where = json.loads(out.stdout.strip().splitlines()[-1])
    assert where == {"at_start": False, "main_thread": False, "frozen": True}


def test_nothing_is_frozen_while_a_tab_is_open() -> None:
    """What is frozen is never collected: a run tab open at that moment would leak once closed."""
    import gc

    import studio.ui.background.gc_policy as gc_policy

    before = gc.get_freeze_count()
    gc_policy._frozen = False
    try:
        assert not gc_policy.freeze_start_up_objects(tabs_open=1)
        assert gc.get_freeze_count() == before
    finally:
        gc_policy._frozen = True
