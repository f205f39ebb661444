"""The desktop entry, AppStream metainfo and icons in ``resources/`` pass the freedesktop validators, as shipped
and as ``studio install-desktop`` installs them.

The validators come from the distribution (``apt-get install desktop-file-utils appstream``; .ci/run installs
them). Without them these tests fail, saying so, unless ``STUDIO_SKIP_DESKTOP_VALIDATORS=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import pytest

import studio
from studio.commands import install_desktop

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
DESKTOP = RESOURCES / "studio.desktop"
METAINFO = RESOURCES / install_desktop.METAINFO_NAME
VALIDATOR_PACKAGES = {"desktop-file-validate": "desktop-file-utils", "appstreamcli": "appstream"}


def _validator(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("STUDIO_SKIP_DESKTOP_VALIDATORS") == "1":
        pytest.skip(f"{name} is not installed and STUDIO_SKIP_DESKTOP_VALIDATORS=1")
    pytest.fail(
        f"{name} is not installed: install it (apt-get install {VALIDATOR_PACKAGES[name]}), "
        "or set STUDIO_SKIP_DESKTOP_VALIDATORS=1 to skip this check."
    )


def _desktop_file_validate(entry: Path) -> None:
    result = subprocess.run([_validator("desktop-file-validate"), str(entry)], capture_output=True, text=True)
    # Hints (advice) would pass with status 0 too; the entry has none, and a new one should be looked at.
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def _appstream(*args: str) -> None:
    result = subprocess.run([_validator("appstreamcli"), *args, "--no-net"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_desktop_entry_passes_desktop_file_validate() -> None:
    _desktop_file_validate(DESKTOP)


def test_the_metainfo_passes_appstreamcli_validate_even_pedantic() -> None:
    _appstream("validate", "--pedantic", str(METAINFO))


def test_the_metainfo_names_the_entry_the_app_sets_and_this_version() -> None:
    component = ET.parse(METAINFO).getroot()
    assert METAINFO.name == f"{component.findtext('id')}.metainfo.xml"
    launchable = component.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    # The window's desktop file name (app.setDesktopFileName("studio")) is how shells match it to the entry.
    assert launchable.text == DESKTOP.name == "studio.desktop"
    releases = [r.get("version") for r in component.iterfind("releases/release")]
    assert releases[:1] == [studio.__version__], "add a <release> for the new version to the metainfo"


def test_every_icon_size_is_rendered_from_the_svg() -> None:
    from PySide6.QtGui import QImage

    for size in install_desktop.ICON_SIZES:
        path = RESOURCES / f"icons/hicolor/{size}x{size}/apps/studio.png"
        image = QImage(str(path))
        assert (image.width(), image.height()) == (size, size), path
        # Transparent corners (the rounded tile) and an opaque middle: the SVG was drawn, not a blank canvas.
        assert image.pixelColor(0, 0).alpha() == 0, path
        assert image.pixelColor(size // 2, size // 2).alpha() == 255, path


def test_the_package_data_ships_every_file_install_desktop_reads() -> None:
    """``pip install .`` copies only what ``[tool.setuptools.package-data]`` names (resources/ is studio.resources)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = patterns["studio.resources"]
    needed = [DESKTOP, METAINFO, RESOURCES / "icons/studio.svg"]
    needed += [RESOURCES / f"icons/hicolor/{n}x{n}/apps/studio.png" for n in install_desktop.ICON_SIZES]
    for path in needed:
        relative = PurePosixPath(path.relative_to(RESOURCES).as_posix())
        assert path.is_file(), relative
        # setuptools globs: a "*" stays within one folder, so the pattern has as many parts as the path.
        matches = [p for p in shipped if relative.match(p) and len(PurePosixPath(p).parts) == len(relative.parts)]
        assert matches, f"{relative} is not in [tool.setuptools.package-data] of pyproject.toml"


def test_the_installed_files_pass_the_validators_together(tmp_path: Path) -> None:
    """The console script, in its own process, installs into a tree that appstreamcli checks as a whole
    (metainfo, the entry it launches, icons); the installed entry itself passes desktop-file-validate."""
    script = Path(sys.executable).with_name("studio")
    if not script.is_file():
        pytest.skip(f"no studio console script beside {sys.executable} (the package is not installed)")
    share = tmp_path / "root" / "usr" / "share"
    env = {**os.environ, "XDG_DATA_HOME": str(share), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([str(script), "install-desktop"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    entry = share / "applications" / "studio.desktop"
    assert f"Exec={script} %U\n" in entry.read_text()
    _desktop_file_validate(entry)
    _appstream("validate", str(share / "metainfo" / METAINFO.name))
    _appstream("validate-tree", str(tmp_path / "root"))
