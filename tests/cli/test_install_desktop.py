"""`studio install-desktop [--uninstall]`: what lands in the user's XDG folders, and what goes again.

The XDG folders are this test's temporary ones (tests/conftest.py); the command runs in this process through
``cli.main`` with ``sys.argv[0]`` pointing at a fake ``studio`` script, as the console script would.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from studio import cli
from studio.commands import install_desktop
from studio.commands import mimeapps as mimeapps_list
from tests.mounts import remount_read_only, tmpfs
from tests.waiting import wait_until

SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
OTHER_MIMEAPPS = (
    "# my defaults\n"
    "[Default Applications]\n"
    "text/html=firefox.desktop\n"
    "x-scheme-handler/mailto=thunderbird.desktop;\n"
    "\n"
    "[Added Associations]\n"
    "image/png=org.gnome.eog.desktop;gimp.desktop;\n"
)


@pytest.fixture
def data_home() -> Path:
    return Path(os.environ["XDG_DATA_HOME"])


@pytest.fixture
def mimeapps() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "mimeapps.list"


@pytest.fixture
def studio_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``studio`` console script the command believes it was started as."""
    script = tmp_path / "venv" / "bin" / "studio"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "install-desktop"])
    return script


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["install-desktop", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _entry_value(entry: Path, key: str) -> str:
    values = [line.partition("=")[2] for line in entry.read_text().splitlines() if line.startswith(f"{key}=")]
    assert len(values) == 1, f"{key} appears {len(values)} times in {entry}"
    return values[0]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _default_handler(mimeapps: Path, mime_type: str) -> str | None:
    section = None
    for line in mimeapps.read_text().splitlines():
        if line.startswith("["):
            section = line.strip()
        elif section == "[Default Applications]" and line.partition("=")[0] == mime_type:
            return line.partition("=")[2]
    return None


def _tree(*roots: Path) -> dict[str, bytes]:
    """Every file under ``roots`` with its content; update-desktop-database's index is the desktop's, not ours."""
    return {
        str(p): p.read_bytes()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "mimeinfo.cache"
    }


def test_install_writes_the_entry_icons_metainfo_and_url_handler(
    capsys: pytest.CaptureFixture[str], studio_script: Path, data_home: Path, mimeapps: Path
) -> None:
    code, out, err = _run(capsys)
    assert code == 0, err
    entry = data_home / "applications" / "studio.desktop"
    # A desktop starts entries without the user's shell or PATH: the absolute path of this studio, links as %U.
    assert _entry_value(entry, "Exec") == f"{studio_script} %U"
    assert _entry_value(entry, "TryExec") == str(studio_script)
    assert _entry_value(entry, "Icon") == "studio"
    assert _entry_value(entry, "MimeType") == "x-scheme-handler/studio;"
    assert _entry_value(entry, "StartupWMClass") == "studio"  # the app's setDesktopFileName("studio")
    for size in SIZES:
        assert _png_size(data_home / f"icons/hicolor/{size}x{size}/apps/studio.png") == (size, size)
    assert (data_home / "icons/hicolor/scalable/apps/studio.svg").read_text().startswith("<svg")
    assert (
        '<launchable type="desktop-id">studio.desktop</launchable>'
        in (data_home / "metainfo/io.github.studio.studio.metainfo.xml").read_text()
    )
    assert _default_handler(mimeapps, "x-scheme-handler/studio") == "studio.desktop"
    groups = [line.partition(":")[0] for line in out.splitlines()]
    assert groups == [
        "desktop entry",
        "icons",
        "metainfo",
        "URL handler",
        "update-desktop-database",
        "gtk-update-icon-cache",
    ]
    assert f"wrote {entry} (Exec={studio_script} %U)" in out


def test_the_entry_of_a_bundle_starts_the_bundle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> None:
    bundle = tmp_path / "dist" / "studio" / "studio"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle))
    assert _run(capsys)[0] == 0
    assert _entry_value(data_home / "applications/studio.desktop", "Exec") == f"{bundle} %U"


def _recording_script(folder: Path, record: Path) -> Path:
    """A ``studio`` that writes the arguments it was started with, one a line, to ``record``."""
    folder.mkdir(parents=True)
    script = folder / "studio"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{record}'\n")
    script.chmod(0o755)
    return script


