"""A workspace kind from outside the studio, installed as a plug-in (an entry point) for tests in subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_KIND = """
from studio.core.types import WorkspaceInfo

class DemoBackend:
    def info(self):
        return WorkspaceInfo(name="demo-ws", kind="demo", location="demo://demo-ws")
    def list_experiments(self):
        return []
    def close(self):
        pass

class DemoOpener:
    kind = "demo"
    label = "Demo servers"
    location_form = "demo://name"
    def owns(self, location): return location.startswith("demo://")
    def default_location(self): return None
    def display_name(self, location): return location[7:]
    def is_workspace(self, location): return True
    def is_missing(self, location): return False
    def open(self, location, create=False): return DemoBackend()
"""


def install_demo_kind(folder: Path) -> dict[str, str]:
    """Write the ``demo`` kind (``demo://`` locations) with its entry point into ``folder``.

    Returns the environment variables a subprocess needs to find it.
    """
    (folder / "demo_kind.py").write_text(DEMO_KIND)
    dist = folder / "demo_kind-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-kind\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[studio.workspace_kinds]\ndemo = demo_kind:DemoOpener\n")
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)}
