"""``studio --diagnostics``: the versions, display, OpenGL, keyring and folders a bug report needs, always exit 0."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from studio import __version__
from studio.cli import main
from studio.commands.diagnostics import collect
from studio.ui.shell.qt_probe import _probe_command, probe_in_child

NO_DISPLAY = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")


def diagnostics(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main(["--diagnostics", "--output", "json", *extra]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_json_names_versions_display_keyring_and_folders(capsys: pytest.CaptureFixture[str]) -> None:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    report = diagnostics(capsys)
    assert list(report) == ["studio", "libraries", "display", "jobs", "keyring", "paths"]
    assert (
        report["jobs"]["local_python"] == f"Python {platform.python_version()} at {sys.executable} (the studio's own)"
    )
    studio = report["studio"]
    assert studio["version"] == __version__
    assert studio["frozen"] == "no"
    assert studio["executable"] == sys.executable
    assert studio["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    libraries = report["libraries"]
    assert (libraries["qt"], libraries["pyside6"]) == (qVersion(), pyside_version)
    assert libraries["pyqtgraph"] == metadata.version("pyqtgraph")
    assert libraries["numpy"] == metadata.version("numpy")
    assert libraries["azure-ai-ml"] == metadata.version("azure-ai-ml")
    assert report["display"]["platform_plugin"] == "offscreen"
    assert report["display"]["opengl"].startswith(("available", "unavailable: "))
    assert report["keyring"]["backend"].startswith("keyring.backends.fail.Keyring")  # tests have no keyring
    paths = report["paths"]
    state, config, data = (Path(os.environ[f"XDG_{name}_HOME"]) for name in ("STATE", "CONFIG", "DATA"))
    assert paths["log_folder"] == str(state / "studio" / "log")
    assert paths["log_file"] == str(state / "studio" / "log" / "studio.log")
    assert paths["crash_file"] == str(state / "studio" / "log" / "crash.log")
    assert paths["settings_file"] == str(config / "studio" / "Studio.ini")  # the window's QSettings file
    assert paths["config_folder"] == str(config / "studio")
    assert paths["default_workspace"] == paths["workspace"] == str(data / "studio" / "workspaces" / "default")


def test_with_no_display_at_all_qt_items_say_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    report = diagnostics(capsys)
    display = report["display"]
    assert display["session"].startswith("no display")
    assert display["platform_plugin"].startswith("unavailable: no display to open the window on")
    assert display["opengl"] == "unknown: no platform plugin can load"
    assert report["libraries"]["qt"][0].isdigit()  # the versions need no display


def test_the_table_groups_aligned_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--diagnostics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln for ln in lines if not ln.startswith("  ")] == [
        "Studio",
        "Libraries",
        "Display",
        "Jobs",
        "Keyring",
        "Paths",
    ]
    items = [ln for ln in lines if ln.startswith("  ")]
    assert items[0].startswith("  version: ") and items[0].endswith(__version__)
    value_columns = {re.match(r"  \S+: +", ln).end() for ln in items}  # type: ignore[union-attr]
    assert len(value_columns) == 1  # every value starts in the same column


def test_a_password_in_the_workspace_location_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    report = diagnostics(capsys, "--workspace", "mlflow+https://bob:hunter2@mlflow.example.com")
    assert "hunter2" not in json.dumps(report)
    assert report["paths"]["workspace"].startswith("unknown: ")  # the kind refuses it, and the report says so


def test_qt_that_fails_to_start_is_reported_not_raised() -> None:
    # A display that is set but does not answer: Qt aborts the probe's process, never this one.
    env = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY}
    found = probe_in_child({**env, "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":97"}, with_app=True)
    assert found["qt"][0].isdigit()  # said before the application was created
    assert found["error"].startswith("Qt ")
    assert "platform_plugin" not in found
    report = collect(lambda environ, with_app: dict(found), environ={**env, "QT_QPA_PLATFORM": "offscreen"})
    assert report["display"]["platform_plugin"] == f"unknown: {found['error']}"


def test_the_command_itself_loads_no_qt() -> None:
    code = (
        "import sys, contextlib, io\nfrom studio.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    code = main(['--diagnostics'])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'azure', 'pyqtgraph')))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0 []", out.stderr


def test_a_bundle_asks_qt_through_its_own_module_role(monkeypatch: pytest.MonkeyPatch) -> None:
    # Frozen, sys.executable is the studio program: no -m, the module runs as a role (studio.core.self_command).
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert _probe_command(True) == [sys.executable, "--run-module", "studio.ui.shell.qt_probe", "--with-app"]
    monkeypatch.setattr(sys, "frozen", False)
    assert _probe_command(False) == [sys.executable, "-m", "studio.ui.shell.qt_probe"]