def test_a_path_with_spaces_and_shell_characters_is_quoted_as_the_spec_asks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> None:
    script = _recording_script(tmp_path / 'My $Apps "1"', tmp_path / "argv.txt")
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert _run(capsys)[0] == 0
    entry = data_home / "applications/studio.desktop"
    # Quoted, with " ` $ \\ escaped inside, then every backslash doubled (the string escape of all values).
    assert _entry_value(entry, "Exec") == f'"{tmp_path}/My \\\\$Apps \\\\"1\\\\"/studio" %U'
    gio = shutil.which("gio")
    if gio is None:
        return  # GLib's tools are not here: the round trip below is extra evidence, not a requirement
    # A GLib desktop reads the entry back and starts that script with the link, as a click on it would.
    link = "studio://run/abc?workspace=/tmp/my runs"
    launched = subprocess.run([gio, "launch", str(entry), link], capture_output=True, text=True, timeout=30)
    assert launched.returncode == 0, launched.stderr
    record = tmp_path / "argv.txt"
    assert wait_until(lambda: record.exists() and record.read_text(), "the script started by gio") == link + "\n"


def test_a_percent_in_the_path_is_doubled() -> None:
    assert install_desktop.exec_value(["/opt/100% studio/studio"]) == '"/opt/100%% studio/studio" %U'


def test_run_as_a_module_the_entry_names_the_studio_on_path_or_this_python(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> None:
    monkeypatch.setattr(sys, "argv", [str(Path(cli.__file__).parent / "__main__.py")])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert _run(capsys)[0] == 0
    assert _entry_value(data_home / "applications/studio.desktop", "Exec") == f"{sys.executable} -m studio %U"


def test_install_keeps_every_other_line_of_mimeapps_list(
    capsys: pytest.CaptureFixture[str], studio_script: Path, mimeapps: Path
) -> None:
    mimeapps.parent.mkdir(parents=True, exist_ok=True)
    mimeapps.write_text(OTHER_MIMEAPPS + "[Removed Associations]\ntext/plain=gedit.desktop;\n")
    assert _run(capsys)[0] == 0
    lines = mimeapps.read_text().splitlines()
    assert lines == [
        "# my defaults",
        "[Default Applications]",
        "text/html=firefox.desktop",
        "x-scheme-handler/mailto=thunderbird.desktop;",
        "x-scheme-handler/studio=studio.desktop",
        "",
        "[Added Associations]",
        "image/png=org.gnome.eog.desktop;gimp.desktop;",
        "[Removed Associations]",
        "text/plain=gedit.desktop;",
    ]


def test_install_replaces_another_default_handler_and_says_which(
    capsys: pytest.CaptureFixture[str], studio_script: Path, mimeapps: Path
) -> None:
    mimeapps.parent.mkdir(parents=True, exist_ok=True)
    mimeapps.write_text("[Default Applications]\nx-scheme-handler/studio=old-studio.desktop;\ntext/html=f.desktop\n")
    code, out, _ = _run(capsys)
    assert code == 0
    assert (
        mimeapps.read_text() == "[Default Applications]\nx-scheme-handler/studio=studio.desktop\ntext/html=f.desktop\n"
    )
    assert "(was old-studio.desktop)" in out


def test_installing_twice_changes_no_file(
    capsys: pytest.CaptureFixture[str], studio_script: Path, data_home: Path, mimeapps: Path
) -> None:
    assert _run(capsys)[0] == 0
    before = _tree(data_home, mimeapps.parent)
    times = {name: os.stat(name).st_mtime_ns for name in before}
    code, out, _ = _run(capsys)
    assert code == 0
    after = _tree(data_home, mimeapps.parent)
    assert after == before
    assert {name: os.stat(name).st_mtime_ns for name in after} == times  # not even rewritten
    for group in ("desktop entry", "icons", "metainfo", "URL handler"):
        assert f"{group}: unchanged" in out


def test_uninstall_leaves_the_folders_as_they_were(
    capsys: pytest.CaptureFixture[str], studio_script: Path, data_home: Path, mimeapps: Path
) -> None:
    mimeapps.parent.mkdir(parents=True, exist_ok=True)
    mimeapps.write_text(OTHER_MIMEAPPS)
    other_icon = data_home / "icons/hicolor/48x48/apps/other-app.png"
    other_icon.parent.mkdir(parents=True)
    other_icon.write_bytes(b"another application's icon")
    before = _tree(data_home, mimeapps.parent)

    assert _run(capsys)[0] == 0
    code, out, err = _run(capsys, "--uninstall")
    assert code == 0, err
    assert _tree(data_home, mimeapps.parent) == before
    assert not (data_home / "icons/hicolor/16x16").exists()  # emptied size folders go; shared ones stay
    assert "desktop entry: removed" in out and "icons: removed 10 files" in out and "URL handler: removed" in out

    code, out, _ = _run(capsys, "--uninstall")  # again: nothing left to do, and no error
    assert code == 0 and _tree(data_home, mimeapps.parent) == before
    for group in ("desktop entry", "icons", "metainfo", "URL handler"):
        assert f"{group}: absent" in out


def test_uninstall_with_nothing_installed_creates_nothing(
    capsys: pytest.CaptureFixture[str], data_home: Path, mimeapps: Path
) -> None:
    assert _run(capsys, "--uninstall")[0] == 0
    assert not mimeapps.exists() and not (data_home / "applications/studio.desktop").exists()


def test_uninstall_keeps_a_handler_the_user_chose_since(
    capsys: pytest.CaptureFixture[str], studio_script: Path, mimeapps: Path
) -> None:
    assert _run(capsys)[0] == 0
    text = mimeapps.read_text().replace("studio=studio.desktop", "studio=other-studio.desktop;")
    mimeapps.write_text(text)
    code, out, _ = _run(capsys, "--uninstall")
    assert code == 0
    assert mimeapps.read_text() == text
    assert "URL handler: kept x-scheme-handler/studio=other-studio.desktop" in out


def test_uninstall_keeps_a_desktop_entry_the_user_wrote(capsys: pytest.CaptureFixture[str], data_home: Path) -> None:
    entry = data_home / "applications/studio.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text("[Desktop Entry]\nType=Application\nName=My studio\nExec=studio\n")
    code, out, _ = _run(capsys, "--uninstall")
    assert code == 0 and entry.exists()
    assert "desktop entry: kept" in out


def test_json_output_lists_each_group_with_its_files(
    capsys: pytest.CaptureFixture[str], studio_script: Path, data_home: Path
) -> None:
    code, out, _ = _run(capsys, "--output", "json")
    assert code == 0
    report = json.loads(out)
    assert report["action"] == "install"
    steps = {s["group"]: s for s in report["steps"]}
    assert steps["desktop entry"]["status"] == "wrote"
    assert steps["desktop entry"]["paths"] == [str(data_home / "applications/studio.desktop")]
    assert len(steps["icons"]["paths"]) == len(SIZES) + 1
    assert steps["gtk-update-icon-cache"]["status"] in ("ran", "skipped", "failed")


def test_a_missing_tool_is_skipped_and_said(
    capsys: pytest.CaptureFixture[str], studio_script: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, _ = _run(capsys)
    assert code == 0
    assert "update-desktop-database: skipped (not installed)" in out


def test_a_read_only_data_folder_is_one_sentence_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], studio_script: Path, data_home: Path, mimeapps: Path
) -> None:
    with tmpfs(data_home) as mount:
        remount_read_only(mount)
        code, out, err = _run(capsys)
    assert code == 1 and out == ""
    assert err.startswith("studio: error: Cannot write ") and len(err.strip().splitlines()) == 1
    assert "read-only" in err and "XDG_DATA_HOME" in err
    assert not mimeapps.exists()


