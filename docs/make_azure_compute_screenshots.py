"""Screenshots of Azure compute in the window: ``python docs/make_azure_compute_screenshots.py`` (needs the test
extra and Azurite: see the README's test command).

Starts the tests' Azure ML emulator (tests/azure_fixtures.py), gives its workspace a team's compute (instances in
several states, one with a stop schedule, one whose setup failed, three clusters), opens the workspace in the real
window offscreen at 1280x800 with the Compute pane tall, starts an instance (its row then reads "Starting… 0:0x")
and writes docs/screenshots/azure-compute.png; then the Submit script dialog on a small project folder with an
``.amlignore``, aimed at the cluster, as docs/screenshots/azure-submit.png. ``--dark`` shoots the dark theme;
``--out DIR`` writes both themes into DIR instead, for a look before committing.

It runs itself under pytest (``-p tests.azure_fixtures``), which starts and stops the emulator's services.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]  # make_screenshots next to this file; tests/ for the emulator
OUT_ENV, THEMES_ENV, THEME_ENV = "STUDIO_AZURE_COMPUTE_OUT", "STUDIO_AZURE_COMPUTE_THEMES", "STUDIO_THEME"
SIZE = (1280, 800)


def fill(service: Any) -> None:
    """A team's compute: instances of several sizes and states, clusters with nodes at work."""
    from tests.azure_emulator.compute import recurrence_schedule

    compute = service.compute
    compute.populate(0, 0)
    compute.operation_s = 600.0  # the start shown stays "Starting…"
    compute.page_size = 100
    compute.add_instance("alice-dev", state="Running", vm_size="Standard_DS3_v2", idle_minutes=60)
    compute.add_instance(
        "alice-gpu",
        state="Stopped",
        vm_size="Standard_NC6s_v3",
        idle_minutes=30,
        schedules=[recurrence_schedule("Stop", 19, 0)],
    )
    compute.add_instance("bob-notebooks", state="JobRunning", vm_size="Standard_E4ds_v4", idle_minutes=120)
    compute.add_instance("carol-ci", state="Stopped", vm_size="Standard_DS2_v2", idle_minutes=None)
    compute.add_instance("setup-test", state="SetupFailed", vm_size="Standard_DS3_v2")
    compute.add_cluster("cpu-cluster", vm_size="Standard_DS3_v2", max_nodes=8, idle=1, running=3)
    compute.add_cluster(
        "gpu-cluster", vm_size="Standard_NC6s_v3", max_nodes=4, running=2, preparing=1, allocation="Resizing"
    )
    compute.add_cluster("spot-cluster", vm_size="Standard_DS2_v2", max_nodes=20)


def project() -> Path:
    """A small training project with data the .amlignore keeps out of the upload."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-resnet-"))
    (folder / "train.py").write_text("import argparse\nprint('training')\n")
    (folder / "model.py").write_text("class Net: ...\n")
    (folder / "utils").mkdir()
    (folder / "utils" / "data.py").write_text("def load(): ...\n")
    (folder / "data").mkdir()
    (folder / "data" / "train.bin").write_bytes(os.urandom(400_000))
    (folder / ".amlignore").write_text("data/\n*.ckpt\n")
    return folder


def shoot(theme: str, service: Any, out: Path) -> None:
    """The window themed, the Compute pane tall, a start in flight; then the Submit dialog."""
    from make_screenshots import pump, wait
    from PySide6.QtCore import Qt

    from studio.core.compute import ComputeState
    from studio.ui.shell.app import create_app
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import kinds

    os.environ[THEME_ENV] = theme
    create_app(["studio"])
    ini = Path(tempfile.mkdtemp()) / "settings.ini"
    window = MainWindow([next(o for o in kinds() if o.kind == "azure")], WindowSettings(str(ini)))
    window.resize(*SIZE)
    window.show()
    window.open_workspace(service.location)
    wait("the workspace", lambda: window.backend is not None)
    pane = window.compute_pane
    pane.show()
    window.resizeDocks([pane], [430], Qt.Orientation.Vertical)
    wait("the compute", lambda: pane.model.row_of("spot-cluster") >= 0)
    pane.table.selectRow(pane.model.row_of("alice-gpu"))
    pane.start_action.trigger()
    wait("Starting…", lambda: pane.model.info(pane.model.row_of("alice-gpu")).state == ComputeState.STARTING)
    pump(2300)  # the elapsed time ticks
    suffix = "" if theme == "light" else "-dark"
    save(window, out / f"azure-compute{suffix}.png", SIZE)
    dialog = window.open_submit_dialog(compute="cpu-cluster")
    assert dialog is not None
    folder = project()
    dialog.form.folder.setText(str(folder))
    dialog.form.experiment.setEditText("mnist-resnet")
    dialog.form.arguments.setText("--epochs 20 --lr 0.01")
    dialog.form.display_name.setText("resnet50 on the cluster")
    dialog.form.tags.setPlainText("team=vision\nmodel=resnet50")
    wait("the upload counted", lambda: "files" in dialog.form.upload_preview.text())
    wait("the environments", lambda: dialog.options is not None and dialog.computes is not None)
    pump(500)
    save(dialog, out / f"azure-submit{suffix}.png", None)
    dialog.reject()
    pane.stop_waiting()
    window.close()
    for thread in threading.enumerate():
        if thread.name == "studio-close-workspace":
            thread.join(timeout=10)


def save(widget: Any, path: Path, size: tuple[int, int] | None) -> None:
    """Write ``widget`` as a PNG (the strongest compression), checking its size when given."""
    image = widget.grab().toImage()
    if size is not None and (image.width(), image.height()) != size:
        raise RuntimeError(f"{path.name}: the window is {image.width()}x{image.height()}, not {size}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path), "PNG", 0):
        raise RuntimeError(f"could not write {path}")
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def test_shoot(azure_env: Any) -> None:
    """The pytest entry (``azure_env`` points this process at the emulator); run by ``main``."""
    out = Path(os.environ.get(OUT_ENV) or HERE / "screenshots")
    fill(azure_env)
    try:
        for theme in os.environ.get(THEMES_ENV, "light").split(","):
            shoot(theme, azure_env, out)
    finally:
        azure_env.compute.finish_operations()


def main(argv: list[str]) -> int:
    """Run ``test_shoot`` under pytest with the emulator's plugin."""
    import pytest

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    home = Path(tempfile.mkdtemp())
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        os.environ[name] = str(home / name.lower())  # no saved account: the fake az signs in
    themes = ["dark"] if "--dark" in argv else ["light"]
    if "--out" in argv:
        os.environ[OUT_ENV] = argv[argv.index("--out") + 1]
        themes = ["light", "dark"]
    os.environ[THEMES_ENV] = ",".join(themes)
    args = [__file__, "-q", "-p", "no:cacheprovider", "-p", "tests.azure_fixtures", "-W", "ignore"]
    return int(pytest.main([*args, "--rootdir", str(ROOT)]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
