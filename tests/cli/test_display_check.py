"""The start-up check of Qt's platform plugin: the missing libraries named from the plugin's own dependencies,
with the install commands; Wayland when the session is Wayland; no display at all said plainly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.commands.display_check import (
    check_display,
    debian_package,
    install_commands,
    missing_libraries,
    plugins_dir,
    run_ldd,
)

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f12)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f12)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
"""


def fake_plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "platforms"
    folder.mkdir()
    for name in ("libqxcb.so", "libqwayland.so"):
        (folder / name).write_bytes(b"\x7fELF")
    return folder


def test_the_missing_libraries_are_named_with_the_commands_that_install_them(tmp_path: Path) -> None:
    env = {"DISPLAY": ":0"}
    message = check_display(env, fake_plugins(tmp_path), ldd=lambda _: LDD_MISSING, system="Linux")
    lines = message.splitlines()
    assert lines[0] == (
        "studio: the window cannot open: Qt's xcb platform plugin needs libxcb-icccm.so.4, libxcb-keysyms.so.1, "
        "libxkbcommon-x11.so.0, which are not installed."
    )
    assert "  Debian/Ubuntu: sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in lines
    assert any(line.startswith("  Fedora: sudo dnf install 'libxcb-icccm.so.4()") for line in lines)
    assert lines[-1] == "Without a window, the command-line subcommands work: studio --help."


def test_debian_names_follow_debians_rule_for_libraries() -> None:
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libEGL.so.1") == "libegl1"
    assert install_commands(["libxcb-cursor.so.0"])[0] == "Debian/Ubuntu: sudo apt-get install libxcb-cursor0"


def test_nothing_missing_headless_or_elsewhere_is_no_problem(tmp_path: Path) -> None:
    plugins = fake_plugins(tmp_path)
    assert check_display({"DISPLAY": ":0"}, plugins, ldd=lambda _: "", system="Linux") == ""
    for platform in ("offscreen", "minimal", "vnc:size=800x600"):
        assert check_display({"QT_QPA_PLATFORM": platform}, plugins, ldd=lambda _: LDD_MISSING, system="Linux") == ""
    assert check_display({}, plugins, ldd=lambda _: LDD_MISSING, system="Darwin") == ""


def test_no_display_at_all_points_at_offscreen_and_the_subcommands(tmp_path: Path) -> None:
    message = check_display({}, fake_plugins(tmp_path), ldd=lambda _: "", system="Linux")
    assert "no display" in message and "QT_QPA_PLATFORM=offscreen" in message and "studio --help" in message


def test_a_wayland_session_uses_wayland_when_its_plugin_loads(tmp_path: Path) -> None:
    plugins = fake_plugins(tmp_path)
    env = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert check_display(env, plugins, ldd=lambda _: "", system="Linux") == ""
    assert env["QT_QPA_PLATFORM"] == "wayland"
    # Its plugin cannot load but X (XWayland) is there: xcb is checked instead.
    env = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    missing = {plugins / "libqwayland.so": "\tlibwayland-cursor.so.0 => not found\n", plugins / "libqxcb.so": ""}
    assert check_display(env, plugins, ldd=lambda p: missing[p], system="Linux") == ""
    assert "QT_QPA_PLATFORM" not in env
    # Wayland only, and its plugin cannot load: say what it needs.
    message = check_display({"WAYLAND_DISPLAY": "wayland-0"}, plugins, ldd=lambda p: missing[p], system="Linux")
    assert "wayland platform plugin needs libwayland-cursor.so.0" in message
    assert "sudo apt-get install libwayland-cursor0" in message


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None, reason="Linux with ldd")
def test_a_real_plugin_whose_dependency_is_renamed_lists_exactly_that_library(tmp_path: Path) -> None:
    real = plugins_dir()
    assert real is not None
    qt = real.parent.parent
    copy = tmp_path / "Qt" / "plugins" / "platforms"
    copy.mkdir(parents=True)
    (tmp_path / "Qt" / "lib").symlink_to(qt / "lib", target_is_directory=True)  # its RUNPATH finds Qt's libraries
    data = (real / "libqxcb.so").read_bytes()
    assert b"libxcb-icccm.so.4\x00" in data
    (copy / "libqxcb.so").write_bytes(data.replace(b"libxcb-icccm.so.4\x00", b"libxcb-iccXm.so.4\x00"))
    before = set(missing_libraries(real / "libqxcb.so"))  # what this machine lacks anyway (CI may lack more)
    after = missing_libraries(copy / "libqxcb.so", run_ldd)
    assert set(after) - before == {"libxcb-iccXm.so.4"}
    message = check_display({"DISPLAY": ":0"}, copy, system="Linux")
    assert "libxcb-iccXm.so.4" in message.splitlines()[0] and "libxcb-iccxm4" in message


def test_studio_without_a_display_prints_the_sentence_and_exits_non_zero(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "--workspace", str(tmp_path / "ws")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("the check is for Linux")
    assert done.returncode == 2
    assert done.stderr.startswith("studio: no display to open the window on")
    assert "Traceback" not in done.stderr and not (tmp_path / "ws").exists()