def test_an_unwritable_config_folder_writes_no_data_file_either(
    capsys: pytest.CaptureFixture[str],
    studio_script: Path,
    data_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    not_a_folder = tmp_path / "config-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(not_a_folder / "config"))
    code, _, err = _run(capsys)
    assert code == 1 and "XDG_CONFIG_HOME" in err and len(err.strip().splitlines()) == 1
    assert not data_home.exists() or not any(p.is_file() for p in data_home.rglob("*"))


def test_elsewhere_than_linux_it_says_it_has_nothing_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    code, _, err = _run(capsys)
    assert code == 1 and "Linux (freedesktop.org) desktops" in err and len(err.strip().splitlines()) == 1
    assert not data_home.exists() or not any(data_home.rglob("*.desktop"))


@pytest.mark.parametrize(
    "original",
    [
        "",
        "[Added Associations]\nimage/png=eog.desktop;",  # no final newline, no defaults section
        "[Default Applications]\ntext/html=f.desktop\n\n\n[Added Associations]\nimage/png=eog.desktop;\n",
        "[Default Applications]\n",
        "# only a comment\n",
    ],
)
def test_mimeapps_set_then_remove_gives_back_the_file(tmp_path: Path, original: str) -> None:
    path = tmp_path / "mimeapps.list"
    if original:
        path.write_text(original)
    assert mimeapps_list.set_default(path, "x-scheme-handler/studio", "studio.desktop")
    assert mimeapps_list.default_handlers(path, "x-scheme-handler/studio") == ["studio.desktop"]
    assert not mimeapps_list.set_default(path, "x-scheme-handler/studio", "studio.desktop")
    assert mimeapps_list.remove_default(path, "x-scheme-handler/studio", "studio.desktop")
    expected = original if original.endswith("\n") or not original else original + "\n"
    if original == "[Default Applications]\n":
        expected = ""  # the section is left empty: it goes, and the file with it
    assert (path.read_text() if path.exists() else "") == expected


def test_mimeapps_removal_keeps_the_other_handlers_on_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mimeapps.list"
    path.write_text("[Default Applications]\nx-scheme-handler/studio = studio.desktop;other.desktop;\n")
    assert mimeapps_list.remove_default(path, "x-scheme-handler/studio", "studio.desktop")
    assert path.read_text() == "[Default Applications]\nx-scheme-handler/studio=other.desktop;\n"
